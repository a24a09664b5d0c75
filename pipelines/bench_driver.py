"""The driver's CPU per task, and where it goes: `python -m pipelines.bench_driver` (JSON on stdout).

At 60 TB the run has ~10^7 tasks, and the driver handles every one of them serially: a millisecond per
task is hours of wall time that 1,000 cores cannot share. This bench runs, on a local Ray instance
through the real RayRunner:

- `map`: `RunContext.map` over N trivial tasks with a shared argument (what a global stage's step costs
  the driver per task: submission, completion, progress, CPU and request bookkeeping);
- `stage`: the Executor over a tiny source stage and a tiny map stage of N one-row parts each (the
  per-part path: part keys, commit records folded as they arrive, `_SUCCESS.json`, listings): 2N
  tasks, and figures per task;
- `resume`: the same two stages resumed after a driver killed before either `_SUCCESS.json` was written
  (every part committed): the driver checks each part's commit record and files and reuses it, no
  task runs. Figures per part checked, with the storage requests per part.

Per mode and N (default 200 and 2,000), the median of `--repeats` runs of the driver process's CPU per
task (time.process_time: all its threads), split by thread (/proc: the Python thread vs Ray's own
threads), then one more run under cProfile for the Python thread's top functions. What must hold:
the per-task figure does not grow with N. The driver's idle CPU (Ray's background threads while
nothing runs) is measured too: it is paid per second of wall, not per task.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpus import storage
from corpus.engine.context import RunContext
from corpus.engine.executor import Executor
from corpus.engine.ray_runner import RayRunner
from corpus.engine.runner import Runner
from corpus.engine.stage import MapResult, MapStage, SourceStage
from corpus.layout import SUCCESS
from corpus.records import DROP_SCHEMA, Doc, Drop

MODES = ("map", "stage", "resume")


# ------------------------------------------------------------------------------ what the driver runs

def _tiny_task(shared: bytes, i: int) -> int:
    """A task that costs its worker next to nothing: the driver's share is all there is to see."""
    return i + len(shared)


class BenchSource(SourceStage):
    """N units, one per part, each one tiny document."""

    name = "bench_source"

    def __init__(self, n: int) -> None:
        super().__init__({"n": n})
        self.n = n

    def plan(self) -> list[Any]:
        return list(range(self.n))

    def read(self, units: list[Any]) -> Iterator[Doc | Drop]:
        for u in units:
            yield Doc(source="bench", domain="code", path=f"f{u}.py", text=f"x = {u}\n", repo=f"r{u}")


class BenchKeep(MapStage):
    """Keeps every row: one task per part, the per-part map path."""

    name = "bench_keep"

    def process(self, table: pa.Table) -> MapResult:
        return MapResult(table, DROP_SCHEMA.empty_table())


# ----------------------------------------------------------------------------------- measuring

def thread_cpu_seconds() -> dict[tuple[int, str], float]:
    """CPU seconds (user + system) of each thread of this process, by (thread id, name); {} off Linux."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[tuple[int, str], float] = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tids:
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
            name = Path(f"/proc/self/task/{tid}/comm").read_text().strip()
        except OSError:  # the thread ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out[(int(tid), name)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def _by_thread(before: dict[tuple[int, str], float], after: dict[tuple[int, str], float]) -> dict[str, float]:
    """CPU seconds between two snapshots: the Python main thread as "python", Ray's threads by name."""
    out: dict[str, float] = {}
    for (tid, name), cpu in after.items():
        label = "python" if tid == os.getpid() else name
        out[label] = out.get(label, 0.0) + cpu - before.get((tid, name), 0.0)
    return {k: v for k, v in out.items() if v > 0}


def measure(run: Callable[[], Any], n: int) -> dict[str, Any]:
    """One run of `run` (n tasks): wall, the driver's CPU per task in all and per thread."""
    threads = thread_cpu_seconds()
    wall, cpu = time.perf_counter(), time.process_time()
    requests = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    split = _by_thread(threads, thread_cpu_seconds())
    out = {"wall_s": wall, "cpu_ms_per_task": cpu / n * 1e3,
           "by_thread_ms_per_task": {k: v / n * 1e3 for k, v in sorted(split.items(), key=lambda kv: -kv[1])}}
    if isinstance(requests, dict):  # a run that counted the driver's storage requests
        out["requests_per_task"] = storage.requests_total(requests) / n
    return out


# Builtins the Python thread blocks in while it waits for tasks: time spent idle, not working.
BLOCKING = ("_queue.SimpleQueue", "_thread.lock", "'sleep'", "select.")


def profile(run: Callable[[], Any], n: int, top: int) -> dict[str, list[dict[str, Any]]]:
    """One run under cProfile, in ms per task (cProfile inflates every figure: compare within a list):
    the Python thread's `top` functions by own time (waits for tasks left out), and the project's own
    functions (corpus.*) by cumulative time."""
    prof = cProfile.Profile()
    prof.enable()
    run()
    prof.disable()
    rows, ours = [], []
    for (path, line, func), (_, ncalls, tottime, cumtime, _) in pstats.Stats(prof).stats.items():  # type: ignore[attr-defined]
        if path == "~" and any(b in func for b in BLOCKING):
            continue
        where = f"{Path(path).name}:{line}({func})" if path != "~" else func
        row = {"function": where, "calls_per_task": round(ncalls / n, 2),
               "own_ms_per_task": round(tottime / n * 1e3, 4), "cum_ms_per_task": round(cumtime / n * 1e3, 4)}
        rows.append(row)
        if f"{os.sep}corpus{os.sep}" in path:
            ours.append(row)
    return {"by_own_time": sorted(rows, key=lambda r: -r["own_ms_per_task"])[:top],
            "corpus_by_cum_time": sorted(ours, key=lambda r: -r["cum_ms_per_task"])[:top]}


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    threads = sorted({k for r in runs for k in r["by_thread_ms_per_task"]})
    extra = {"requests_per_task": round(runs[0]["requests_per_task"], 2)} if "requests_per_task" in runs[0] else {}
    return extra | {
        "cpu_ms_per_task": round(statistics.median(r["cpu_ms_per_task"] for r in runs), 4),
        "cpu_ms_per_task_runs": [round(r["cpu_ms_per_task"], 4) for r in runs],
        "wall_s": round(statistics.median(r["wall_s"] for r in runs), 3),
        "by_thread_ms_per_task": {t: round(statistics.median(r["by_thread_ms_per_task"].get(t, 0.0) for r in runs), 4)
                                  for t in threads},
    }


