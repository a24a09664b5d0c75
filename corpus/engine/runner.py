"""The runner protocol: the only way stages and the engine run work in parallel.

A runner maps a function over argument tuples (one task each, results in input order) and shares large
objects with every task. Stages never import Ray or the engine: they call `ctx.map` / `ctx.share` on
their RunContext, which forwards here. Two runners implement it:

- InProcessRunner: runs every task in this process, one after the other (unit tests, debugging, pdb);
- RayRunner (corpus.engine.ray_runner): Ray tasks with a bounded number in flight.

`Runner.map` itself is shared: a runner only says how to run tasks and yields them as they finish
(`_run_tasks`), with a heartbeat (None) whenever `heartbeat` seconds pass without one finishing;
collecting results in input order, the CPU profile and progress (corpus.engine.progress) are the same for
every runner. LazyRunner starts the runner it wraps on first use.
"""

from __future__ import annotations

import resource
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from corpus import storage
from corpus.engine.progress import Progress


class Shared:
    """A handle to an object shared with every task. Pass it as a top-level argument of `map`: the task
    receives the object itself."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle


def task_cpu_seconds() -> float:
    """CPU seconds used so far by this process (all its threads) and its finished children (e.g. the
    fresh interpreter fastText trains in)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def timed_call(fn: Callable[..., Any], *args: Any) -> tuple[Any, float, dict[str, int]]:
    """fn(*args), the CPU seconds it took where it ran and the storage requests it made (by kind,
    corpus.storage): what runners add up per `desc`."""
    started = task_cpu_seconds()
    with storage.counting_requests() as requests:
        result = fn(*args)
    return result, task_cpu_seconds() - started, requests


class Runner(ABC):
    #: CPU seconds of finished tasks by `desc` (their own process and children): a per-stage and
    #: per-step CPU profile that works on a cluster, where the driver cannot see the workers' clocks.
    cpu_seconds: dict[str, float]

    #: Storage requests of finished tasks by `desc`: {"tasks", "total", "max_per_task", "by_kind"}. The
    #: per-task maximum is the number that must stay constant as parts grow.
    requests_by_step: dict[str, dict[str, Any]]

    def add_cpu(self, desc: str, seconds: float) -> None:
        if not hasattr(self, "cpu_seconds"):
            self.cpu_seconds = {}
        self.cpu_seconds[desc] = self.cpu_seconds.get(desc, 0.0) + seconds

    def add_requests(self, desc: str, requests: dict[str, int]) -> None:
        if not hasattr(self, "requests_by_step"):
            self.requests_by_step = {}
        step = self.requests_by_step.setdefault(desc, {"tasks": 0, "total": 0, "max_per_task": 0, "by_kind": {}})
        total = storage.requests_total(requests)
        step["tasks"] += 1
        step["total"] += total
        step["max_per_task"] = max(step["max_per_task"], total)
        for kind, n in requests.items():
            step["by_kind"][kind] = step["by_kind"].get(kind, 0) + n

    def map(
        self,
        fn: Callable[..., Any],
        arg_list: Iterable[tuple],
        *,
        num_cpus: float = 1.0,
        memory_mb: int | None = None,
        desc: str = "",
        order: Sequence[int] | None = None,
        count: Callable[[Any], int] | None = None,
        sink: Callable[[int, Any], None] | None = None,
    ) -> list[Any]:
        """fn(*args) for every args, as retry-safe tasks; results in input order. A task that still
        fails after the runner's retries raises here. `order` is the submission order (indices into
        arg_list, e.g. `largest_first(sizes)`); it changes when tasks start, never the results.
        `count(result)` says how many records a task stood for: progress shows records/s with it.
        With `sink`, each result goes to sink(i, result) as it arrives and is not kept (the map returns
        []): a caller that only folds results (totals of a million parts) holds none of them."""
        args = list(arg_list)
        sequence = submission_order(len(args), order)
        if not args:  # nothing to run: a LazyRunner must not start for it
            return []
        results: list[Any] = [None] * len(args) if sink is None else []
        with Progress(len(args), desc) as progress:
            for done in self._run_tasks(fn, args, sequence, num_cpus=num_cpus, memory_mb=memory_mb,
                                        heartbeat=progress.heartbeat_seconds):
                if done is None:  # a heartbeat: no task finished, but a progress line may be due
                    progress.update(0, 0)
                    continue
                i, result, cpu, requests = done
                if sink is None:
                    results[i] = result
                else:
                    sink(i, result)
                self.add_cpu(desc, cpu)
                self.add_requests(desc, requests)
                progress.update(1, count(result) if count is not None else 0)
        return results

    @abstractmethod
    def _run_tasks(self, fn: Callable[..., Any], arg_list: list[tuple], sequence: list[int], *, num_cpus: float,
                   memory_mb: int | None, heartbeat: float | None = None) -> Iterator[tuple[int, Any, float, dict] | None]:
        """Run fn(*arg_list[i]) for every i (Shared arguments replaced by their object), submitted in
        `sequence` order; yield (i, result, the task's CPU seconds, its storage requests) as each one
        finishes. With
        `heartbeat` (seconds), a runner that waits for tasks also yields None about that often while
        none finishes, so progress keeps logging while a long task runs (one that runs tasks in the
        calling thread cannot, and never yields None)."""

    @abstractmethod
    def share(self, obj: Any) -> Shared:
        """Make obj available to every task once (not once per task)."""

    @property
    def parallelism(self) -> int:
        """How many CPUs the runner can use at once (for choosing part and bucket counts)."""
        return 1

    def shutdown(self) -> None:
        """Release what the runner started."""


