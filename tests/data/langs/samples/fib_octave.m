1;
# Fibonacci numbers, Octave style.
function r = fib(n)
  if n < 2
    r = n;
  else
    r = fib(n - 1) + fib(n - 2);
  endif
endfunction

for k = 1:10
  printf("%d ", fib(k));
endfor
printf("\n");
