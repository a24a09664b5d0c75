"""What web recall (stage.py) and GitHub recall (github.py) share: pretokenizing, seed loading, fold models
cached per worker, and the degenerate-classifier check."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from classifiers import OTHER, RecallModel, fasttext_line, load_seeds, regex_pretokenize
from classifiers.text import WhitespaceNormalized
from corpus import storage

log = logging.getLogger("corpus")


class BPEPretokenize:
    """Token strings of a `tokenizers` tokenizer.json (DeepSeek used its DeepSeek-V2 BPE). Picklable:
    the tokenizer is loaded lazily in each worker."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._tok = None

    def __getstate__(self) -> dict:
        return {"path": self.path, "_tok": None}

    def __call__(self, text: str) -> list[str]:
        if self._tok is None:
            from tokenizers import Tokenizer

            self._tok = Tokenizer.from_file(self.path)
        return self._tok.encode(text, add_special_tokens=False).tokens


def make_pretokenize(path: str | None):
    """The stage's one pretokenizer (seeds, code text, pages, evaluation): whitespace-normalised text, so a
    re-wrapped seed or page gives the same fastText line."""
    return WhitespaceNormalized(BPEPretokenize(path) if path else regex_pretokenize)


def seed_task(paths: list[str], pretok_path: str | None, max_tokens: int, lines_uri: str, urls_uri: str,
              math: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load and pretokenize the seed files once; the seed URLs (first positive label) for the index."""
    pretokenize = make_pretokenize(pretok_path)
    labels, lines, report, counts = [], [], {}, {}
    url_label: dict[str, str | None] = {}
    for path in paths:
        loaded = load_seeds(path, {"code", "math", "other"})
        per: dict[str, int] = {}
        for text, lab, url in loaded.seeds:
            labels.append(lab)
            lines.append(fasttext_line(pretokenize(text), max_tokens))
            per[lab] = per.get(lab, 0) + 1
            counts[lab] = counts.get(lab, 0) + 1
            if url:
                if url_label.get(url) is None and lab != OTHER:
                    url_label[url] = lab  # the first positive seed of a URL decides its label
                else:
                    url_label.setdefault(url, None)
        report[path] = {"labels": per, "skipped": loaded.skipped}
    math_report = None
    if math and math["modules"] and math["wanted"]:
        from corpus.stages.recall.math_seeds import math_text_seeds  # deferred: kept out of corpus --help

        pieces, math_report = math_text_seeds(math["modules"], math["wanted"], math["min_words"], math["salt"])
        labels += ["math"] * len(pieces)
        lines += [fasttext_line(pretokenize(p), max_tokens) for p in pieces]
        if pieces:
            counts["math"] = counts.get("math", 0) + len(pieces)
    storage.write_table(lines_uri, pa.table({"label": labels, "line": pa.array(lines, pa.large_string())}))
    urls = pa.table({"url": list(url_label), "label": list(url_label.values())}, schema=pa.schema([("url", pa.string()), ("label", pa.string())]))
    storage.write_table(urls_uri, urls)
    return {"files": report, "math_text": math_report, "counts": counts, "urls": [urls_uri, table_digest(urls)]}


def table_digest(table: pa.Table) -> str:
    """Content digest of a small table, so per-process caches are keyed by content, not by name."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:16]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:  # a local temporary file of this task, not an output location
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_MODELS: dict[tuple[str, str], Any] = {}
_MODELS_KEPT = 4  # one iteration's fold models (and the final one)


def load_model(uri: str, digest: str):
    """Each fold model is loaded once per worker process (cached by file identity: URI and sha256),
    not once per part."""
    model = _MODELS.get((uri, digest))
    if model is None:
        with storage.local_copy(uri) as path:
            model = RecallModel.load(path)
        while len(_MODELS) >= _MODELS_KEPT:
            _MODELS.pop(next(iter(_MODELS)))
        _MODELS[(uri, digest)] = model
    return model


def score_spread(scored: list[dict[str, Any]]) -> float | None:
    """Largest (max - min) of any label's probability over every scored document (per-part extremes)."""
    mins = [s["p_min"] for s in scored if s.get("p_min") is not None]
    if not mins:
        return None
    maxs = [s["p_max"] for s in scored if s.get("p_max") is not None]
    return round(float((np.max(maxs, axis=0) - np.min(mins, axis=0)).max()), 5)


def check_degenerate(entry: dict[str, Any], trained: list[dict[str, Any]], what: str, seeds_key: str = "stages.recall.seeds") -> None:
    """Mark an iteration whose classifier is degenerate (report + a warning on stderr), so a run that
    recalls nothing says why instead of doing so silently."""
    from classifiers.quality import LIKELY_CAUSE, degenerate_reasons  # deferred: kept out of corpus --help

    scored = sum(entry.get("scored", {}).values()) if isinstance(entry.get("scored"), dict) else entry.get("scored", 0)
    reasons = []
    for t in trained:
        for r in degenerate_reasons(t["info"].get("heldout"), None, 0):
            reasons.append(f"model {t['name']}: {r}")
    reasons += degenerate_reasons(None, entry.get("score_spread"), scored)
    if reasons:
        entry["degenerate"] = {"model": what, "reasons": reasons, "likely_cause": LIKELY_CAUSE.format(seeds=seeds_key)}


def warn_degenerate(report: dict[str, Any], entry: dict[str, Any]) -> None:
    """On stderr (logger corpus) and in the report's `warnings`; also when the iteration was resumed."""
    d = entry.get("degenerate")
    if d:
        report.setdefault("warnings", []).append({"iteration": entry["iteration"], **d})
        log.warning("%s iteration %d: the classifier is degenerate (%s); likely cause: %s", d["model"], entry["iteration"], "; ".join(d["reasons"]), d["likely_cause"])
