"""`make bench`: per-stage throughput and peak memory on a fixed real input -> OUT/bench.json.

Each stage runs single-process (the figures are per core) in its own child process, so its peak
RSS is its own. Where a reference library does the same job, it runs on the same input in the same
child and the ratio ours / reference is reported (higher is better for throughput).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from corpus import storage
from corpus.engine.context import RunContext
from corpus.engine.runner import InProcessRunner
from corpus.filters import code_rules
from corpus.layout import DROPPED_DIR, SUCCESS
from decont.bench import _shared_benchmarks, bench_decont, compare_rules, paraphrase_recall, read_sample
from decont.benchmarks import default_benchmarks
from lang_registry.bench import bench_detection
from lang_registry.evaluate import filename_accuracy
from lang_registry.flags import is_generated
from pipelines import bench_treesitter as treesitter_bench
from pipelines.bench_driver import bench_driver
from pipelines.bench_report import bench_report
from pipelines.bench_scale import bench_parts_model, bench_scale, bench_scheduler
from pipelines.peak_rss import peak_rss_mb
from pipelines.scale_projection import project

SHARED = Path(os.environ.get("CORPUS_SHARED_DIR", Path(__file__).resolve().parent.parent.parent / "shared"))


def _figures(n_docs: int, n_bytes: int, seconds: float) -> dict[str, float]:
    return {
        "docs": n_docs,
        "mb": round(n_bytes / 1e6, 2),
        "seconds": round(seconds, 3),
        "docs_per_s_per_core": round(n_docs / seconds, 1) if seconds else None,
        "mb_per_s_per_core": round(n_bytes / 1e6 / seconds, 3) if seconds else None,
    }


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _table_mb(table: pa.Table) -> int:
    return int(sum(table.column("size").to_pylist()))


# ------------------------------------------------------------------------------ stage benches


def bench_ingest(input_path: str, warcs: list[str]) -> dict:
    from corpus.ingest.kinds import make_input  # deferred: heavy bench section (+20 MB)
    from corpus.records import Doc  # deferred: heavy bench section (+9 MB)
    from corpus.stages.ingest import IngestConfig, IngestStage  # deferred: heavy bench section (+20 MB)
    from pipelines.config import load_config  # deferred: heavy bench section (HF tokenizers)

    cfg = load_config(None)
    spec = next(s for s in cfg.inputs if s.kind == "python_dists")
    stage = IngestStage(IngestConfig(inputs=[spec]))
    units = stage.plan()
    (docs, secs) = _timed(lambda: [d for d in stage.read(units) if isinstance(d, Doc)])
    out = _figures(len(docs), sum(len(d.text.encode()) for d in docs), secs)
    if warcs:
        web = IngestStage(IngestConfig(inputs=[make_input(name="web", kind="warc", domain="text", paths=warcs)]))
        wunits = web.plan()
        (items, wsecs) = _timed(lambda: list(web.read(wunits)))
        n_pages = sum(isinstance(i, Doc) for i in items)
        # In a fresh process: ScanCode (licence detection, above) loads its own bundled libmagic, after which
        # the python-magic that datatrove's WarcReader calls finds no magic database in this process.
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            ref_secs = pool.submit(_datatrove_warc_seconds, warcs).result()
        out["web"] = {"warc_files": len(warcs), "records": len(items), "pages_kept": n_pages, "seconds": round(wsecs, 3)}
        # Same WARC files, same extractor settings: ratio of wall times (>1 means ours is faster).
        out["reference"] = {"name": "datatrove WarcReader + Trafilatura on the same WARC files", "ratio": round(ref_secs / wsecs, 3)}
    return out


def _datatrove_warc_seconds(warcs: list[str]) -> float:
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.readers import WarcReader

    extractor = Trafilatura(favour_precision=True, deduplicate=False)
    t0 = time.perf_counter()
    for w in warcs:
        reader = WarcReader(str(Path(w).parent), glob_pattern=Path(w).name)
        for doc in reader.run():
            extractor.extract(doc.text)
    return time.perf_counter() - t0


def bench_map_stage(stage_name: str, input_path: str) -> dict:
    from corpus.stages.filter import FilterStage  # deferred: heavy bench section (+20 MB)
    from corpus.stages.langid import LangIdStage  # deferred: heavy bench section (+20 MB)

    stage = {"langid": LangIdStage, "filter": FilterStage}[stage_name]()
    stage.setup()
    table = pq.read_table(input_path)
    result, secs = _timed(lambda: stage.process(table))
    return _figures(table.num_rows, _table_mb(table), secs)


def bench_langid(input_path: str) -> dict:
    """The stage on the fixed input, a large real tree through the registry's own bench, and
    Pygments' filename lookup (extension rules only) on the same files as the reference."""
    import site

    from pygments.lexers import get_lexer_for_filename
    from pygments.util import ClassNotFound


    out = bench_map_stage("langid", input_path)
    paths = pq.read_table(input_path, columns=["path"]).column("path").to_pylist()

    def pygments_all() -> None:
        for p in paths:
            try:
                get_lexer_for_filename(p)
            except ClassNotFound:
                pass

    _, ref_secs = _timed(pygments_all)
    out["reference"] = {"name": "pygments get_lexer_for_filename (extension only) on the same files", "ratio": round(ref_secs / out["seconds"], 3)}
    out["large_tree"] = bench_detection(site.getsitepackages()[0], 20000)

    # Lock, build and CI files and config folders, real paths labelled by hand (go.mod: Go Module, not Modula-2).
    out["filename_level"] = filename_accuracy()
    return out


