"""The recall classifier: one multi-class fastText model over `code`, `math` and `other`.

Hyper-parameters are DeepSeekMath's (§2.1): dim 256, lr 0.1, wordNgrams 3, minCount 3, epoch 3; the
rest are fastText defaults except `bucket` (hashed word-n-gram rows). The model holds
(vocabulary + bucket) x dim float32: fastText's default 2,000,000 buckets x 256 is 2 GB by itself,
so bucket is a parameter, default 100,000 (~100 MB plus the vocabulary's rows; measured 258 MB for
a 51k-word vocabulary at 200,000). `thread` defaults to 1 so a retrain gives the same model
(fastText trains Hogwild when threads > 1).

One multi-class model instead of one binary model per domain: a single pass scores a page for every
domain, and the softmax makes "code", "math" and "other" compete for the page, which is what the
single-valued `domain` column needs.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass as pydantic_dataclass

from classifiers.text import Pretokenize, fasttext_line, regex_pretokenize

log = logging.getLogger("classifiers")

OTHER = "other"
NAN_RETRIES = 3  # halvings of lr after fastText diverges
LABEL_PREFIX = "__label__"


class RecallDataError(ValueError):
    """The training examples cannot make a classifier (no positives, no negatives, no vocabulary)."""


DEFAULT_SEED = 1234


@pydantic_dataclass(config=ConfigDict(extra="forbid"))
class RecallParams:
    """fastText's hyper-parameters (DeepSeekMath's; bucket and thread are this project's, see docs/recall.md).
    The pipeline's `stages.recall.fasttext` is this class: pydantic validates it and rejects unknown keys."""

    dim: int = Field(256, gt=0)
    lr: float = Field(0.1, gt=0)
    word_ngrams: int = Field(3, gt=0)
    min_count: int = Field(3, gt=0)
    epoch: int = Field(3, gt=0)
    bucket: int = Field(100_000, gt=0, description="hashed n-gram rows; model size ~ bucket x dim x 4 bytes")
    thread: int = Field(1, gt=0, description="fastText threads per training task (its CPUs); 1 = the same model on "
                        "every rerun (measured: 2 threads are not reproducible)")
    seed: int | None = Field(None, description=f"fastText's seed and the sampling seed; None: {DEFAULT_SEED} here, "
                             "the run's seed in the pipeline")
    max_tokens: int = Field(4096, gt=0, description="tokens of a page given to fastText (the head of long pages decides)")
    # With too little text no token reaches min_count and fastText trains an empty-vocabulary model
    # that predicts a constant. Then retrain with min_count 1 (recorded as `min_count_used`), or
    # raise RecallDataError when this is False.
    min_count_fallback: bool = Field(True, description="retrain with min_count 1 when no token reaches min_count")
    max_examples_per_label: int = Field(500_000, gt=0, description="DeepSeekMath: 500k positives and 500k negatives")
    # Labels are balanced (see _balanced): a small label is repeated at most this many times and
    # bigger labels are sampled down to match, so no label wins by its softmax prior alone.
    max_repeat: int = Field(10, ge=1, description="max copies of a minority label's examples when balancing")
    # Labels with >= 20 lines (at most 1,000 held out): a model at chance there is reported as degenerate
    # (classifiers.quality).
    holdout: float = Field(0.1, ge=0, lt=1, description="share of each label's examples kept out of training to "
                           "check held-out accuracy")

    @property
    def rng_seed(self) -> int:
        return DEFAULT_SEED if self.seed is None else self.seed

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainInfo:
    examples: dict[str, int] = field(default_factory=dict)  # per label, before repetition
    lines: int = 0  # training lines written (after repetition)
    vocabulary: int = 0
    min_count_used: int = 0
    lr_used: float = 0.0
    seconds: float = 0.0
    heldout: dict[str, Any] = field(default_factory=dict)  # classifiers.quality.heldout_report

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class RecallModel:
    """A trained fastText model plus the pretokenizer its inputs must go through."""

    def __init__(self, ft: Any, params: RecallParams, pretokenize: Pretokenize | None = None, info: TrainInfo | None = None) -> None:
        self.ft = ft
        self.params = params
        self.pretokenize = pretokenize or regex_pretokenize
        self.info = info or TrainInfo()
        self.labels = [lab[len(LABEL_PREFIX) :] for lab in ft.labels]

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """Best label and its probability for each text."""
        return [max(p.items(), key=lambda kv: kv[1]) for p in self.predict_proba(texts)]

    def predict_proba(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Probability of every label for each text (empty texts get the model's prior)."""
        lines = [fasttext_line(self.pretokenize(t), self.params.max_tokens) for t in texts]
        return self.predict_lines(lines)

    def predict_lines(self, lines: list[str]) -> list[dict[str, float]]:
        """Probability of every label for each pretokenized line."""
        probs = self.score_lines(lines)
        return [{lab: float(p) for lab, p in zip(self.labels, row)} for row in probs.tolist()]

    def score_lines(self, lines: list[str], labels: Sequence[str] | None = None) -> np.ndarray:
        """Probabilities [lines x labels] (columns in `labels` order, default the model's) of
        pretokenized lines, with one native batch call (fastText's multilinePredict): the per-line
        Python work is a column lookup, so this runs at fastText's own batch speed."""
        labels = list(labels or self.labels)
        out = np.zeros((len(lines), len(labels)), dtype=np.float32)
        if not lines:
            return out
        column = {LABEL_PREFIX + lab: j for j, lab in enumerate(labels)}
        all_labels, all_probs = self.ft.f.multilinePredict([ln + "\n" for ln in lines], -1, 0.0, "strict")
        # Rows come sorted by probability, so their label order is one of a few permutations: group
        # rows by permutation and copy each group with one vectorised assignment.
        perms: dict[tuple[str, ...], int] = {}
        perm_of = np.fromiter((perms.setdefault(tuple(labs), len(perms)) for labs in all_labels), dtype=np.int64, count=len(lines))
        width = {len(labs) for labs in perms}
        if len(width) == 1 and next(iter(width)) > 0:
            stacked = np.vstack(all_probs)
            for labs, k in perms.items():
                rows = np.nonzero(perm_of == k)[0]
                for src, lab in enumerate(labs):
                    j = column.get(lab)
                    if j is not None:
                        out[rows, j] = stacked[rows, src]
        else:
            for i, (labs, ps) in enumerate(zip(all_labels, all_probs)):
                for lab, p in zip(labs, ps):
                    j = column.get(lab)
                    if j is not None:
                        out[i, j] = p
        # fastText's softmax output can exceed 1 by ~1e-5; clamp so scores are probabilities.
        np.clip(out, 0.0, 1.0, out=out)
        return out

    def save(self, path: str | os.PathLike) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        self.ft.save_model(str(tmp))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike, params: RecallParams | None = None, pretokenize: Pretokenize | None = None) -> RecallModel:
        import fasttext

        return cls(fasttext.load_model(str(path)), params or RecallParams(), pretokenize)


def _balanced(by_label: dict[str, list[str]], params: RecallParams, rng: random.Random) -> list[tuple[str, str]]:
    """Equal examples per label, as DeepSeekMath's 500k/500k: every label gets
    min(largest, max_repeat x smallest, max_examples_per_label) lines, by sampling the big labels
    down and repeating the small ones (whole copies plus a sampled remainder)."""
    sizes = [len(v) for v in by_label.values()]
    target = min(max(sizes), max(1, params.max_repeat) * min(sizes), params.max_examples_per_label)
    rows: list[tuple[str, str]] = []
    for label, lines in by_label.items():
        if len(lines) >= target:
            chosen = rng.sample(lines, target)
        else:
            reps, rest = divmod(target, len(lines))
            chosen = lines * reps + rng.sample(lines, rest)
        rows.extend((label, line) for line in chosen)
    rng.shuffle(rows)
    return rows


def _vocabulary(lines: Iterable[str], min_count: int) -> int:
    counts = Counter(tok for line in lines for tok in line.split())
    return sum(1 for n in counts.values() if n >= min_count)


# Runs in a fresh interpreter that imports nothing but fasttext (not the caller's __main__, unlike
# multiprocessing's spawn, which re-runs an unguarded script).
_FIT_SCRIPT = """
import json, sys
import fasttext
args = json.loads(sys.argv[1])
try:
    fasttext.train_supervised(input=args["input"], **args["kwargs"]).save_model(args["output"])
except RuntimeError as exc:
    sys.stderr.write("fasttext-error: %s" % exc)
    sys.exit(3)
"""


def _fit(train_path: str, kwargs: dict[str, Any], model_path: str) -> str | None:
    """Train in a separate, fresh Python process; returns fastText's error message or None.

    Why: measured, after trafilatura had extracted some pages (pywb's iana.org WARC) in the same
    process, fastText 0.9.2 training raised "Encountered NaN" at every lr on data and settings that
    train cleanly in a fresh process (prediction was unaffected)."""
    import json
    import subprocess
    import sys

    payload = json.dumps({"input": train_path, "kwargs": kwargs, "output": model_path})
    proc = subprocess.run([sys.executable, "-c", _FIT_SCRIPT, payload], capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    err = proc.stderr.strip()
    marker = err.rfind("fasttext-error: ")
    if marker >= 0:
        return err[marker + len("fasttext-error: ") :]
    raise RuntimeError(f"fastText training process failed (exit {proc.returncode}): {err[-2000:]}")


def example_lines(examples: Iterable[tuple[str, str]], params: RecallParams, pretokenize: Pretokenize | None = None) -> dict[str, list[str]]:
    """fastText lines per label of (text, label) pairs; texts that tokenize to nothing are skipped."""
    pretokenize = pretokenize or regex_pretokenize
    by_label: dict[str, list[str]] = {}
    for text, label in examples:
        check_label(label)
        line = fasttext_line(pretokenize(text), params.max_tokens)
        if line:
            by_label.setdefault(label, []).append(line)
    return by_label


def check_label(label: str) -> None:
    if not label or any(c.isspace() for c in label):
        raise RecallDataError(f"bad label {label!r}: labels are single words such as code, math, other")


def train_recall_model(
    examples: Iterable[tuple[str, str]],
    params: RecallParams | None = None,
    workdir: str | os.PathLike | None = None,
    pretokenize: Pretokenize | None = None,
) -> RecallModel:
    """Train on (text, label) pairs; labels are domain names, the negatives' label is `other`.

    Needs at least one positive label and `other` examples. Texts that tokenize to nothing are skipped.
    """
    params = params or RecallParams()
    pretokenize = pretokenize or regex_pretokenize
    started = time.time()
    model = train_on_lines(example_lines(examples, params, pretokenize), params, workdir)
    model.pretokenize = pretokenize
    model.info.seconds = round(time.time() - started, 3)
    return model


def train_on_lines(by_label: dict[str, list[str]], params: RecallParams | None = None, workdir: str | os.PathLike | None = None) -> RecallModel:
    """Train on fastText lines (already pretokenized, see `fasttext_line`) grouped by label.

    The lines of each label are taken in the given order (balancing samples them with the params'
    seed), so the same lists give the same model."""
    import fasttext

    params = params or RecallParams()
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / "model.bin"
        info = train_to_file(by_label, path, params)
        ft = fasttext.load_model(str(path))
    return RecallModel(ft, params, None, info)


def train_to_file(by_label: dict[str, list[str]], model_path: str | os.PathLike, params: RecallParams | None = None) -> TrainInfo:
    """`train_on_lines` that leaves the model in a file and never loads it here (a training task
    only has to ship the file)."""
    params = params or RecallParams()
    started = time.time()
    by_label = {k: [ln for ln in v if ln] for k, v in by_label.items()}
    by_label = {k: v for k, v in by_label.items() if v}
    for label in by_label:
        check_label(label)
    if OTHER not in by_label:
        raise RecallDataError("no negative ('other') examples with text")
    if len(by_label) < 2:
        raise RecallDataError("no positive examples with text (need at least one label besides 'other')")
    from classifiers.quality import split_holdout  # deferred: kept out of corpus --help

    by_label, held = split_holdout(by_label, params.holdout, params.rng_seed)
    rng = random.Random(params.rng_seed)
    rows = _balanced({k: by_label[k] for k in sorted(by_label)}, params, rng)
    min_count = params.min_count
    vocab = _vocabulary((line for _, line in rows), min_count)
    if vocab == 0:
        if not params.min_count_fallback:
            raise RecallDataError(f"no token occurs {min_count} times in the training text; add data or lower min_count")
        log.warning("recall: no token reaches min_count=%d in %d examples; training with min_count=1", min_count, len(rows))
        min_count = 1
        vocab = _vocabulary((line for _, line in rows), 1)
    with tempfile.TemporaryDirectory(dir=Path(model_path).parent) as tmp:
        train_path = Path(tmp) / "train.txt"
        with open(train_path, "w", encoding="utf-8") as fh:
            for label, line in rows:
                fh.write(f"{LABEL_PREFIX}{label} {line}\n")
        lr = params.lr
        for attempt in range(NAN_RETRIES + 1):
            kwargs = dict(
                dim=params.dim, lr=lr, wordNgrams=params.word_ngrams, minCount=min_count, epoch=params.epoch,
                bucket=params.bucket, thread=params.thread, seed=params.rng_seed, verbose=0,
            )
            error = _fit(str(train_path), kwargs, str(model_path))
            if error is None:
                break
            # fastText raises "Encountered NaN" when SGD diverges; its authors' advice is a lower lr.
            if "NaN" not in error or attempt == NAN_RETRIES:
                raise RecallDataError(f"fastText training failed at lr={lr:g}: {error}")
            log.warning("recall: fastText diverged at lr=%g; retrying with lr=%g", lr, lr / 2)
            lr /= 2
    return TrainInfo(
        examples={k: len(v) + len(held.get(k, ())) for k, v in sorted(by_label.items())},
        lines=len(rows),
        vocabulary=vocab,
        min_count_used=min_count,
        lr_used=lr,
        seconds=round(time.time() - started, 3),
        heldout=_evaluate(model_path, held, sorted(by_label)),
    )


def _evaluate(model_path: str | os.PathLike, held: dict[str, list[str]], labels: list[str]) -> dict[str, Any]:
    """The model's held-out report (prediction in this process is safe: only training was hit by the
    trafilatura NaN trap)."""
    from classifiers.quality import heldout_report  # deferred: kept out of corpus --help

    if not held:
        return {"examples": 0}
    import fasttext

    model = RecallModel(fasttext.load_model(str(model_path)), RecallParams())
    lines = [ln for lab in labels for ln in held.get(lab, ())]
    truth = [j for j, lab in enumerate(labels) for _ in held.get(lab, ())]
    return heldout_report(model.score_lines(lines, labels), truth, labels)
