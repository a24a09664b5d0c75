"""Is a trained recall classifier degenerate? Two symptoms, both seen with too few seeds:

- held-out accuracy at chance: the model predicts about as well as a constant (balanced accuracy, the
  mean per-label recall, at most `1 / labels + margin` on examples kept out of training);
- every page scored the same: the spread (max - min) of every label's probability over the scored
  pages is below `min_spread` (measured: the default run at DeepSeekMath's lr 0.1 / epoch 3 with a few
  hundred seed passages scored every page 0.333 for each of three labels).

A degenerate model recalls nothing (or everything) for no reason of the data; the stage says so on
stderr and in its report instead of silently recalling nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xxhash

CHANCE_MARGIN = 0.05
MIN_SPREAD = 0.01
LIKELY_CAUSE = ("too few seeds for the fastText settings: add seed texts ({seeds}), or, at demo scale only, "
                "raise fasttext.lr / fasttext.epoch")


def split_holdout(by_label: dict[str, list[str]], fraction: float, seed: int, min_label: int = 20,
                  cap: int = 1000) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(train, held out): per label, the lines with the smallest hash keys of (seed, line), `fraction`
    of them and at most `cap`; labels with fewer than `min_label` lines give none (they need all)."""
    train: dict[str, list[str]] = {}
    held: dict[str, list[str]] = {}
    for label, lines in by_label.items():
        k = min(cap, int(len(lines) * fraction)) if len(lines) >= min_label and fraction > 0 else 0
        if k == 0:
            train[label] = lines
            continue
        keys = np.fromiter((xxhash.xxh64_intdigest(f"{seed}\0{line}") for line in lines), dtype=np.uint64, count=len(lines))
        out = np.zeros(len(lines), dtype=bool)
        out[np.argsort(keys, kind="stable")[:k]] = True
        train[label] = [ln for ln, o in zip(lines, out) if not o]
        held[label] = [ln for ln, o in zip(lines, out) if o]
    return train, held


def heldout_report(probs: np.ndarray, truth: Sequence[int], labels: Sequence[str]) -> dict[str, Any]:
    """Balanced accuracy, chance level and probability spread of a model on held-out lines."""
    truth = np.asarray(truth, dtype=np.int64)
    if len(truth) == 0:
        return {"examples": 0}
    pred = probs.argmax(axis=1)
    per = {labels[j]: round(float((pred[truth == j] == j).mean()), 4) for j in sorted(set(truth.tolist()))}
    # Precision: of the held-out lines given label j, the share that are j (what recall's kept pages
    # are judged by); labels the model never predicted have none.
    precision = {labels[j]: round(float((truth[pred == j] == j).mean()), 4) for j in sorted(set(pred.tolist()))}
    return {"examples": int(len(truth)), "per_label_accuracy": per, "per_label_precision": precision,
            "balanced_accuracy": round(float(np.mean(list(per.values()))), 4),
            "chance": round(1.0 / len(labels), 4), "spread": round(float((probs.max(axis=0) - probs.min(axis=0)).max()), 5)}


def degenerate_reasons(heldout: dict[str, Any] | None, spread: float | None, scored: int) -> list[str]:
    """Why a model is degenerate ([] when it is not): held-out accuracy at chance (needs held-out
    examples of at least two labels), or every scored page given the same probabilities."""
    reasons = []
    if heldout and heldout.get("examples", 0) >= 2 and heldout["spread"] < MIN_SPREAD:
        # Ties: the argmax (and so the accuracy) of equal probabilities is arbitrary.
        reasons.append(f"all {heldout['examples']} held-out examples got the same probabilities (spread {heldout['spread']:.5f} < {MIN_SPREAD})")
    elif heldout and heldout.get("examples") and len(heldout.get("per_label_accuracy", {})) >= 2:
        if heldout["balanced_accuracy"] <= heldout["chance"] + CHANCE_MARGIN:
            reasons.append(f"held-out balanced accuracy {heldout['balanced_accuracy']:.3f} is at chance ({heldout['chance']:.3f}) "
                           f"on {heldout['examples']} examples")
    if spread is not None and scored >= 2 and spread < MIN_SPREAD:
        reasons.append(f"every one of the {scored} scored documents got the same probabilities (spread {spread:.5f} < {MIN_SPREAD})")
    return reasons
