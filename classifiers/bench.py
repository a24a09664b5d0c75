"""Throughput of the recall classifier: training time, scoring pages/s and MB/s (one core).

`bench_scoring(model, lines)` compares the recall stage's scoring path with fastText's native batch
`predict` on the same pretokenized lines (the ratio the stage must keep >= 0.8).
`bench_recall(texts)` trains on the texts (labels: given, or the first half `code` and the rest
`other`; training cost depends on the amount of text, not on what the labels mean) and then scores
all of them. Run `python -m classifiers.bench [FILES...]` (default: the .py and .md/.rst/.txt files
of the running interpreter's site-packages, cut to page-sized chunks, as real text).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from classifiers.model import RecallModel, RecallParams, train_recall_model
from classifiers.text import Pretokenize, fasttext_line, regex_pretokenize


def bench_scoring(model: RecallModel, lines: list[str], labels: Sequence[str] | None = None, repeats: int = 3) -> dict[str, Any]:
    """The stage's scoring path (`RecallModel.score_lines`: one native batch call, then a
    probability matrix) against fastText's own batch `model.predict(lines, k=-1)` on the same
    pretokenized lines; best of `repeats` each, interleaved so machine load hits both alike."""
    if not lines:
        raise ValueError("no lines to score")
    native, ours = [], []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        model.ft.predict(lines, k=-1)
        native.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        model.score_lines(lines, labels)
        ours.append(time.perf_counter() - t0)
    mb = sum(len(ln.encode("utf-8", "surrogatepass")) for ln in lines) / 1e6
    return {
        "lines": len(lines),
        "line_mb": round(mb, 3),
        "native_predict_seconds": round(min(native), 4),
        "score_lines_seconds": round(min(ours), 4),
        "native_lines_per_s": round(len(lines) / min(native), 1),
        "score_lines_per_s": round(len(lines) / min(ours), 1),
        "ratio": round(min(native) / min(ours), 3),  # ours / native throughput
    }


def bench_recall(
    texts: Sequence[str],
    labels: Sequence[str] | None = None,
    params: RecallParams | None = None,
    pretokenize: Pretokenize | None = None,
) -> dict[str, Any]:
    params = params or RecallParams()
    pretokenize = pretokenize or regex_pretokenize
    if labels is None:
        half = len(texts) // 2
        labels = ["code"] * half + ["other"] * (len(texts) - half)
    n_bytes = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        model = train_recall_model(list(zip(texts, labels)), params, tmp, pretokenize)
        train_s = time.perf_counter() - t0
        path = Path(tmp) / "model.bin"
        model.save(path)
        size = path.stat().st_size
        t0 = time.perf_counter()
        loaded = RecallModel.load(path, params, pretokenize)
        load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    lines = [fasttext_line(pretokenize(t), params.max_tokens) for t in texts]
    tok_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    loaded.predict_lines(lines)
    predict_s = time.perf_counter() - t0
    score_s = tok_s + predict_s
    scoring = bench_scoring(loaded, lines)
    return {
        "pages": len(texts),
        "mb": round(n_bytes / 1e6, 3),
        "params": params.to_json(),
        "train_seconds": round(train_s, 3),
        "train_info": model.info.to_json(),
        "model_bytes": size,
        "load_seconds": round(load_s, 3),
        "pretokenize_seconds": round(tok_s, 3),
        "predict_seconds": round(predict_s, 3),
        "score_pages_per_s": round(len(texts) / score_s, 1) if score_s else None,
        "score_mb_per_s": round(n_bytes / 1e6 / score_s, 3) if score_s else None,
        "scoring_vs_native_predict": scoring,
    }


def _default_texts(limit: int, chunk_chars: int = 4000) -> list[str]:
    import pyarrow

    site = Path(pyarrow.__file__).resolve().parents[1]
    texts: list[str] = []
    for pattern in ("**/*.md", "**/*.rst", "**/*.txt", "**/*.py"):
        for p in sorted(site.glob(pattern)):
            try:
                text = p.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            texts.extend(text[i : i + chunk_chars] for i in range(0, len(text), chunk_chars) if text[i : i + chunk_chars].strip())
            if len(texts) >= limit:
                return texts[:limit]
    return texts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m classifiers.bench", description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", help="text files, one page each (default: site-packages text, 4 kB chunks)")
    ap.add_argument("--limit", type=int, default=5000, help="pages (default 5000)")
    ap.add_argument("--bucket", type=int, default=RecallParams.bucket)
    ap.add_argument("--dim", type=int, default=RecallParams.dim)
    args = ap.parse_args(argv)
    if args.files:
        texts = [Path(f).read_text(encoding="utf-8", errors="replace") for f in args.files][: args.limit]
    else:
        texts = _default_texts(args.limit)
    if len(texts) < 2:
        print("need at least 2 texts", file=sys.stderr)
        return 2
    print(json.dumps(bench_recall(texts, params=RecallParams(bucket=args.bucket, dim=args.dim)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
