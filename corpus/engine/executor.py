"""The executor: runs a list of stages in order, one folder per stage, resumable and accounted.

It knows nothing about what a stage does, only its shape (corpus.engine.stage), and nothing about Ray: work
goes through a Runner (corpus.engine.runner). Per stage it writes `OUT/<stage>/part-*.parquet`, quarantined
rows under `OUT/<stage>/_dropped/`, a commit record per part, and `_SUCCESS.json` last (stage key, input
fingerprint, the part names the next stage reads, counts). Every byte goes through corpus.storage, so OUT
may be a local folder or an object-store URI. The driver holds O(parts) state: part names, keys and
per-part counts.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from corpus import storage
from corpus.engine.context import RunContext
from corpus.engine.parts import PART_PREFIX, commit_part, committed, dropped_uri, footer_rows, part_name
from corpus.engine.parts import _part_order as part_order
from corpus.engine.runner import InProcessRunner, Runner, largest_first
from corpus.engine.stage import GlobalStage, MapStage, SourceStage, Stage
from corpus.errors import PreflightError
from corpus.hfcard import write_dataset_card
from corpus.layout import DROPPED_DIR, REPORTS_DIR, SCRATCH_DIR, STATS_REPORT, STEPS_DIR, SUCCESS
from corpus.records import DOC_SCHEMA, DROP_SCHEMA, Doc, Drop, docs_to_table, drops_to_table, table_bytes
from corpus.stats import StageStats, StatsMismatch

__all__ = ["Executor", "PreflightError", "write_stats_report"]

log = logging.getLogger("corpus")

WRITE_BATCH_ROWS = 1024
# A source task writes what it holds once it reaches either bound, so its memory stays ~2x this
# whatever the file sizes (1,024 files of 1 MB would otherwise sit in memory at once).
WRITE_BATCH_BYTES = 32 << 20
# --resume checks the commit of every part of the stage it resumes: on an object store, latency-bound
# small requests, made in this many threads.
RESUME_CHECK_THREADS = 16
RESUME_CHECK_CHUNK = 1024  # parts checked at once


# -------------------------------------------------------------------------------- per-part tasks

# Stages already set up in this worker process, by fingerprint: setup() (models, registries, indexes)
# should run once per process, not once per part.
_READY_STAGES: dict[str, MapStage] = {}


def run_map_part(stage: MapStage, in_uri: str, out_uri: str, part_key: str) -> dict[str, Any]:
    """One task: stream a part through stage.process, write kept and dropped rows, commit the part."""
    key = stage.fingerprint()
    if key not in _READY_STAGES:
        stage.setup()
        _READY_STAGES[key] = stage
    stage = _READY_STAGES[key]
    stats = StageStats()
    with storage.PartWriter(out_uri, stage.output_schema) as kept_w, storage.PartWriter(dropped_uri(out_uri), DROP_SCHEMA) as drop_w:
        for batch in storage.iter_batches(in_uri, stage.batch_rows):
            result = stage.process(batch)
            if result.kept.num_rows + result.dropped.num_rows != batch.num_rows:
                raise StatsMismatch(
                    f"stage {stage.name} lost records in {in_uri}: {batch.num_rows} in, "
                    f"{result.kept.num_rows} kept + {result.dropped.num_rows} dropped"
                )
            stats.add_in(batch.num_rows, table_bytes(batch))
            stats.add_kept(result.kept.num_rows, table_bytes(result.kept))
            stats.add_drop_rows(result.dropped)
            stats.counts.update(result.counts or {})
            kept_w.write(result.kept)
            drop_w.write(result.dropped)
    return commit_part(out_uri, part_key, stats)


def run_source_part(stage: SourceStage, units: list[Any], out_uri: str, part_key: str) -> dict[str, Any]:
    """One task: read the units of one part, write documents and quarantined records, commit the part."""
    stats = StageStats()
    docs_by_source: dict[str, int] = {}
    docs: list[Doc] = []
    drops: list[Drop] = []
    held = 0  # characters of text in `docs` (about its bytes for code)
    with storage.PartWriter(out_uri, DOC_SCHEMA) as kept_w, storage.PartWriter(dropped_uri(out_uri), DROP_SCHEMA) as drop_w:

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
            if isinstance(item, Doc):
                docs_by_source[item.source] = docs_by_source.get(item.source, 0) + 1
                held += len(item.text)
            if len(docs) + len(drops) >= WRITE_BATCH_ROWS or held >= WRITE_BATCH_BYTES:
                flush()
                held = 0
        flush()
    return commit_part(out_uri, part_key, stats, {"docs_by_source": docs_by_source})


# ------------------------------------------------------------------------------------- executor


def _hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _task_cpu(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """The CPU seconds the stage's tasks used (wherever they ran), in all and per step (the `desc` of
    each map: `stage` or `stage:step`): the per-stage CPU profile of a run."""
    steps = {k: round(v - before.get(k, 0.0), 3) for k, v in after.items() if v - before.get(k, 0.0) > 0}
    return {"task_cpu_seconds": round(sum(steps.values()), 3), "task_cpu_by_step": dict(sorted(steps.items()))}


def _task_requests(before: dict[str, dict], after: dict[str, dict]) -> dict[str, Any]:
    """The storage requests of the stage's tasks per step: {STEP: {"tasks", "total", "max_per_task",
    "by_kind"}} (what a 60 TB plan multiplies out; max_per_task must not grow with parts). A step
    that also ran before under the same name (a second run on one runner) keeps its later maximum."""
    out = {}
    for step, now in after.items():
        was = before.get(step, {"tasks": 0, "total": 0, "by_kind": {}})
        if now["tasks"] == was["tasks"]:
            continue
        out[step] = {"tasks": now["tasks"] - was["tasks"], "total": now["total"] - was["total"], "max_per_task": now["max_per_task"],
                     "by_kind": {k: n - was["by_kind"].get(k, 0) for k, n in sorted(now["by_kind"].items())}}
    return dict(sorted(out.items()))


class Executor:
    """Runs stages in order through a runner. The first stage must be a SourceStage."""

    def __init__(self, out_dir: str, seed: int = 1234, resume: bool = False, runner: Runner | None = None,
                 guard: Callable[[], None] | None = None) -> None:
        self.out_uri = storage.normalize(out_dir)
        # Called before a stage starts writing and before it commits; raises to stop the run (the run
        # lock's `verify`: a run whose lock was taken over must not write on).
        self.guard = guard or (lambda: None)
        self.seed = seed
        self.resume = resume
        self.runner = runner or InProcessRunner()
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
            # Stages after the last selected one do not run: `--stages ingest` on a fresh OUT runs a prefix.
            last = max(names.index(n) for n in only)
            stages, names = stages[: last + 1], names[: last + 1]
        for stage in stages:  # the one pre-flight of the run: before any stage starts (and before Ray does)
            stage.preflight()
        self.ran = []
        results: dict[str, StageStats] = {}
        upstream_fp = ""
        inputs: list[str] | None = None  # the parts the previous stage committed
        input_sizes: list[int] | None = None  # their bytes, as its _SUCCESS.json names them (no listing)
        for stage in stages:
            stage_uri = storage.join(self.out_uri, stage.name)
            success = storage.join(stage_uri, SUCCESS)
            if isinstance(stage, SourceStage):
                # A source not selected by --stages must reuse what it planned before, not redo it.
                stage.bind_output(self.out_uri, self.resume or bool(only and stage.name not in only))
                units = stage.plan()
                input_fp = stage.input_fingerprint(units)
            else:
                if inputs is None:
                    raise PreflightError(f"stage {stage.name!r} needs an input stage before it")
                units = []
                input_fp = upstream_fp
            key = self._stage_key(stage, input_fp)
            known = dict(zip(inputs, input_sizes)) if inputs and input_sizes and len(input_sizes) == len(inputs) else {}
            ctx = RunContext(self.out_uri, stage.name, self.runner, self.seed, key, self.extras, resume=self.resume, known_sizes=known)
            done = storage.read_json(success) if storage.exists(success) else None
            if only and stage.name not in only:
                if done is None:
                    raise PreflightError(f"stage {stage.name!r} is not selected and has no finished output in {stage_uri}")
                results[stage.name] = StageStats.from_json(done["stats"])
                upstream_fp, inputs = done["key"], [storage.join(stage_uri, p) for p in done["parts"]]
                input_sizes = done.get("part_bytes")
                continue
            if self.resume and done is not None and done.get("key") == key:
                damaged = _damaged_files(stage_uri, done)
                if not damaged:
                    log.info("stage %s: finished earlier with the same inputs and config, skipped", stage.name)
                    results[stage.name] = StageStats.from_json(done["stats"])
                    upstream_fp, inputs = key, [storage.join(stage_uri, p) for p in done["parts"]]
                    input_sizes = done.get("part_bytes")
                    continue
                log.warning("stage %s: finished earlier, but %d of its files differ from its commit (%s): rebuilding",
                            stage.name, len(damaged), ", ".join(damaged[:5]) + (" ..." if len(damaged) > 5 else ""))
                if isinstance(stage, GlobalStage):  # its saved steps would skip the damaged writes: start it over
                    storage.remove(storage.join(stage_uri, STEPS_DIR, "_key.json"))
            self.guard()
            self._prepare(stage, ctx, key)
            started, cpu_started = time.time(), time.process_time()
            tasks_cpu_before = dict(getattr(self.runner, "cpu_seconds", {}))
            requests_before = copy.deepcopy(getattr(self.runner, "requests_by_step", {}))
            # A lazily started runner (Ray) starts inside the first stage that has work: keep that
            # start out of the stage's seconds, as it was before the start became lazy.
            runner_start_before = getattr(self.runner, "start_seconds", 0.0)
            log.info("stage %s: starting", stage.name)
            with storage.counting_requests() as driver_requests:
                stats, parts, sizes = self._compute(stage, ctx, units, inputs or [], key)
            stats.check(stage.name)
            _remove_temporaries(stage_uri)
            previous = results.get(names[names.index(stage.name) - 1]) if names.index(stage.name) else None
            if previous is not None and stats.in_records != previous.out_records:
                raise StatsMismatch(
                    f"stage {stage.name!r} read {stats.in_records} records but the stage before it wrote {previous.out_records}"
                )
            runner_start = getattr(self.runner, "start_seconds", 0.0) - runner_start_before
            seconds = time.time() - started - runner_start
            self.guard()
            storage.write_json(
                success,
                {
                    "stage": stage.name,
                    "key": key,
                    "config_hash": stage.fingerprint(),
                    "input_fingerprint": input_fp,
                    "seed": self.seed,
                    "parts": [storage.basename(p) for p in parts],
                    # bytes of each part (from the commit records, or the one listing of a global stage's
                    # folder): the next stage orders its tasks by them without listing this folder
                    "part_bytes": list(sizes),
                    # Byte sizes of the parts and their quarantines: --resume checks a finished stage
                    # against them (one listing per folder) and rebuilds it when a file differs.
                    "files": _part_files(stage_uri, [storage.basename(p) for p in parts]),
                    "stats": stats.to_json(),
                    "seconds": round(seconds, 2),
                    "runner_start_seconds": round(runner_start, 2),
                    # The driver's own CPU time for the stage: must stay small and O(parts).
                    "driver_cpu_seconds": round(time.process_time() - cpu_started, 2),
                    **_task_cpu(tasks_cpu_before, getattr(self.runner, "cpu_seconds", {})),
                    "requests_by_step": _task_requests(requests_before, getattr(self.runner, "requests_by_step", {})),
                    # The driver's own storage requests for the stage (planning, commit checks, listings).
                    "driver_requests": driver_requests,
                },
            )
            # The stage is committed: its scratch is no longer needed by anyone.
            storage.remove(ctx.scratch_uri, recursive=True)
            # OUT/README.md names every committed stage's files for `datasets.load_dataset(OUT, stage)`.
            # A convenience: the stage is committed, so a card that cannot be written only warns.
            try:
                write_dataset_card(self.out_uri, names)
            except Exception as exc:  # noqa: BLE001
                log.warning("dataset card %s/README.md not written: %s: %s", self.out_uri, type(exc).__name__, exc)
            log.info("stage %s: in=%d kept=%d dropped=%s (%.1fs)", stage.name, stats.in_records, stats.kept, dict(stats.dropped), seconds)
            results[stage.name] = stats
            self.ran.append(stage.name)
            upstream_fp, inputs, input_sizes = key, parts, list(sizes)
        storage.remove(storage.join(self.out_uri, SCRATCH_DIR), recursive=True)
        return results

    def _compute(self, stage: Stage, ctx: RunContext, units: list[Any], inputs: list[str],
                 key: str) -> tuple[StageStats, list[str], Sequence[int]]:
        """Run one stage's work: its accounting, the parts it committed and their bytes."""
        stage_uri = ctx.stage_uri
        if isinstance(stage, SourceStage):
            fold = self._run_source(stage, units, stage_uri, key)
            stage.check_yield(dict(sorted(fold.docs_by_source.items())), fold.total)
            return fold.total, fold.parts, fold.sizes
        if isinstance(stage, MapStage):
            fold = self._run_map(stage, inputs, ctx, key)
            return fold.total, fold.parts, fold.sizes
        if isinstance(stage, GlobalStage):
            stats = stage.run(ctx, inputs)
            listed = storage.list_sizes(stage_uri)  # one listing: the parts a global stage wrote, and their bytes
            names = sorted((n for n in listed if n.startswith(PART_PREFIX) and n.endswith(".parquet")), key=part_order)
            return stats, [storage.join(stage_uri, n) for n in names], [listed[n] for n in names]
        raise TypeError(f"unknown stage shape {type(stage).__name__}")

    def _prepare(self, stage: Stage, ctx: RunContext, key: str) -> None:
        """Empty the stage folder and scratch unless --resume may reuse them: map and source stages
        reuse committed parts (checked per part), global stages reuse the steps saved under this key."""
        stage_uri = ctx.stage_uri
        storage.remove(storage.join(stage_uri, SUCCESS))
        key_uri = storage.join(stage_uri, STEPS_DIR, "_key.json")
        if isinstance(stage, GlobalStage):
            same = self.resume and storage.exists(key_uri) and storage.read_json(key_uri).get("key") == key
            if not same:
                storage.remove(stage_uri, recursive=True)
                storage.remove(ctx.scratch_uri, recursive=True)
                storage.write_json(key_uri, {"key": key})
            return
        if not self.resume:
            storage.remove(stage_uri, recursive=True)
        storage.remove(ctx.scratch_uri, recursive=True)
        storage.makedirs(stage_uri)

    def _run_source(self, stage: SourceStage, units: list[Any], stage_uri: str, key: str) -> _Committed:
        groups = stage.part_groups(units)
        jobs = [(group, _hash(key, *(repr(u) for u in group))) for group in groups]
        costs = [sum(stage.unit_bytes(u) or 0 for u in group) for group in groups]  # known sizes: biggest first
        return self._run_parts(stage, run_source_part, jobs, stage_uri, costs=costs if any(costs) else None)

    def _run_map(self, stage: MapStage, inputs: list[str], ctx: RunContext, key: str) -> _Committed:
        sizes = ctx.part_sizes(inputs)  # from the stage before's _SUCCESS.json, else one listing per folder
        jobs = [(p, _hash(key, storage.basename(p), str(size))) for p, size in zip(inputs, sizes)]
        return self._run_parts(stage, run_map_part, jobs, ctx.stage_uri, costs=sizes)

    def _run_parts(self, stage: Stage, task_fn: Callable[..., dict], jobs: list[tuple[Any, str]], stage_uri: str,
                   costs: list[int] | None = None) -> _Committed:
        """One task per (input, part key); part i of the output comes from job i. With --resume a part
        committed earlier under the same key, with its files intact, is reused, not recomputed.
        Returns what the driver keeps of the commit records: each is folded in as it arrives (totals,
        sizes), never held, so the driver's memory does not grow with their number."""
        shared = self.runner.share(stage)  # shipped once, not once per task
        fold = _Committed(stage_uri, len(jobs))
        args, arg_costs, arg_part = [], [], array("q")
        reused = 0
        records = _earlier_commits(stage_uri, [key for _, key in jobs]) if self.resume else iter(())
        for i, (job_input, part_key) in enumerate(jobs):
            out_uri = storage.join(stage_uri, part_name(i))
            record = next(records) if self.resume else None
            if record is not None:
                fold.add(i, record)
                reused += 1
            else:
                args.append((shared, job_input, out_uri, part_key))
                arg_costs.append(costs[i] if costs else 0)
                arg_part.append(i)
        if reused:
            log.info("stage %s: %d of %d parts reused from an earlier run", stage.name, reused, len(jobs))
        res = stage.resources
        # The biggest inputs start first: on few CPUs a big part started last leaves the others idle.
        order = largest_first(arg_costs) if costs else None
        self.runner.map(task_fn, args, num_cpus=res.num_cpus, memory_mb=res.memory_mb, desc=stage.name, order=order,
                        count=records_in, sink=lambda k, record: fold.add(arg_part[k], record))
        if self.resume:  # without --resume the folder was emptied first: nothing stale to look for
            _remove_stale(stage_uri, len(jobs))
        return fold


