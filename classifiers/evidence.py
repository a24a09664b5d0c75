"""The text's own evidence on top of the classifier's probabilities: which label a page may be recalled
as (docs/recall.md, "The code gate" and "Code or math: the text decides").

fastText reads a page's words; two signals read how the page is written:
- code needs code: a code label needs a share of code-written tokens (`code_signal`) and P(code) of at
  least `min_code_probability`;
- code or math is decided by the words of mathematics (`math_signal`): a page whose best label is code
  but whose share of mathematical words reaches `min_math_words` is taken as math (its P(code) and
  P(math) change places, so its rank in a math budget is the confidence the model had that the page is
  technical); a page recalled as math needs that share too, and a page recalled as code must stay under it.
Every place that selects pages (each iteration's selection, the budget cut, the page evaluation) calls
`apply_evidence` with the same arguments, so they agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classifiers.code_signal import label_gate


def apply_evidence(labels: Sequence[str], probs: np.ndarray, code_tokens: np.ndarray, math_words: np.ndarray | None = None, *,
                   min_code_tokens: float = 0.0, min_code_probability: float = 0.0,
                   min_math_words: float = 0.0) -> tuple[np.ndarray, np.ndarray | None]:
    """(probabilities with code/math exchanged where the math words decide, [pages x labels] bools of
    the labels each page may take, or None for no gate). `min_math_words` 0 (or no math label, or no
    `math_words`) leaves the math evidence out."""
    labels = list(labels)
    probs = np.asarray(probs)
    math_on = min_math_words > 0 and math_words is not None and "math" in labels
    if math_on:
        mathy = np.asarray(math_words, dtype=np.float64) >= min_math_words
        if "code" in labels and len(probs):
            c, m = labels.index("code"), labels.index("math")
            swap = (probs.argmax(axis=1) == c) & mathy
            probs = probs.copy()
            probs[swap, c], probs[swap, m] = probs[swap, m], probs[swap, c]
    eligible = label_gate(labels, probs, code_tokens, min_code_tokens, min_code_probability)
    if not math_on:
        return probs, eligible
    if eligible is None:
        eligible = np.ones((len(probs), len(labels)), dtype=bool)
    eligible[:, labels.index("math")] &= mathy
    if "code" in labels:
        eligible[:, labels.index("code")] &= ~mathy
    return probs, eligible
