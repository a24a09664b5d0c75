"""`corpus run`: load a config, pre-flight it, run the stage graph on Ray, print a summary."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from corpus import storage
from corpus.engine import fatal
from corpus.engine.executor import Executor, write_stats_report
from corpus.engine.lock import RunLock
from corpus.engine.lock import acquire as acquire_run_lock
from corpus.engine.ray_runner import check_ray_address, start_runner
from corpus.engine.runner import LazyRunner, Runner
from corpus.errors import EmptyOutputError, PreflightError
from corpus.layout import LOGS_DIR, MANIFEST, REPORTS_DIR, RUN_LOG, RUN_REPORT, STAGE_ORDER
from corpus.runreport import write_run_report
from corpus.stats import StatsMismatch
from pipelines.config import PipelineConfig, load_config
from pipelines.graph import build_stages
from pipelines.peak_rss import peak_rss_mb

log = logging.getLogger("corpus")


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a corpus pipeline (default: the embedded demo input)",
        description="Run the stage graph of CONFIG on Ray: a local instance, or the cluster in RAY_ADDRESS.",
    )
    p.add_argument("config", nargs="?", default=None, help="pipeline YAML (default: pipelines/default.yaml)")
    p.add_argument("--output", "-o", help="output folder or object-store URI, e.g. s3://bucket/run (default: the config's `output`)")
    p.add_argument("--stages", help="comma-separated stage names to run; earlier stages must have finished output, later ones do not run")
    p.add_argument("--resume", action="store_true", help="skip finished stages and finished parts")
    p.add_argument("--num-cpus", type=int, help="CPUs for the local Ray instance")
    p.add_argument("--in-process", action="store_true", help="run every task in this process, without Ray (debugging)")
    p.add_argument("--no-dashboard", action="store_true",
                   help="do not start the Ray dashboard with a local Ray instance (config: ray.dashboard)")
    p.set_defaults(func=run_command)


def _setup_file_logging(out_uri: str) -> Path:
    """OUT/logs/run.log. On an object store the log is written locally and uploaded when the run ends."""
    if storage.is_remote(out_uri):
        import tempfile

        log_path = Path(tempfile.mkdtemp(prefix="corpus-log-")) / RUN_LOG
    else:
        log_path = Path(out_uri) / LOGS_DIR / RUN_LOG
        log_path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    return log_path


def _upload_log(log_path: Path | None, out_uri: str) -> None:
    if log_path is not None and storage.is_remote(out_uri) and log_path.exists():
        storage.upload_file(log_path, storage.join(out_uri, LOGS_DIR, RUN_LOG))


def run_command(args: argparse.Namespace) -> int:
    run_lock, log_path = None, None
    try:
        cfg = load_config(args.config)
        storage.configure(cfg.storage_options)  # before the runner starts: workers inherit it
        out_dir = storage.normalize(args.output or cfg.output)
        _check_output(out_dir)
        run_lock = acquire_run_lock(out_dir)  # before any write into OUT: a second run fails here, naming the holder
        stages = build_stages(cfg)
        only = set(args.stages.split(",")) if args.stages else None
        address = os.environ.get("RAY_ADDRESS") or cfg.ray.address
        log_path = _setup_file_logging(out_dir)
        # Stages are pre-flighted once, by Executor.run, before any work: the runner (Ray) starts lazily,
        # so a bad input still costs no cluster connection.
        runner = _lazy_runner(args, cfg, address)
    except PreflightError as exc:
        print(f"corpus run: {exc}", file=sys.stderr)
        _release(run_lock)
        return 2
    except KeyboardInterrupt:
        _release(run_lock)
        print("corpus run: interrupted before any stage started", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - an unwritable output or a dead cluster: one line, exit 5
        _release(run_lock)
        return fatal.report(exc, log_path)
    executor = Executor(out_dir, seed=cfg.seed, resume=args.resume, runner=runner, guard=run_lock.verify)
    started, cpu_started = time.time(), time.process_time()
    try:
        results = executor.run(stages, only)
        run_lock.verify()  # the reports are writes too: not into a folder another run now holds
        stats_path = write_stats_report(out_dir, results)
        if executor.ran:  # a resume that found every stage finished keeps the measured run.json
            _write_run_report(out_dir, results, time.time() - started, time.process_time() - cpu_started, _cpus(runner),
                              sum(getattr(runner, "cpu_seconds", {}).values()), getattr(runner, "start_seconds", 0.0), executor.ran)
        report = _write_html_report(out_dir)
    except PreflightError as exc:
        print(f"corpus run: {exc}", file=sys.stderr)
        return 2
    except StatsMismatch as exc:
        print(f"corpus run: record accounting failed: {exc}", file=sys.stderr)
        return 3
    except EmptyOutputError as exc:
        print(f"corpus run: nothing useful produced: {exc}", file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        log.warning("interrupted (Ctrl-C)")
        print(f"corpus run: interrupted; committed parts and steps are kept: run the same command with --resume "
              f"to continue ({_resume_command(args, out_dir)})", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - see corpus.engine.fatal: one line on stderr, traceback in run.log
        return fatal.report(exc, log_path)
    finally:
        _finish(runner, log_path, out_dir, run_lock)
    print_summary(out_dir, results, stats_path, executor.ran)
    if report:
        print(f"  run report: {report['html']} (built in {report['seconds']} s)")
    return 0


EXIT_INTERRUPTED = 130  # the shell's code for a process ended by SIGINT


def _resume_command(args: argparse.Namespace, out_dir: str) -> str:
    parts = ["corpus run"] + ([args.config] if args.config else []) + ["--output", out_dir, "--resume"]
    parts += [f"--stages {args.stages}"] if args.stages else []
    parts += ["--in-process"] if args.in_process else []
    return " ".join(parts)


def _release(run_lock: RunLock | None) -> None:
    if run_lock is not None:
        _finish(None, None, "", run_lock)


def _finish(runner: Runner | None, log_path: Path | None, out_dir: str, run_lock: RunLock | None) -> None:
    """Stop the runner, upload the log, release the lock: each step on its own, so a store that is down
    at the end gives one line (not a traceback) and the lock is still released when the store allows."""
    steps = [("stop the runner", runner.shutdown if runner is not None else None),
             ("upload the log", (lambda: _upload_log(log_path, out_dir)) if log_path is not None else None),
             (f"release the run lock {run_lock.uri}" if run_lock is not None else "", run_lock.release if run_lock is not None else None)]
    for what, step in steps:
        if step is None:
            continue
        try:
            step()
        except Exception as exc:  # noqa: BLE001
            log.warning("could not %s: %s", what, fatal.one_line(exc))
            hint = "; remove it once the store answers (a later run on this host takes a dead run's lock over)" if "lock" in what else ""
            print(f"corpus run: WARNING could not {what}: {fatal.one_line(exc)}{hint}", file=sys.stderr)


def _write_html_report(out_dir: str) -> dict | None:
    """reports/index.html + summary.json (reads no text column). The data is committed by now: a report
    that fails is said loudly (stderr, run.log, `corpus report OUT` to retry) but does not fail the run."""
    try:
        return write_run_report(out_dir)
    except Exception as exc:  # noqa: BLE001
        log.exception("the run report could not be written")
        print(f"corpus run: WARNING the run report failed ({type(exc).__name__}: {exc}); "
              f"the output is complete; retry with `corpus report {out_dir}`", file=sys.stderr)
        return None


def _lazy_runner(args: argparse.Namespace, cfg: PipelineConfig, address: str | None) -> Runner:
    """The run's runner, started only when a stage has work for it: `--resume` on a finished run never
    starts Ray. A cluster address is still checked now, so a dead cluster fails before any stage."""
    if address and not args.in_process:
        check_ray_address(address)
    dashboard = cfg.ray.dashboard and not args.no_dashboard
    num_cpus = args.num_cpus or cfg.ray.num_cpus
    return LazyRunner(lambda: start_runner(address, num_cpus, in_process=args.in_process, dashboard=dashboard))


def _cpus(runner: Runner) -> int:
    """The runner's CPUs for run.json; 0 when no stage needed it (asking would start Ray for nothing)."""
    return runner.parallelism if not isinstance(runner, LazyRunner) or runner.started else 0