class _Committed:
    """What the driver keeps of a part stage's commit records, folded in one by one as tasks finish:
    the stage's totals, docs per source and each part's bytes (8 bytes a part, not the ~3 KB record)."""

    def __init__(self, stage_uri: str, n_parts: int) -> None:
        self.stage_uri = stage_uri
        self.total = StageStats()
        self.docs_by_source: dict[str, int] = {}
        self.sizes = array("q", [-1]) * n_parts

    def add(self, i: int, record: dict[str, Any]) -> None:
        self.total.merge(StageStats.from_json(record["stats"]))
        for source, n in record.get("docs_by_source", {}).items():
            self.docs_by_source[source] = self.docs_by_source.get(source, 0) + n
        self.sizes[i] = int(record.get("files", {}).get(part_name(i), -1))

    @property
    def parts(self) -> list[str]:
        return [storage.join(self.stage_uri, part_name(i)) for i in range(len(self.sizes))]


def _earlier_commits(stage_uri: str, part_keys: list[str]) -> Iterator[dict[str, Any] | None]:
    """parts.committed() of part i under part_keys[i], in part order. Each check is ~9 small requests
    (the record, then existence, size and footer of each file; pipelines/bench_driver.py `resume`):
    one after another on an object store, at 20 ms a request, ~47 h for 937,500 parts. There a few
    threads check a chunk at a time (the driver holds at most one chunk of records); on a local disk
    they only add CPU (measured), so the checks stay serial."""

    def check(i: int) -> dict[str, Any] | None:
        return committed(storage.join(stage_uri, part_name(i)), part_keys[i])

    if not storage.is_remote(stage_uri):
        yield from map(check, range(len(part_keys)))
        return
    with ThreadPoolExecutor(max_workers=RESUME_CHECK_THREADS) as pool:
        for start in range(0, len(part_keys), RESUME_CHECK_CHUNK):
            yield from pool.map(check, range(start, min(len(part_keys), start + RESUME_CHECK_CHUNK)))


