:- module queue.
:- interface.
:- import_module list.

:- type queue(T) ---> queue(list(T), list(T)).

:- func empty = queue(T).
:- pred put(T::in, queue(T)::in, queue(T)::out) is det.

:- implementation.

empty = queue([], []).
put(X, queue(F, B), queue(F, [X | B])).
