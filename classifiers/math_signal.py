"""How much of a page's text is the vocabulary of mathematics: the evidence that tells web recall's math
label from its code label (docs/recall.md, "Code or math: the text decides").

Documentation of mathematical software reads like documentation of a library: function names, calls and
examples. fastText, trained on a few thousand seed passages, gives such pages P(code) 0.6-0.9 (Octave's
and Maxima's pages on linear algebra, sets and polynomials). What their text has and a library's does
not is the words of mathematics: `polynomial`, `eigenvalue`, `integral`, `subgroup`, `hypergeometric`.
`math_word_share` is the share of a page's whitespace-separated tokens (its first MAX_TOKENS, stripped of
surrounding punctuation, case-folded) that are in MATH_WORDS.

MATH_WORDS holds words that name mathematical objects, operations and results and that programming
prose rarely uses. Words that both use were left out, because each would count on the wrong pages:
`group` (users' groups), `field` (a record's), `ring` (a buffer), `set`, `union`, `intersection` and
`constraint` (SQL), `transform` (XSLT), `distribution` (Debian), `root` (a user), `order`, `range`,
`domain`, `vector`, `integer`, `real`, `complex`, `series` (releases), `module`, `class`, `kernel`,
`optimization` (compilers), `limit`, `factor`, `product`, `sum`.
"""

from __future__ import annotations

from classifiers.code_signal import MAX_TOKENS  # the same head of a page as the code signal

MATH_WORDS = frozenset("""
abelian algebra algebraic algebras analytic approximation asymptotic bessel chebyshev coefficient coefficients
convergence convergent converges corollary cosine cubic cyclic cyclotomic definite denominator derivative
derivatives determinant determinants differential differentiation dihedral diverges divisor divisors eigen eigenvalue
eigenvalues eigenvector eigenvectors elliptic equation equations euler exponential factorial factorization fourier
gamma gauss gaussian gcd hermite hermitian homomorphism homomorphisms hyperbolic hypergeometric integral integrals
integrand integration interpolation inverse irrational isomorphic isomorphism jacobi laguerre laplace lattice
lattices lcm legendre lemma logarithm logarithmic logarithms matrices matrix maximize minimize modular monomial
monomials nonlinear norm numerator ode odes orthogonal orthonormal pde permutation permutations polynomial
polynomials prime primes probability proof quadratic quadrature rational regression residue residues riemann sine
singularity subgroup subgroups subset subsets symmetric tangent taylor theorem theorems transpose trigonometric
unitary variance zeta
""".split())
STRIP = ".,;:()[]{}'\"!?"  # punctuation around a word in running text


def math_word_share(text: str) -> float:
    """Share of the first MAX_TOKENS whitespace-separated tokens of `text` that are words of MATH_WORDS
    (0.0 for none)."""
    tokens = text.split(maxsplit=MAX_TOKENS)[:MAX_TOKENS]
    return sum(1 for t in tokens if t.strip(STRIP).lower() in MATH_WORDS) / len(tokens) if tokens else 0.0
