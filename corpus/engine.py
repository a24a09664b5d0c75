"""The Ray executor: runs a list of stages in order, one folder per stage, resumable and accounted.

It knows nothing about what a stage does, only its shape (corpus.stage). Per stage it writes
`OUT/<stage>/part-*.parquet`, quarantined rows under `OUT/<stage>/_dropped/`, and `_SUCCESS.json`
(input fingerprint, config hash, counts). `resume=True` skips finished stages and finished parts.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pyarrow as pa

from corpus.io import PartWriter, iter_batches, list_parts, part_name, read_json, write_json_atomic
from corpus.records import DOC_SCHEMA, DROP_SCHEMA, Doc, Drop, docs_to_table, drop_rows, drops_to_table, table_bytes
from corpus.stage import GlobalStage, MapStage, SourceStage, Stage
from corpus.stats import StageStats, StatsMismatch

log = logging.getLogger("corpus")

SUCCESS = "_SUCCESS.json"
WRITE_BATCH_ROWS = 1024


class PreflightError(RuntimeError):
    """A problem found before any work started (bad config, missing input, unreachable cluster)."""


# --------------------------------------------------------------------------------------------- Ray


def check_ray_address(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds, not minutes, when a ray:// or host:port address does not answer."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise PreflightError(f"RAY_ADDRESS {address!r} is not of the form ray://host:port, host:port or 'auto'")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise PreflightError(f"Ray cluster at {address!r} is unreachable: {exc}") from exc


def init_ray(address: str | None, num_cpus: int | None = None) -> bool:
    """Connect to RAY_ADDRESS or start a local instance. Returns True if this call started Ray."""
    import ray

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    if address:
        check_ray_address(address)
        # Ship the project's packages so cluster workers run the same code as the driver.
        import classifiers
        import corpus
        import lang_registry
        import tokenizer

        modules = [corpus, lang_registry, tokenizer, classifiers]
        try:
            ray.init(address=address, runtime_env={"py_modules": modules}, **kwargs)
        except Exception as exc:  # noqa: BLE001
            raise PreflightError(f"could not connect to Ray at {address!r}: {exc}") from exc
    else:
        ray.init(num_cpus=num_cpus, **kwargs)
    return True


# ------------------------------------------------------------------------------------- run context


@dataclass
class RunContext:
    out_dir: Path
    seed: int = 1234
    resume: bool = False
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. paths shared between stages
    stage_name: str = ""

    @property
    def stage_dir(self) -> Path:
        return self.out_dir / self.stage_name

    @property
    def tmp_dir(self) -> Path:
        path = self.out_dir / "_tmp" / self.stage_name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def reports_dir(self) -> Path:
        path = self.out_dir / "reports"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def run_tasks(self, fn: Callable[..., Any], arg_list: Sequence[tuple], num_cpus: float = 1.0, desc: str = "") -> list[Any]:
        """Run fn(*args) for every args as Ray tasks (retried on worker failure), results in input order."""
        import ray

        remote = ray.remote(num_cpus=num_cpus, max_retries=2)(fn)
        refs = [remote.remote(*args) for args in arg_list]
        return wait_with_progress(refs, desc or self.stage_name)


def wait_with_progress(refs: list[Any], desc: str) -> list[Any]:
    import ray
    from tqdm import tqdm

    pending = list(refs)
    with tqdm(total=len(refs), desc=desc, unit="part", leave=False, disable=None) as bar:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            bar.update(len(done))
    return ray.get(list(refs))


# -------------------------------------------------------------------------------- per-part tasks


def _part_stats_path(out_path: str) -> str:
    p = Path(out_path)
    return str(p.with_name(f"_{p.stem}.stats.json"))


def _dropped_path(out_path: str) -> str:
    p = Path(out_path)
    return str(p.parent / "_dropped" / p.name)


def write_filtered_part(table: pa.Table, mask: list[bool], reasons: list[str | None], details: list[str], out_path: str) -> StageStats:
    """Write the rows of a DOC_SCHEMA table whose mask is false as a part, quarantine the others
    (with their reason) beside it, and return the part's accounting."""
    kept = table.filter(pa.array([not m for m in mask], type=pa.bool_()))
    dropped = drop_rows(table, mask, reasons, details)
    stats = StageStats()
    stats.add_in(table.num_rows, table_bytes(table))
    stats.add_kept(kept.num_rows, table_bytes(kept))
    stats.add_drop_rows(dropped)
    with PartWriter(out_path, DOC_SCHEMA) as w:
        w.write(kept)
    with PartWriter(_dropped_path(out_path), DROP_SCHEMA) as w:
        w.write(dropped)
    return stats


# Stages already set up in this worker process, by fingerprint: Ray deserializes the stage for every
# task, and setup() (models, registries, indexes) should run once per process, not once per part.
_READY_STAGES: dict[str, MapStage] = {}


