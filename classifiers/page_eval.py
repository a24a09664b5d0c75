"""Precision and recall of a recall model on labelled pages (what the run's classifier decides on real
pages, not on its own held-out seed passages).

A page's predicted label is the run's rule (`iterate.select_recalled` without a budget): its best label
when that label's probability reaches the threshold, else `other`. A label's precision is the share of
pages predicted as that label that are labelled so; its recall is the share of the pages labelled so that
were predicted as it. Both are None when undefined (nothing predicted / nothing labelled).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from classifiers.model import OTHER


def predicted_labels(probs: np.ndarray, labels: Sequence[str], threshold: float, eligible: np.ndarray | None = None) -> list[str]:
    """Per page (a row of `probs`, columns in `labels` order): the best label if it reaches the
    threshold, passes its gate (`eligible`, [pages x labels] bools, as the run applies it) and is not
    `other`, else `other`."""
    out = []
    for i, row in enumerate(probs):
        j = int(np.argmax(row))
        ok = labels[j] != OTHER and row[j] >= threshold and (eligible is None or bool(eligible[i, j]))
        out.append(labels[j] if ok else OTHER)
    return out


def per_class(truth: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """{class: {precision, recall, labelled, predicted, correct}} over the pages."""
    out: dict[str, dict[str, Any]] = {}
    for c in classes:
        labelled = sum(1 for t in truth if t == c)
        pred = sum(1 for p in predicted if p == c)
        correct = sum(1 for t, p in zip(truth, predicted) if t == c and p == c)
        out[c] = {"precision": round(correct / pred, 4) if pred else None,
                  "recall": round(correct / labelled, 4) if labelled else None,
                  "labelled": labelled, "predicted": pred, "correct": correct}
    return out


def confusion(truth: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> dict[str, dict[str, int]]:
    """{labelled class: {predicted class: pages}}."""
    return {t: {p: sum(1 for a, b in zip(truth, predicted) if a == t and b == p) for p in classes} for t in classes}
