"""Measurements: index build time, scan throughput (MB/s on one core), false positives on clean code,
recall of planted copies, and datatrove's n-gram decontamination on the same input.

    python -m decont.bench [--benchmarks SPEC | --shared DIR] [--sample DIR] [--limit-mb 40] [--json OUT]

datatrove's `NGramsDecontIndexer` needs lighteval and downloads tasks from the Hub, so it cannot run
offline; its `NGramsDecontFilter` only reads `<task>.index.hashes` files of uint64 xxhash64 values of
space-joined n-grams of `simplify_text` output. `datatrove_index` writes those files itself with
datatrove's own normalisation, tokenisation and hash functions, so its filter runs on the same texts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from decont.benchmarks import Benchmark, BenchmarkSpec, load_benchmark, load_benchmarks, parse_benchmark_specs
from decont.index import DecontConfig, DecontIndex, build_index
from decont.normalize import CODE_FIELDS, build_normalized_index, normalize_code
from decont.paraphrase import paraphrase_python

FILES = {"humaneval": "HumanEval.jsonl.gz", "mbpp": "mbpp.jsonl", "gsm8k": "gsm8k_test.jsonl", "math": "math_test.jsonl"}


def read_sample(root: str | Path, suffix: str = ".py", limit_bytes: int | None = None) -> list[tuple[str, str]]:
    """(path, text) of the UTF-8 files under root with the suffix, in sorted order, up to limit_bytes."""
    out: list[tuple[str, str]] = []
    total = 0
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if not name.endswith(suffix):
                continue
            p = Path(dirpath) / name
            try:
                text = p.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            out.append((p.relative_to(root).as_posix(), text))
            total += len(text.encode("utf-8", "surrogatepass"))
            if limit_bytes and total >= limit_bytes:
                return out
    return out


def _mb(texts: Iterable[str]) -> float:
    return sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) / 1e6


def _rates(mb: float, times: list[float]) -> dict[str, Any]:
    """Best and median of repeated runs: the machine is shared, the best run is the least disturbed."""
    times = sorted(times)
    med = times[len(times) // 2]
    return {"seconds": round(times[0], 3), "runs": len(times), "mb_per_s": round(mb / times[0], 2), "mb_per_s_median": round(mb / med, 2)}


def scan_throughput(index: DecontIndex, texts: list[str], repeat: int = 3) -> dict[str, Any]:
    times, flagged = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        flagged = sum(1 for t in texts if index.match(t))
        times.append(time.perf_counter() - t0)
    mb = _mb(texts)
    return {"docs": len(texts), "mb": round(mb, 2), "flagged": flagged, **_rates(mb, times)}


def false_positives(index: DecontIndex, sample: list[tuple[str, str]]) -> dict[str, Any]:
    """Documents of a clean sample that the index flags, with what matched."""
    flagged = []
    for path, text in sample:
        hits = index.match(text)
        if hits:
            flagged.append({"path": path, "hits": [{"benchmark": h.benchmark, "item": h.item, "field": h.field, "ngram": h.ngram[:120]} for h in hits[:3]]})
    n = len(sample)
    return {"files": n, "flagged": len(flagged), "rate": round(len(flagged) / n, 6) if n else None, "examples": flagged}


def planted_recall(index: DecontIndex, benches: list[Benchmark]) -> dict[str, Any]:
    """Share of items caught when the whole problem, or one field alone, is planted in a clean file."""
    head = "# helpers\nimport os\n\n\ndef helper(p):\n    return os.path.basename(p)\n\n"
    out: dict[str, Any] = {}
    for b in benches:
        whole = 0
        per_field: dict[str, list[int]] = {}
        for it in b.items:
            body = "\n".join(u for us in it.fields.values() for u in us)
            whole += any(h.benchmark == b.name and h.item == it.id for h in index.match(head + body))
            for fld, units in it.fields.items():
                got = any(h.benchmark == b.name and h.item == it.id for h in index.match(head + "\n".join(units)))
                per_field.setdefault(fld, [0, 0])
                per_field[fld][0] += got
                per_field[fld][1] += 1
        out[b.name] = {"items": len(b), "whole_problem": whole, "fields_alone": {f: f"{a}/{n}" for f, (a, n) in per_field.items()}}
    return out


def compare_rules(
    benches: list[Benchmark],
    sample: list[tuple[str, str]],
    rules: tuple[str, ...] = ("literal", "guarded"),
    examples: int = 40,
) -> dict[str, Any]:
    """Both rules on the same benchmarks and the same clean sample: keys indexed, build time, recall of
    planted copies (whole problem, each field alone) and false positives on the clean files (with the
    flagged paths and matched n-grams, so they can be checked by hand)."""
    out: dict[str, Any] = {"sample": {"files": len(sample), "mb": round(_mb(t for _, t in sample), 1)}, "rules": {}}
    for rule in rules:
        t0 = time.perf_counter()
        index = build_index(benches, DecontConfig(rule=rule))
        build = time.perf_counter() - t0
        recall = planted_recall(index, benches)
        t1 = time.perf_counter()
        fp = false_positives(index, sample)
        scan = time.perf_counter() - t1
        out["rules"][rule] = {
            "keys": int(len(index.keys)),
            "keys_by_benchmark": {n: st.keys for n, st in index.stats.items()},
            "memory_mb": round(index.nbytes / 1e6, 1),
            "build_seconds": round(build, 3),
            "recall": recall,
            "false_positives": {
                "files": fp["files"],
                "flagged": fp["flagged"],
                "rate": fp["rate"],
                "scan_seconds": round(scan, 2),
                "examples": fp["examples"][:examples],
            },
        }
    return out


# ---------------------------------------------------------------- datatrove


def datatrove_index(benches: list[Benchmark], folder: str | Path, n: int) -> dict[str, int]:
    """Write datatrove's `<task>.index.hashes` files (uint64 xxhash64 of n-grams) for our benchmarks."""
    import numpy as np
    from datatrove.utils.hashing import HashConfig, create_hash_func
    from datatrove.utils.text import TextNormConfig, ngrams, simplify_text

    norm, hash_cfg = TextNormConfig(), HashConfig()
    hash_func = create_hash_func(hash_cfg)
    sizes = {}
    for b in benches:
        hashes: set[int] = set()
        for it in b.items:
            for units in it.fields.values():
                for u in units:
                    toks = simplify_text(u, norm).split()
                    hashes.update(hash_func(" ".join(g)) for g in ngrams(toks, n))
        arr = np.array(sorted(hashes), dtype=hash_cfg.np_descr)
        with open(Path(folder) / f"{b.name}.index.hashes", "wb") as fh:
            arr.tofile(fh)
        sizes[b.name] = len(arr)
    return sizes