def _write_run_report(out_uri: str, results: dict, wall_s: float, driver_cpu_s: float, cpus: int, task_cpu_s: float = 0.0,
                      runner_start_s: float = 0.0, ran: list[str] | None = None) -> None:
    """OUT/reports/run.json: wall time, the driver's own peak memory and CPU, the tasks' CPU, and
    end-to-end MB/s per core of the text ingested (what `make bench` compares across input sizes);
    `cpu_utilisation` = task CPU / (wall x cores) says how much of the cores the run kept busy.
    The runner starts lazily inside the run; its start (Ray's, a few seconds, the dashboard's included)
    is `runner_start_seconds` and is left out of `wall_seconds` and the rates, as before the lazy start,
    so figures stay comparable across runs and with a cluster joined rather than started."""

    ingest = results.get("ingest")
    text_mb = ingest.kept_bytes / 1e6 if ingest is not None else 0.0
    # The text that reached the shards: the rate a user of the corpus cares about, next to the rate of
    # what was ingested (which counts text the first filters drop at once).
    # (the last stage, shards, turns text into tokens: its text is what came in; a graph without it: what the
    # last stage kept).
    last = next(reversed(results), None)
    kept_mb = None if last is None else (results[last].in_bytes if last == STAGE_ORDER[-1] else results[last].kept_bytes) / 1e6
    total_s = wall_s  # the runner's start included (the report is built after this is written)
    wall_s = max(0.0, wall_s - runner_start_s)
    storage.write_json(storage.join(out_uri, REPORTS_DIR, RUN_REPORT), {
        "wall_seconds": round(wall_s, 2),
        "runner_start_seconds": round(runner_start_s, 2),
        # The stages this run computed: the rates below are end to end only when that is all of them.
        "stages_ran": list(ran if ran is not None else results),
        "complete": ran is None or list(ran) == list(results),
        "driver_cpu_seconds": round(driver_cpu_s, 2),
        "driver_peak_rss_mb": round(peak_rss_mb(), 1),
        "cpus": cpus,
        "text_mb": round(text_mb, 2),
        "mb_per_s_per_core": round(text_mb / wall_s / cpus, 4) if wall_s and cpus else None,
        "wall_with_start_seconds": round(total_s, 2),
        "mb_per_s_per_core_with_start": round(text_mb / total_s / cpus, 4) if total_s and cpus else None,
        "kept_text_mb": round(kept_mb, 2) if kept_mb is not None else None,
        "kept_mb_per_s_per_core": round(kept_mb / wall_s / cpus, 4) if kept_mb is not None and wall_s and cpus else None,
        "task_cpu_seconds": round(task_cpu_s, 2),
        "task_cpu_seconds_per_mb": round(task_cpu_s / text_mb, 4) if text_mb else None,
        "cpu_utilisation": round(task_cpu_s / wall_s / cpus, 3) if wall_s and cpus else None,
    })