def bench_decont_stage(input_path: str) -> dict:
    """Index build for all four benchmarks (from CORPUS_SHARED_DIR; HumanEval alone without it) and
    scan throughput on the fixed input, against datatrove's NGramsDecontFilter on the same texts."""
    table = pq.read_table(input_path, columns=["text", "size"])
    texts = table.column("text").to_pylist()
    benches = _shared_benchmarks(str(SHARED))[0] if (SHARED / "benchmarks").is_dir() else default_benchmarks()
    r = bench_decont(texts, benches, repeat=1)
    scan = r["scan"]
    out = _figures(len(texts), _table_mb(table), scan["mb"] / scan["mb_per_s"] if scan.get("mb_per_s") else 0)
    out["index_build"] = r["build"]
    out["flagged"] = scan.get("flagged")
    if "speedup_vs_datatrove" in r:
        out["reference"] = {"name": "datatrove NGramsDecontFilter (10-grams) on the same texts", "ratio": r["speedup_vs_datatrove"]}
    return out


# ------------------------------------------------------------------ decontamination: literal vs guarded rule
# (owned by the decont work; run as `run_in_child("bench_decont_rules")`, key "decont_rules" in bench.json)


def bench_decont_rules(limit_mb: float = 0.0, examples: int = 20) -> dict:
    """Both decontamination rules on the four shared benchmarks (HumanEval alone without them): keys
    indexed, recall of planted copies (whole problem and each field alone), and false positives on clean
    real code: the `.py` files of the installed site-packages, which hold no benchmark solution (every
    flagged file is listed with the matched n-gram, to be checked by hand). `limit_mb` 0 = all files."""
    import sysconfig


    benches = _shared_benchmarks(str(SHARED))[0] if (SHARED / "benchmarks").is_dir() else default_benchmarks()
    root = sysconfig.get_paths()["purelib"]
    sample = read_sample(root, ".py", int(limit_mb * 1e6) or None)
    result = compare_rules(benches, sample, examples=examples)
    result["sample"]["root"] = root
    result["benchmarks"] = {b.name: len(b) for b in benches}
    return result


def bench_decont_paraphrase(limit_mb: float = 0.0) -> dict:
    """The normalised-code rule (issue 21): recall of renamed / re-indented / comment-stripped copies of
    HumanEval and MBPP code, and false positives on the installed site-packages' `.py` files (clean real
    code), at n = 15, 20, 30 normalised grams; the word rule's recall on the same copies for comparison."""
    import sysconfig


    benches = _shared_benchmarks(str(SHARED))[0] if (SHARED / "benchmarks").is_dir() else default_benchmarks()
    root = sysconfig.get_paths()["purelib"]
    result = paraphrase_recall(benches, read_sample(root, ".py", int(limit_mb * 1e6) or None))
    result["sample"]["root"] = root
    return result


