structure Queue :> sig
  type 'a t
  val empty : 'a t
  val push : 'a * 'a t -> 'a t
end = struct
  type 'a t = 'a list * 'a list
  val empty = ([], [])
  fun push (x, (f, b)) = (f, x :: b)
end