def _part_files(stage_uri: str, names: list[str]) -> dict[str, int]:
    """{name: bytes} of the named parts and of their quarantines (`_dropped/NAME`): two listings."""
    top = storage.list_sizes(stage_uri)
    dropped = storage.list_sizes(storage.join(stage_uri, DROPPED_DIR))
    files = {n: top[n] for n in names if n in top}
    files.update({f"{DROPPED_DIR}/{n}": dropped[n] for n in names if n in dropped})
    return files


def _damaged_files(stage_uri: str, done: dict[str, Any]) -> list[str]:
    """Files of a finished stage whose size is not the one its _SUCCESS.json recorded, or that are
    gone (a commit written before sizes were recorded is trusted as it is)."""
    recorded = done.get("files")
    if recorded is None:
        return []
    now = _part_files(stage_uri, list(done.get("parts", [])))
    damaged = {n for n in set(recorded) | set(now) if recorded.get(n) != now.get(n)}
    # A file of the right size can still be torn (rewritten in place): its Parquet footer must read.
    # Footers are read in a few threads: a range request each on an object store.
    same = sorted(n for n in recorded if n not in damaged)
    with ThreadPoolExecutor(max_workers=16) as pool:
        rows = list(pool.map(lambda n: footer_rows(storage.join(stage_uri, *n.split("/"))), same))
    damaged.update(n for n, r in zip(same, rows) if r is None)
    return sorted(damaged)