def bench_shards(input_path: str) -> dict:
    """Tokenize + FIM + pack vs raw encode_batch of the same BPE on the same text (one thread)."""
    os.environ["RAYON_NUM_THREADS"] = "1"
    from tokenizer.bench import bench_tokenize  # deferred: heavy bench section (HF tokenizers)
    from tokenizer.bpe import train_bpe, wrap_tokenizer  # deferred: heavy bench section (HF tokenizers)
    from tokenizer.fast_encode import choose_encoder  # deferred: heavy bench section (HF tokenizers)

    table = pq.read_table(input_path, columns=["text", "size"])
    texts = table.column("text").to_pylist()
    (tok, train_secs) = _timed(lambda: wrap_tokenizer(train_bpe(texts, 16000)))
    encoder, encoder_report = choose_encoder(tok, texts, max_bytes=10**12)  # whole input: ids must match
    hf = bench_tokenize(texts, tok, repeats=1)
    out = _figures(len(texts), _table_mb(table), hf["pipeline_mbytes_per_s"] and _table_mb(table) / 1e6 / hf["pipeline_mbytes_per_s"])
    out.update({"bpe_train_seconds_16k": round(train_secs, 2), "tokens_per_s_per_core": hf["pipeline_tokens_per_s"], "fast_encoder_check": encoder_report})
    out["reference"] = {"name": "tokenizers encode_batch of the same BPE (raw, no FIM/pack)", "ratio": hf["ratio"]}
    if encoder is not None:
        fast = bench_tokenize(texts, tok, encoder=encoder, repeats=1)
        out["fast_path"] = {"tokens_per_s_per_core": fast["pipeline_tokens_per_s"], "ratio_vs_encode_batch": fast["ratio"]}
    return out


def bench_recall_stage(input_path: str) -> dict:
    """fastText training (DeepSeekMath's hyper-parameters) and page scoring on the fixed input's texts."""
    from classifiers.bench import bench_recall  # deferred: heavy bench section (+11 MB)

    table = pq.read_table(input_path, columns=["text", "size"])
    r = bench_recall(table.column("text").to_pylist())
    out = _figures(r["pages"], _table_mb(table), r["pretokenize_seconds"] + r["predict_seconds"])
    out.update({"train_seconds": r["train_seconds"], "model_bytes": r["model_bytes"]})
    out["reference"] = {"name": "fastText native batch predict on the same pretokenized lines (scoring path only)",
                        "ratio": r["scoring_vs_native_predict"]["ratio"]}
    return out