def _check_output(out_uri: str) -> None:
    """An output URI whose scheme no installed fsspec backend serves fails here, not after hours."""
    if not storage.is_remote(out_uri):
        return
    try:
        storage.filesystem(out_uri)
    except (ImportError, ValueError) as exc:
        raise PreflightError(f"--output {out_uri}: no storage backend for it ({exc}); for s3:// install s3fs") from exc


def print_summary(out_dir: str, results: dict, stats_path: str, ran: list[str]) -> None:
    first = next(iter(results.values()))
    print(f"\ncorpus run finished: {out_dir}")
    print(f"  input: {first.in_records} records ({first.in_bytes / 1e6:.1f} MB met, {first.kept_bytes / 1e6:.1f} MB of text ingested)")
    for name, s in results.items():
        top = ", ".join(f"{r}={n}" for r, n in s.dropped.most_common(4))
        mark = "" if name in ran else " (finished earlier)"
        print(f"  {name:<14} in {s.in_records:>7}  kept {s.kept:>7}  out {s.out_records:>7}  dropped {sum(s.dropped.values()):>6}  {top}{mark}")
    manifest = storage.join(out_dir, "shards", MANIFEST)
    if "shards" in ran and storage.exists(manifest):
        m = storage.read_json(manifest)
        print(f"  tokens written: {m['totals']['tokens']} in {len(m['shards'])} shards ({manifest})")
        mix = m.get("mixture", {})
        shares = ", ".join(f"{d} {mix.get('achieved', {}).get(d, 0):.1%} (target {t:.0%})" for d, t in mix.get("target", {}).items())
        print(f"  mixture: {shares}; FIM examples whole in a row: {m.get('fim_examples', {}).get('complete_share', 0):.1%}")
        for warning in m.get("warnings", []):
            print(f"  WARNING {warning}", file=sys.stderr)
    print(f"  stats: {stats_path}")
    reports = storage.join(out_dir, REPORTS_DIR)
    for stage, extra in (("decont", "decontamination.md"), ("decont", "decontamination.html"), ("recall", "recall.json")):
        if stage in ran and storage.exists(storage.join(reports, extra)):
            print(f"  report: {storage.join(reports, extra)}")