def largest_first(costs: Sequence[float]) -> list[int]:
    """Submission order for tasks of unequal cost: the costliest first (LPT scheduling), so a big
    part does not start last and leave the other CPUs idle while it runs. Ties keep input order."""
    return sorted(range(len(costs)), key=lambda i: (-costs[i], i))


def submission_order(n: int, order: Sequence[int] | None) -> list[int]:
    """`order` checked to be a permutation of range(n) (None: input order)."""
    if order is None:
        return list(range(n))
    order = list(order)
    if sorted(order) != list(range(n)):
        raise ValueError(f"order must be a permutation of range({n})")
    return order


class InProcessRunner(Runner):
    """Tasks run here, one after another in input order (what a debugger expects to step through;
    the order only ever changes when tasks start). Shared objects are passed as they are."""

    def _run_tasks(self, fn, arg_list, sequence, *, num_cpus, memory_mb, heartbeat=None):  # noqa: D401 - see Runner
        # No heartbeat here: a task runs in this very thread, so nothing can report while it runs (a
        # long task logs no progress until it returns). A line is still written, when due, after each.
        for i, args in enumerate(arg_list):
            result, cpu, requests = timed_call(fn, *[a.handle if isinstance(a, Shared) else a for a in args])
            yield i, result, cpu, requests

    def share(self, obj: Any) -> Shared:
        return Shared(obj)


class LazyRunner(Runner):
    """The runner `factory` makes, made on first use (a map, a share, its parallelism).

    A command builds it before knowing whether any stage will run: `corpus run --resume` on a finished
    run then never starts Ray (seconds, or a cluster connection) just to skip every stage. Tasks run on
    the wrapped runner; the map itself (results, CPU profile, progress) is this one's."""

    def __init__(self, factory: Callable[[], Runner]) -> None:
        self._factory = factory
        self._runner: Runner | None = None
        self.start_seconds = 0.0  # wall time the factory took (Ray's start): run.json keeps it apart

    @property
    def started(self) -> bool:
        return self._runner is not None

    def runner(self) -> Runner:
        """The wrapped runner, started now if it was not yet."""
        if self._runner is None:
            started = time.perf_counter()
            self._runner = self._factory()
            self.start_seconds = time.perf_counter() - started
        return self._runner

    def _run_tasks(self, fn, arg_list, sequence, *, num_cpus, memory_mb, heartbeat=None):  # noqa: D401 - see Runner
        return self.runner()._run_tasks(fn, arg_list, sequence, num_cpus=num_cpus, memory_mb=memory_mb,
                                        heartbeat=heartbeat)

    def share(self, obj: Any) -> Shared:
        return self.runner().share(obj)

    @property
    def parallelism(self) -> int:
        return self.runner().parallelism

    def shutdown(self) -> None:
        if self._runner is not None:
            self._runner.shutdown()