def bench_ablation(work: str) -> dict:
    """`corpus ablate pipelines/examples/ablation.yaml` (3 variants x 2 seeds, tiny preset, one thread for
    torch): the contamination gap and the seed spread, and the wall time (docs/ablation.md)."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    from pipelines.ablate import run_ablation  # deferred: heavy bench section (HF tokenizers)
    from pipelines.ablation_config import load_ablation  # deferred: heavy bench section (HF tokenizers)

    cfg, base = load_ablation(Path(__file__).parent / "examples" / "ablation.yaml")
    started = time.time()
    result = run_ablation(cfg, base, Path(work) / "ablation", InProcessRunner())
    return {"wall_seconds": round(time.time() - started, 1), "comparisons": result["comparisons"],
            "variants": {n: {k: v[k] for k in ("eval_loss", "benchmark_loss", "tokens", "seconds")}
                         for n, v in result["variants"].items()}}


def bench_pretrain_cpu() -> dict:
    from pretrain.bench import bench_pretrain  # deferred: heavy bench section (torch)

    return bench_pretrain()


def bench_dedup_exact(input_path: str) -> dict:
    from corpus.stages.dedup import exact_keys  # deferred: heavy bench section (+20 MB)

    table = pq.read_table(input_path)
    _, secs = _timed(lambda: exact_keys(table, 0))
    return _figures(table.num_rows, _table_mb(table), secs)


def lost_clusters(input_path: str, out_dir: str, prefer_filter_pass: bool) -> dict:
    """Exact dedup then the filter, the pipeline's own stages in-process on one input file: clusters
    whose surviving copy the filter drops while another copy of the cluster passes it (content lost)."""
    import shutil
    from collections import defaultdict

    from corpus.stages.dedup import ExactDedupConfig, ExactDedupStage  # deferred: heavy bench section (+20 MB)
    from corpus.stages.filter import FilterStage  # deferred: heavy bench section (+20 MB)

    shutil.rmtree(out_dir, ignore_errors=True)  # a previous bench's saved steps would be resumed, not recomputed
    stage = ExactDedupStage(ExactDedupConfig(prefer_filter_pass=prefer_filter_pass))
    ctx = RunContext(out_uri=out_dir, stage_name=stage.name, runner=InProcessRunner(), stage_key="bench")
    stage.run(ctx, [input_path])
    dropped = pq.read_table(Path(out_dir) / stage.name / DROPPED_DIR).select(["id", "detail"]).to_pylist()
    members: dict[str, list[str]] = defaultdict(list)
    for r in dropped:
        members[r["detail"].removeprefix("duplicate of ")].append(r["id"])
    rows = {r["id"]: r for r in pq.read_table(input_path).to_pylist()}
    judge = FilterStage()
    judge.setup()
    lost = [s for s, copies in members.items()
            if judge.judge(rows[s]) is not None and any(judge.judge(rows[c]) is None for c in copies)]
    dropped_survivors = sum(judge.judge(rows[s]) is not None for s in members)
    examples = sorted(f"{rows[s]['repo']}/{rows[s]['path']}" for s in lost)[:5]
    return {"clusters": len(members), "survivor_dropped_by_filter": dropped_survivors, "lost_content": len(lost),
            "lost_examples": examples}


def bench_dedup_survivors(input_path: str, out_dir: str) -> dict:
    """Exact-dedup clusters that lose their content to a survivor the filter drops (target 0), with the
    survivor rank that asks the filter first (the default) and without it (the rule before)."""
    return {"prefer_filter_pass": lost_clusters(input_path, str(Path(out_dir) / "survivors-on"), True),
            "without": lost_clusters(input_path, str(Path(out_dir) / "survivors-off"), False)}


DOC_LANGUAGES = {".md": "Markdown", ".markdown": "Markdown", ".rst": "reStructuredText", ".adoc": "AsciiDoc",
                 ".asciidoc": "AsciiDoc", ".pod": "POD", ".tex": "TeX"}


def bench_doc_rules(roots: list[str] | None = None, max_files: int = 20000) -> dict:
    """Real documentation on this machine (the installed packages' .md/.rst/.tex/..., /usr/share/doc, and
    CORPUS_DOCS_DIRS, ':'-separated) through the code rules: files and bytes kept with the text rules
    (`measure: prose` / `tex`) against DeepSeek's line rules for the same files, per language."""
    import sysconfig
    from collections import Counter, defaultdict


    rules = code_rules.load_rules()
    line_rules = {**rules, "languages": {k: {kk: vv for kk, vv in v.items() if kk != "measure"}
                                         for k, v in (rules.get("languages") or {}).items()}}
    roots = roots or [sysconfig.get_paths()["purelib"], "/usr/share/doc",
                      *filter(None, os.environ.get("CORPUS_DOCS_DIRS", "").split(":"))]
    seen: set[int] = set()
    by: dict[str, Counter] = defaultdict(Counter)
    for root in roots:
        for path in sorted(Path(root).rglob("*")) if Path(root).is_dir() else []:
            language = DOC_LANGUAGES.get(path.suffix.lower())
            if language is None or not path.is_file() or len(seen) >= max_files:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            if hash(text) in seen or len(text) > 1_000_000:
                continue
            seen.add(hash(text))
            size = len(text.encode("utf-8", "surrogatepass"))
            c = by[language]
            c["files"] += 1
            c["bytes"] += size
            # The langid flag the filter also drops on (a paragraph per line once looked minified).
            c["flagged_generated"] += is_generated(str(path.relative_to(root)), text[:65536])
            for name, table in (("line_rules", line_rules), ("text_rules", rules)):
                if code_rules.first_failure(text, language, table) is None:
                    c[f"{name}_kept_files"] += 1
                    c[f"{name}_kept_bytes"] += size
    total: Counter = Counter()
    for c in by.values():
        total.update(c)
    return {"roots": roots, "by_language": {k: dict(v) for k, v in sorted(by.items())}, "total": dict(total)}


def bench_dedup_near(input_path: str) -> dict:
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

    from corpus.filters.web_rules import RegexWordTokenizer  # deferred: heavy bench section (datatrove)
    from corpus.stages.dedup import minhash_band_keys  # deferred: heavy bench section (+20 MB)

    table = pq.read_table(input_path)
    # datatrove's signature step cannot take documents shorter than one 5-gram: both sides get the same subset.
    table = table.filter(pa.array([len(t.split()) >= 10 for t in table.column("text").to_pylist()]))
    _, secs = _timed(lambda: minhash_band_keys(table, 0, num_perm=256, bands=32, ngram=5, seed=42))
    out = _figures(table.num_rows, _table_mb(table), secs)
    ref = MinhashDedupSignature("/nonexistent-unused", config=MinhashConfig(n_grams=5, num_buckets=32, hashes_per_bucket=8), language=RegexWordTokenizer())
    texts = table.column("text").to_pylist()
    _, ref_secs = _timed(lambda: [ref.get_signature(ref.get_shingles(t)) for t in texts])
    out["reference"] = {"name": "datatrove MinhashDedupSignature (256 hashes, 5-grams)", "ratio": round(ref_secs / secs, 3)}
    return out


