module stats
  implicit none
contains
  pure function mean(x) result(m)
    real, intent(in) :: x(:)
    real :: m
    m = sum(x) / size(x)
  end function mean
end module stats