def _map_run(runner: Runner, work: Path, n: int) -> Callable[[], Any]:
    ctx = RunContext(storage.normalize(str(work)), "bench_driver", runner)
    shared = ctx.share(b"x" * 4096)

    def run() -> None:
        results = ctx.map(_tiny_task, [(shared, i) for i in range(n)], desc="bench_driver:map", count=lambda r: 1)
        assert results == [i + 4096 for i in range(n)]

    return run


def _stage_run(runner: Runner, work: Path, n: int) -> Callable[[], Any]:
    def run() -> None:
        out = Path(tempfile.mkdtemp(prefix=f"stage-{n}-", dir=work))  # a fresh OUT: nothing to remove first
        results = Executor(str(out), runner=runner).run([BenchSource(n), BenchKeep()])
        assert results["bench_keep"].kept == n

    return run


def _resume_run(runner: Runner, work: Path, n: int, where: str | None = None) -> Callable[[], Any]:
    out = storage.join(storage.normalize(where), f"resume-{n}") if where else storage.normalize(str(work / f"resume-{n}"))
    stages = [BenchSource(n), BenchKeep()]
    Executor(out, runner=runner).run(stages)  # the run that was killed: not measured

    def run() -> dict[str, int]:
        for stage in stages:  # killed after the last part's commit record, before the stage's commit
            storage.remove(storage.join(out, stage.name, SUCCESS))
        resumed = Executor(out, resume=True, runner=runner)
        results = resumed.run(stages)
        assert resumed.ran == [s.name for s in stages] and results["bench_keep"].kept == n
        requests: dict[str, int] = {}  # the driver's own, as each stage's commit counted them
        for stage in stages:
            for kind, count in storage.read_json(storage.join(out, stage.name, SUCCESS))["driver_requests"].items():
                requests[kind] = requests.get(kind, 0) + count
        return requests

    return run


def bench_driver(counts: tuple[int, ...] = (200, 2000), modes: tuple[str, ...] = MODES, repeats: int = 3,
                 num_cpus: int = 2, top: int = 15, idle_s: float = 5.0, resume_out: str | None = None) -> dict[str, Any]:
    """The driver's CPU per task by mode and task count (medians of `repeats`), by thread, its idle CPU
    per second, and a cProfile of the Python thread at the largest count. `resume_out`: where the
    resume mode writes (e.g. an s3:// prefix; default a local temporary folder)."""
    runner = RayRunner(num_cpus=num_cpus)
    out: dict[str, Any] = {"cpus": num_cpus, "max_in_flight": runner.max_in_flight, "repeats": repeats,
                           "resume_out": resume_out or "local"}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-driver-") as tmp:
            work = Path(tmp)
            makers = {"map": _map_run, "stage": _stage_run,
                      "resume": lambda runner, work, n: _resume_run(runner, work, n, resume_out)}
            # a stage run: n source tasks, then n map tasks; a resumed one: 2n parts checked, no task
            tasks_per_n = {"map": 1, "stage": 2, "resume": 2}
            _map_run(runner, work, 50)()  # workers started and warm: not part of any figure
            cpu = time.process_time()
            time.sleep(idle_s)
            out["idle_cpu_ms_per_s"] = round((time.process_time() - cpu) / idle_s * 1e3, 3)
            for mode in modes:
                rows: dict[str, Any] = {}
                for n in counts:
                    run = makers[mode](runner, work, n)
                    rows[str(n)] = _median([measure(run, n * tasks_per_n[mode]) for _ in range(repeats)])
                first, last = rows[str(counts[0])], rows[str(counts[-1])]
                rows["ratio_per_task_last_to_first"] = round(last["cpu_ms_per_task"] / first["cpu_ms_per_task"], 3)
                rows["profile_at_" + str(counts[-1])] = profile(makers[mode](runner, work, counts[-1]),
                                                                counts[-1] * tasks_per_n[mode], top)
                out[mode] = rows
    finally:
        runner.shutdown()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the Ray driver's CPU per task, and where it goes (JSON)")
    parser.add_argument("--counts", type=int, nargs="+", default=[200, 2000], help="tasks per map (parts per stage)")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--top", type=int, default=15, help="functions listed per profile")
    parser.add_argument("--resume-out", help="where the resume mode writes: an s3:// prefix (credentials and endpoint "
                        "from the environment) shows the object-store latency; default a local temporary folder")
    parser.add_argument("--output", help="also write the JSON here")
    args = parser.parse_args(argv)
    os.environ.setdefault("CORPUS_PROGRESS_MODE", "log")  # a bar redrawn on stderr would be measured too
    result = bench_driver(tuple(args.counts), tuple(args.modes), args.repeats, args.num_cpus, args.top,
                          resume_out=args.resume_out)
    text = json.dumps(result, indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    # The importable module, not __main__: Ray workers find the bench's stages and tasks by that name.
    from pipelines import bench_driver

    sys.exit(bench_driver.main())