def bench_repo_samples(input_path: str, out_dir: str) -> dict:
    from corpus.stages.repo_samples import build_bucket  # deferred: heavy bench section (+20 MB)

    table = pq.read_table(input_path)
    _, secs = _timed(lambda: build_bucket([input_path], str(Path(out_dir) / "repo_samples.parquet"), 1234, 1_000_000, None, "bench"))
    return _figures(table.num_rows, _table_mb(table), secs)


def bench_treesitter(input_path: str, out_dir: str) -> dict:
    """Issue 24 on real code: dependency order per language (resolved imports, imported-first edges vs
    the random order) and the syntax signal's distribution (pipelines/bench_treesitter.py); and the
    repo_samples build of the fixed input in both orders (the cost of `order: dependency`)."""
    from corpus.stages.repo_samples import build_bucket  # deferred: heavy bench section (+20 MB)

    table = pq.read_table(input_path, columns=["size"])
    nbytes = _table_mb(table)
    timed = {}
    for order in ("random", "dependency"):
        out = str(Path(out_dir) / f"repo_samples_{order}.parquet")
        stats, secs = _timed(lambda out=out, order=order: build_bucket([input_path], out, 1234, 1_000_000, None, f"bench-{order}", order))
        timed[order] = {**_figures(table.num_rows, nbytes, secs), "imports": stats.get("imports", {})}
    timed["dependency_over_random_seconds"] = round(timed["dependency"]["seconds"] / max(timed["random"]["seconds"], 1e-9), 2)
    return {"repo_samples": timed, **treesitter_bench.bench_treesitter()}
from pipelines.bench_licenses_fast import bench_licenses_fast  # noqa: E402,F401 - run by name in a child
from pipelines.bench_safety import bench_licenses, bench_optout, bench_redact, redact_share  # noqa: E402,F401 - run by name in a child


def _child(fn_name: str, *args: Any) -> dict:
    result = globals()[fn_name](*args)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return result


def run_in_child(fn_name: str, *args: Any) -> dict:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_child, fn_name, *args).result()


def make_input(out_dir: Path) -> str:
    """The fixed input: the default run's repositories, ingested and language-tagged in-process."""
    from corpus.records import Doc, docs_to_table  # deferred: heavy bench section (+9 MB)
    from corpus.stages.ingest import IngestConfig, IngestStage  # deferred: heavy bench section (+20 MB)
    from corpus.stages.langid import LangIdStage  # deferred: heavy bench section (+20 MB)
    from pipelines.config import load_config  # deferred: heavy bench section (HF tokenizers)

    cfg = load_config(None)
    spec = next(s for s in cfg.inputs if s.kind == "python_dists")
    stage = IngestStage(IngestConfig(inputs=[spec]))
    docs = [d for d in stage.read(stage.plan()) if isinstance(d, Doc)]
    table = LangIdStage().process(docs_to_table(docs)).kept
    path = out_dir / "input.parquet"
    pq.write_table(table, path)
    return str(path)