def run_map_part(stage: MapStage, in_path: str, out_path: str, part_key: str) -> dict[str, Any]:
    """One Ray task: stream a part through stage.process, write kept and dropped rows atomically."""
    key = stage.fingerprint()
    if key not in _READY_STAGES:
        stage.setup()
        _READY_STAGES[key] = stage
    stage = _READY_STAGES[key]
    stats = StageStats()
    with PartWriter(out_path, stage.output_schema) as kept_w, PartWriter(_dropped_path(out_path), DROP_SCHEMA) as drop_w:
        for batch in iter_batches(in_path, stage.batch_rows):
            result = stage.process(batch)
            if result.kept.num_rows + result.dropped.num_rows != batch.num_rows:
                raise StatsMismatch(
                    f"stage {stage.name} lost records in {in_path}: {batch.num_rows} in, "
                    f"{result.kept.num_rows} kept + {result.dropped.num_rows} dropped"
                )
            stats.add_in(batch.num_rows, table_bytes(batch))
            stats.add_kept(result.kept.num_rows, table_bytes(result.kept))
            stats.add_drop_rows(result.dropped)
            kept_w.write(result.kept)
            drop_w.write(result.dropped)
    summary = {"key": part_key, "stats": stats.to_json()}
    write_json_atomic(_part_stats_path(out_path), summary)
    return summary


def run_source_part(stage: SourceStage, units: list[Any], out_path: str, part_key: str) -> dict[str, Any]:
    """One Ray task: read the units of one part, write documents and quarantined records."""
    stats = StageStats()
    docs: list[Doc] = []
    drops: list[Drop] = []
    with PartWriter(out_path, DOC_SCHEMA) as kept_w, PartWriter(_dropped_path(out_path), DROP_SCHEMA) as drop_w:

        def flush() -> None:
            if docs:
                table = docs_to_table(docs)
                stats.add_in(table.num_rows, table_bytes(table))
                stats.add_kept(table.num_rows, table_bytes(table))
                kept_w.write(table)
                docs.clear()
            if drops:
                table = drops_to_table(drops)
                stats.add_in(table.num_rows, table_bytes(table))
                stats.add_drop_rows(table)
                drop_w.write(table)
                drops.clear()

        for item in stage.read(units):
            (docs if isinstance(item, Doc) else drops).append(item)
            if len(docs) + len(drops) >= WRITE_BATCH_ROWS:
                flush()
        flush()
    summary = {"key": part_key, "stats": stats.to_json()}
    write_json_atomic(_part_stats_path(out_path), summary)
    return summary


def _reuse_part(out_path: str, key: str) -> dict[str, Any] | None:
    """A part finished by an earlier run with the same input and config, or None."""
    stats_path = _part_stats_path(out_path)
    if not (os.path.exists(out_path) and os.path.exists(stats_path)):
        return None
    summary = read_json(stats_path)
    return summary if summary.get("key") == key else None


# ------------------------------------------------------------------------------------- executor


def _hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


