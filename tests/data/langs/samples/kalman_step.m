function [x, P] = kalman_step(x, P, z, A, H, Q, R)
% KALMAN_STEP one predict/update step of a linear Kalman filter.
%   x, P : state estimate and covariance
%   z    : measurement
x = A * x;
P = A * P * A' + Q;
S = H * P * H' + R;
K = P * H' / S;
x = x + K * (z - H * x);
P = (eye(size(P)) - K * H) * P;
end