def records_in(record: dict[str, Any]) -> int:
    """The records a part task read, from its commit record (what progress counts per task)."""
    return int(record["stats"]["in"])


def _remove_stale(stage_uri: str, n_parts: int) -> None:
    """Parts left by an earlier run that had more of them, and temporaries of killed local writers."""
    for folder in (stage_uri, storage.join(stage_uri, DROPPED_DIR)):
        for name in storage.listdir(folder):
            stale_tmp = name.startswith(".") and ".tmp-" in name
            index = name.removeprefix("_").removeprefix("part-").split(".")[0]
            stale_part = ("part-" in name) and index.isdigit() and int(index) >= n_parts
            if stale_tmp or stale_part:
                storage.remove(storage.join(folder, name))


def _remove_temporaries(stage_uri: str) -> None:
    """Temporary files a killed local writer left anywhere in a finished stage folder (object-store
    writers spool outside OUT, so there is nothing to look for there)."""
    if storage.is_remote(stage_uri):
        return
    for rel in storage.find(stage_uri):
        name = rel.rsplit("/", 1)[-1]
        if name.startswith(".") and ".tmp-" in name:
            storage.remove(storage.join(stage_uri, rel))


def write_stats_report(out_dir: str, results: dict[str, StageStats]) -> str:
    """OUT/reports/stats.json: {"stages": {NAME: {"in", "kept", "dropped", "out", "bytes"}}}."""
    for name, stats in results.items():
        stats.check(name)
    uri = storage.join(storage.normalize(out_dir), REPORTS_DIR, STATS_REPORT)
    # `order`: the run order (the JSON keys are sorted), what the run report lays its funnel out by.
    storage.write_json(uri, {"stages": {name: s.to_json() for name, s in results.items()}, "order": list(results)})
    return uri