class Executor:
    """Runs stages in order on Ray. The first stage must be a SourceStage."""

    def __init__(self, out_dir: str | Path, seed: int = 1234, resume: bool = False) -> None:
        self.out_dir = Path(out_dir).resolve()
        self.seed = seed
        self.resume = resume
        self.extras: dict[str, Any] = {}
        self.ran: list[str] = []  # stages computed (not skipped) by the last run()

    # A stage's identity: its config and code version plus everything upstream of it.
    def _stage_key(self, stage: Stage, input_fp: str) -> str:
        return _hash(stage.fingerprint(), input_fp, str(self.seed))

    def run(self, stages: list[Stage], only: set[str] | None = None) -> dict[str, StageStats]:
        names = [s.name for s in stages]
        if only:
            unknown = only - set(names)
            if unknown:
                raise PreflightError(f"--stages names unknown stage(s) {sorted(unknown)}; known: {names}")
        for stage in stages:
            stage.preflight()
        self.ran = []
        results: dict[str, StageStats] = {}
        upstream_fp = ""
        prev_dir: Path | None = None
        for stage in stages:
            stage_dir = self.out_dir / stage.name
            ctx = RunContext(self.out_dir, self.seed, self.resume, self.extras, stage.name)
            stage.work_dir = self.out_dir / "_tmp" / stage.name
            if isinstance(stage, SourceStage):
                units = stage.plan()
                input_fp = stage.input_fingerprint(units)
            else:
                if prev_dir is None:
                    raise PreflightError(f"stage {stage.name!r} needs an input stage before it")
                units = []
                input_fp = upstream_fp
            key = self._stage_key(stage, input_fp)
            success = stage_dir / SUCCESS
            if only and stage.name not in only:
                if not success.exists():
                    raise PreflightError(f"stage {stage.name!r} is not selected and has no finished output in {stage_dir}")
                done = read_json(success)
                results[stage.name] = StageStats.from_json(done["stats"])
                upstream_fp, prev_dir = done["key"], stage_dir
                continue
            if self.resume and success.exists() and read_json(success).get("key") == key:
                log.info("stage %s: finished earlier with the same inputs and config, skipped", stage.name)
                results[stage.name] = StageStats.from_json(read_json(success)["stats"])
                upstream_fp, prev_dir = key, stage_dir
                continue
            # Global stages do not reuse parts: they always start from an empty folder.
            if (not self.resume or isinstance(stage, GlobalStage)) and stage_dir.exists():
                shutil.rmtree(stage_dir)
            shutil.rmtree(self.out_dir / "_tmp" / stage.name, ignore_errors=True)
            success.unlink(missing_ok=True)
            stage_dir.mkdir(parents=True, exist_ok=True)
            started = time.time()
            log.info("stage %s: starting", stage.name)
            if isinstance(stage, SourceStage):
                stats = self._run_source(stage, units, stage_dir, key)
            elif isinstance(stage, MapStage):
                stats = self._run_map(stage, list_parts(prev_dir), stage_dir, key)
            elif isinstance(stage, GlobalStage):
                stats = stage.run(ctx, list_parts(prev_dir))
            else:
                raise TypeError(f"unknown stage shape {type(stage).__name__}")
            stats.check(stage.name)
            previous = results.get(names[names.index(stage.name) - 1]) if names.index(stage.name) else None
            if previous is not None and stats.in_records != previous.out_records:
                raise StatsMismatch(
                    f"stage {stage.name!r} read {stats.in_records} records but the stage before it wrote {previous.out_records}"
                )
            write_json_atomic(
                success,
                {
                    "stage": stage.name,
                    "key": key,
                    "config_hash": stage.fingerprint(),
                    "input_fingerprint": input_fp,
                    "seed": self.seed,
                    "parts": [Path(p).name for p in list_parts(stage_dir)],
                    "stats": stats.to_json(),
                    "seconds": round(time.time() - started, 2),
                },
            )
            log.info("stage %s: in=%d kept=%d dropped=%s (%.1fs)", stage.name, stats.in_records, stats.kept, dict(stats.dropped), time.time() - started)
            results[stage.name] = stats
            self.ran.append(stage.name)
            upstream_fp, prev_dir = key, stage_dir
        shutil.rmtree(self.out_dir / "_tmp", ignore_errors=True)
        return results

    def _collect(self, summaries: list[dict[str, Any]]) -> StageStats:
        total = StageStats()
        for summary in summaries:
            total.merge(StageStats.from_json(summary["stats"]))
        return total

    def _run_source(self, stage: SourceStage, units: list[Any], stage_dir: Path, key: str) -> StageStats:
        per_part = max(1, stage.units_per_part())
        groups = [units[i : i + per_part] for i in range(0, len(units), per_part)]
        jobs = [(group, _hash(key, *(repr(u) for u in group))) for group in groups]
        return self._run_parts(stage, run_source_part, jobs, stage_dir)

    def _run_map(self, stage: MapStage, inputs: list[str], stage_dir: Path, key: str) -> StageStats:
        jobs = [(p, _hash(key, Path(p).name, str(os.stat(p).st_size))) for p in inputs]
        return self._run_parts(stage, run_map_part, jobs, stage_dir)

    def _run_parts(self, stage: Stage, task_fn: Callable[..., dict], jobs: list[tuple[Any, str]], stage_dir: Path) -> StageStats:
        """One Ray task per (input, part key); part i of the output comes from job i. With --resume a
        part finished earlier under the same key is reused, not recomputed."""
        import ray

        stage_ref = ray.put(stage)  # shipped once, not once per task
        options: dict[str, Any] = {"num_cpus": stage.resources.num_cpus, "max_retries": 2}
        if stage.resources.memory_mb:
            options["memory"] = stage.resources.memory_mb * 1024 * 1024
        task = ray.remote(**options)(task_fn)
        summaries: list[dict[str, Any] | None] = []
        refs, slots = [], []
        for i, (job_input, part_key) in enumerate(jobs):
            out_path = str(stage_dir / part_name(i))
            reused = _reuse_part(out_path, part_key) if self.resume else None
            summaries.append(reused)
            if reused is None:
                refs.append(task.remote(stage_ref, job_input, out_path, part_key))
                slots.append(i)
        for slot, summary in zip(slots, wait_with_progress(refs, stage.name)):
            summaries[slot] = summary
        _remove_parts_from(stage_dir, len(jobs))
        return self._collect([s for s in summaries if s is not None])


def _remove_parts_from(stage_dir: Path, first: int) -> None:
    """Parts left by an earlier run that had more of them (a resumed run with another config)."""
    for path in list(stage_dir.glob("part-*.parquet")) + list((stage_dir / "_dropped").glob("part-*.parquet")):
        if int(path.stem.split("-")[1]) >= first:
            path.unlink()
            Path(_part_stats_path(str(path))).unlink(missing_ok=True)


def write_stats_report(out_dir: str | Path, results: dict[str, StageStats]) -> Path:
    """OUT/reports/stats.json: {"stages": {NAME: {"in", "kept", "dropped", "out", "bytes"}}}."""
    for name, stats in results.items():
        stats.check(name)
    path = Path(out_dir) / "reports" / "stats.json"
    write_json_atomic(path, {"stages": {name: s.to_json() for name, s in results.items()}})
    return path


