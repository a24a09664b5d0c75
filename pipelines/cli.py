"""`corpus run`: load a config, pre-flight it, run the stage graph on Ray, print a summary."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from corpus.engine import Executor, PreflightError, init_ray, write_stats_report
from corpus.stats import StatsMismatch
from pipelines.config import load_config
from pipelines.graph import build_stages

log = logging.getLogger("corpus")


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a corpus pipeline (default: the embedded demo input)",
        description="Run the stage graph of CONFIG on Ray: a local instance, or the cluster in RAY_ADDRESS.",
    )
    p.add_argument("config", nargs="?", default=None, help="pipeline YAML (default: pipelines/default.yaml)")
    p.add_argument("--output", "-o", help="output folder (default: the config's `output`, else ./out)")
    p.add_argument("--stages", help="comma-separated stage names to run; the others must have finished output")
    p.add_argument("--resume", action="store_true", help="skip finished stages and finished parts")
    p.add_argument("--num-cpus", type=int, help="CPUs for the local Ray instance")
    p.set_defaults(func=run_command)


def _setup_file_logging(out_dir: Path) -> None:
    logs = out_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(logs / "run.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)


def run_command(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
        out_dir = Path(args.output or cfg.output).resolve()
        stages = build_stages(cfg)
        only = set(args.stages.split(",")) if args.stages else None
        address = os.environ.get("RAY_ADDRESS") or cfg.ray.address
        _setup_file_logging(out_dir)
        for stage in stages:
            stage.preflight()  # before Ray starts: a bad input must not cost a cluster connection
        started = init_ray(address, args.num_cpus or cfg.ray.num_cpus)
    except PreflightError as exc:
        print(f"corpus run: {exc}", file=sys.stderr)
        return 2
    executor = Executor(out_dir, seed=cfg.seed, resume=args.resume)
    try:
        results = executor.run(stages, only)
        stats_path = write_stats_report(out_dir, results)
    except PreflightError as exc:
        print(f"corpus run: {exc}", file=sys.stderr)
        return 2
    except StatsMismatch as exc:
        print(f"corpus run: record accounting failed: {exc}", file=sys.stderr)
        return 3
    finally:
        if started:
            import ray

            ray.shutdown()
    print_summary(out_dir, results, stats_path, executor.ran)
    return 0


def print_summary(out_dir: Path, results: dict, stats_path: Path, ran: list[str]) -> None:
    first = next(iter(results.values()))
    print(f"\ncorpus run finished: {out_dir}")
    print(f"  input: {first.in_records} records, {first.in_bytes / 1e6:.1f} MB")
    for name, s in results.items():
        top = ", ".join(f"{r}={n}" for r, n in s.dropped.most_common(4))
        mark = "" if name in ran else " (finished earlier)"
        print(f"  {name:<14} in {s.in_records:>7}  kept {s.kept:>7}  out {s.out_records:>7}  dropped {sum(s.dropped.values()):>6}  {top}{mark}")
    manifest = out_dir / "shards" / "manifest.json"
    if "shards" in ran and manifest.exists():
        m = json.loads(manifest.read_text())
        print(f"  tokens written: {m['totals']['tokens']} in {len(m['shards'])} shards ({manifest})")
    print(f"  stats: {stats_path}")
    reports = out_dir / "reports"
    for stage, extra in (("decont", "decontamination.md"), ("decont", "decontamination.html"), ("recall", "recall.json")):
        if stage in ran and (reports / extra).exists():
            print(f"  report: {reports / extra}")