def _space_tokenizer():
    from datatrove.utils.word_tokenizers import WordTokenizer

    class SpaceTokenizer(WordTokenizer):
        """simplify_text already drops punctuation and collapses whitespace; split on spaces (no spaCy)."""

        def word_tokenize(self, text: str) -> list[str]:
            return text.split()

        def sent_tokenize(self, text: str) -> list[str]:
            return [text]

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            return [(0, len(text))]

    return SpaceTokenizer("en")


def datatrove_throughput(benches: list[Benchmark], texts: list[str], n: int, repeat: int = 3) -> dict[str, Any]:
    try:
        from datatrove.data import Document
        from datatrove.pipeline.decont import NGramsDecontConfig, NGramsDecontFilter
    except ImportError as exc:
        return {"error": f"datatrove not importable: {exc}"}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        sizes = datatrove_index(benches, tmp, n)
        build = time.perf_counter() - t0
        filt = NGramsDecontFilter(index_folder=tmp, config=NGramsDecontConfig(n_grams=n), language=_space_tokenizer())
        t1 = time.perf_counter()
        filt.load_index_hashes()
        load = time.perf_counter() - t1
        times, flagged = [], 0
        for _ in range(repeat):
            t2 = time.perf_counter()
            flagged = 0
            for i, t in enumerate(texts):
                res = filt.filter(Document(text=t, id=str(i)))
                flagged += res is not True
            times.append(time.perf_counter() - t2)
    mb = _mb(texts)
    return {
        "index_hashes": sizes,
        "index_build_seconds": round(build, 3),
        "index_load_seconds": round(load, 3),
        "flagged": flagged,
        **_rates(mb, times),
    }


# ---------------------------------------------------------------- entry points


def bench_decont(
    texts: list[str],
    benchmarks: list[Benchmark] | None = None,
    config: DecontConfig | None = None,
    datatrove: bool = True,
    repeat: int = 3,
) -> dict[str, Any]:
    """Index build time (each benchmark and all together), our scan MB/s on one core, datatrove's on the
    same texts (and the ratio). `benchmarks` defaults to the shared copies (CORPUS_SHARED_DIR)."""
    benches = benchmarks if benchmarks is not None else _shared_benchmarks()[0]
    cfg = config or DecontConfig()
    result: dict[str, Any] = {"config": dict(cfg.__dict__), "build": {}}
    for b in benches:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            build_index([b], cfg)
            times.append(time.perf_counter() - t0)
        result["build"][b.name] = {"items": len(b), "seconds": round(min(times), 3)}
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        index = build_index(benches, cfg)
        times.append(time.perf_counter() - t0)
    result["build"]["all"] = {"seconds": round(min(times), 3), "keys": int(len(index.keys)), "memory_mb": round(index.nbytes / 1e6, 1)}
    result["scan"] = scan_throughput(index, texts, repeat)
    if datatrove:
        dt = datatrove_throughput(benches, texts, cfg.n, repeat)
        result["datatrove"] = dt
        if dt.get("mb_per_s") and result["scan"]["mb_per_s"]:
            result["speedup_vs_datatrove"] = round(result["scan"]["mb_per_s"] / dt["mb_per_s"], 2)
    return result