def bench_recall_pages(work: str, warcs: list[str]) -> dict:
    """Web recall on labelled real pages (docs/recall.md, "Measured on real pages"): the default run's
    input through ingest, langid, dedup_exact and recall (in process, the default config), then the final
    model's precision and recall per class on the Debian manuals installed here plus the shared WARC pages, on
    the test pages (never tuned on) and the development pages apart, and over all."""
    from corpus.engine.executor import Executor  # deferred: heavy bench section (+10 MB)
    from pipelines.config import load_config  # deferred: heavy bench section (HF tokenizers)
    from pipelines.graph import build_stages  # deferred: heavy bench section (HF tokenizers)

    cfg = load_config(None)
    data = cfg.model_dump(mode="json")
    data["run"] = ["ingest", "langid", "dedup_exact", "recall"]
    data["stages"]["recall"]["page_eval_warcs"] = warcs
    cfg = type(cfg).model_validate(data)
    out = Path(work) / "recall_pages"
    import shutil

    shutil.rmtree(out, ignore_errors=True)  # a fresh run, not a resume of the last bench
    started = time.perf_counter()
    Executor(str(out), seed=cfg.seed, runner=InProcessRunner()).run(build_stages(cfg))
    report = storage.read_json(str(out / "reports" / "recall.json"))
    pe = report.get("page_eval") or {}
    return {"seconds": round(time.perf_counter() - started, 1), "pages": pe.get("pages", 0), "threshold": pe.get("threshold"),
            "evidence": pe.get("evidence"),
            # test: sources no rule/threshold/seed was tuned on; dev: those it was (corpus/stages/recall/page_eval.py SPLIT_RULE)
            "test": pe.get("splits", {}).get("test", {}), "dev": pe.get("splits", {}).get("dev", {}),
            "per_class": pe.get("per_class", {}), "by_source": pe.get("by_source", {}), "missing": pe.get("missing", []),
            # The classifier's other figure, on its own held-out seed passages (per fold model), for comparison.
            "seed_passages_heldout_precision": {fold: t.get("heldout", {}).get("per_label_precision")
                                               for fold, t in (report["iterations"][-1]["train"] if report.get("iterations") else {}).items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", default="out", help="OUT folder; writes OUT/bench.json")
    parser.add_argument("--skip-scale", action="store_true", help="leave out the whole-pipeline runs (~1x, ~4x, the report's 1x and 10x) and the scheduler bench")
    args = parser.parse_args(argv)
    out = Path(args.output)
    work = out / "bench"
    work.mkdir(parents=True, exist_ok=True)
    input_path = make_input(work)
    warcs = sorted(str(p) for p in (SHARED / "web").glob("*.warc.gz")) if (SHARED / "web").is_dir() else []
    stages: dict[str, dict] = {}
    plan: list[tuple[str, str, tuple]] = [
        ("ingest", "bench_ingest", (input_path, warcs)),
        ("langid", "bench_langid", (input_path,)),
        ("recall", "bench_recall_stage", (input_path,)),
        ("recall_pages", "bench_recall_pages", (str(work), warcs)),
        ("filter", "bench_map_stage", ("filter", input_path)),
        ("doc_rules", "bench_doc_rules", ()),
        ("dedup_exact", "bench_dedup_exact", (input_path,)),
        ("dedup_survivors", "bench_dedup_survivors", (input_path, str(work))),
        ("repo_samples", "bench_repo_samples", (input_path, str(work))),
        ("dedup_near", "bench_dedup_near", (input_path,)),
        ("decont", "bench_decont_stage", (input_path,)),
        ("decont_rules", "bench_decont_rules", ()),
        ("decont_paraphrase", "bench_decont_paraphrase", ()),
        ("shards", "bench_shards", (input_path,)),
        ("treesitter", "bench_treesitter", (input_path, str(work))),
        ("redact", "bench_redact", (input_path,)),
        ("licenses", "bench_licenses", ()),
        ("licenses_prefilter", "bench_licenses_fast", ()),  # RulePrefilter vs ScanCode as shipped: CPU ratio, changed answers
        ("pretrain", "bench_pretrain_cpu", ()),
        ("ablation", "bench_ablation", (str(work),)),
    ]
    for name, fn, fn_args in plan:
        print(f"bench: {name} ...", flush=True)
        try:
            stages[name] = run_in_child(fn, *fn_args)
        except Exception as exc:  # noqa: BLE001 - one failing bench is reported, the rest still run
            stages[name] = {"error": f"{type(exc).__name__}: {exc}"}
    report = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform(), "processor": platform.machine()},
        "input": {"path": input_path, "docs": pq.read_metadata(input_path).num_rows},
        "stages": stages,
    }
    if not args.skip_scale:
        print("bench: scheduler (10k and 100k tiny tasks) ...", flush=True)
        report["scheduler"] = bench_scheduler()
        print("bench: driver CPU per task (map and stage, 200 and 2,000 tasks) ...", flush=True)
        report["driver"] = bench_driver(modes=("map", "stage"))
        print("bench: scale (the whole pipeline at ~1x and ~4x) ...", flush=True)
        report["scale"] = bench_scale(work)
        if (work / "scale-1x" / "redact" / SUCCESS).exists():
            stages.setdefault("redact", {})["share_of_run_1x"] = redact_share(str(work / "scale-1x"))
            stages["optout"] = run_in_child("bench_optout", str(work / "scale-1x"))  # against that run's shards stage

        print("bench: parts model (the same input in ~10 and ~1,000 parts) ...", flush=True)
        report["parts_model"] = bench_parts_model(work)
        report["projection_60tb"] = project(report["scale"], report["parts_model"])
        report["report"] = bench_report(work)  # the run report's build time at 1x and 10x
    (out / "bench.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
