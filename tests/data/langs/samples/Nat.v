Require Import Arith.

Fixpoint double (n : nat) : nat :=
  match n with
  | O => O
  | S m => S (S (double m))
  end.

Lemma double_plus : forall n, double n = n + n.
Proof.
  induction n as [| m IH]; simpl.
  - reflexivity.
  - rewrite IH. rewrite <- plus_n_Sm. reflexivity.
Qed.