def _shared_benchmarks(shared: str | None = None) -> tuple[list[Benchmark], list[dict[str, str]]]:
    root = Path(shared or os.environ.get("CORPUS_SHARED_DIR", "../shared")) / "benchmarks"
    return load_benchmarks([BenchmarkSpec(n, str(root / f)) for n, f in FILES.items()])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m decont.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--benchmarks", default=None, help="NAME=SOURCE,... (default: the four files in --shared)")
    ap.add_argument("--shared", default=None, help="shared folder with benchmarks/ (default $CORPUS_SHARED_DIR or ../shared)")
    ap.add_argument("--sample", default=sysconfig.get_paths()["purelib"], help="clean code folder (default: site-packages)")
    ap.add_argument("--suffix", default=".py")
    ap.add_argument("--limit-mb", type=float, default=20.0, help="MB of the sample used for throughput")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs; the best and the median are reported")
    ap.add_argument("--fp-limit-mb", type=float, default=0, help="MB of the sample checked for false positives (0 = all)")
    ap.add_argument("--no-datatrove", action="store_true")
    ap.add_argument("--json", default=None, help="write the result here too")
    args = ap.parse_args(argv)
    if args.benchmarks:
        benches, missing = load_benchmarks(parse_benchmark_specs(args.benchmarks))
    else:
        benches, missing = _shared_benchmarks(args.shared)
    if missing:
        print(f"missing benchmarks: {missing}", file=sys.stderr)
    if not benches:
        return 2
    sample = read_sample(args.sample, args.suffix, int(args.limit_mb * 1e6))
    result = bench_decont([t for _, t in sample], benches, datatrove=not args.no_datatrove, repeat=args.repeat)
    result["sample"] = {"root": args.sample, "files": len(sample)}
    index = build_index(benches)
    fp_sample = read_sample(args.sample, args.suffix, int(args.fp_limit_mb * 1e6) or None)
    result["false_positives"] = false_positives(index, fp_sample)
    result["false_positives"]["mb"] = round(_mb(t for _, t in fp_sample), 1)
    result["recall"] = planted_recall(index, benches)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def paraphrase_recall(benches: list[Benchmark], sample: list[tuple[str, str]], n_values: Iterable[int] = (15, 20, 30),
                      examples: int = 10) -> dict[str, Any]:
    """The normalised-code rule (decont.normalize) against paraphrased copies: recall of each
    code benchmark's reference code with names renamed, comments and docstrings stripped and re-indented
    (decont.paraphrase), for the word rule and the normalised rule at each n; and the normalised
    rule's false positives on clean real Python files (`sample`), each listed with its n-gram."""
    code_benches = [b for b in benches if b.name in CODE_FIELDS]
    word_index = build_index(benches)
    copies: dict[str, list[str]] = {}
    for b in code_benches:
        fields = CODE_FIELDS[b.name]
        if not all(f in b.fields for f in fields):
            b = load_benchmark(b.name, b.source, fields)
        copies[b.name] = [paraphrase_python("".join(i.fields.get(f, [""])[0] for f in fields), salt=str(i.id)) for i in b.items]
    out: dict[str, Any] = {"copies": {k: len(v) for k, v in copies.items()},
                           "word_rule_recall": {k: _share(word_index, v) for k, v in copies.items()}, "normalized": {}}
    t0 = time.perf_counter()
    normalized_sample = [(p, normalize_code(t)) for p, t in sample]
    normalize_s = time.perf_counter() - t0
    mb = _mb(t for _, t in sample)
    out["sample"] = {"files": len(sample), "mb": round(mb, 2), "normalize_seconds": round(normalize_s, 2),
                     "normalize_mb_per_s": round(mb / normalize_s, 2) if normalize_s else None}
    for n in n_values:
        index = build_normalized_index(code_benches, n)
        recall = {k: _share(index, [normalize_code(c) for c in v]) for k, v in copies.items()}
        flagged = []
        for path, text in normalized_sample:
            hits = index.match(text)
            if hits:
                flagged.append({"path": path, "item": f"{hits[0].benchmark}:{hits[0].item}", "ngram": hits[0].ngram[:200]})
        out["normalized"][str(n)] = {"recall": recall, "false_positive_files": len(flagged),
                                     "false_positive_rate": round(len(flagged) / max(1, len(sample)), 6),
                                     "examples": flagged[:examples]}
    return out


def _share(index: DecontIndex, texts: list[str]) -> float:
    return round(sum(bool(index.match(t)) for t in texts) / max(1, len(texts)), 4)
