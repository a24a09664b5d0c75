% Plot a noisy sine wave and its moving average.
t = linspace(0, 2*pi, 500);
y = sin(t) + 0.1 * randn(size(t));
w = 15;
ya = filter(ones(1, w) / w, 1, y);
figure;
plot(t, y, '.', t, ya, '-');
legend('noisy', 'moving average');
title('Signal');
