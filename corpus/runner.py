"""The runner protocol: the only way stages and the engine run work in parallel.

A runner maps a function over argument tuples (one task each, results in input order) and shares large
objects with every task. Stages never import Ray or the engine: they call `ctx.map` / `ctx.share` on
their RunContext, which forwards here. Two runners implement it:

- InProcessRunner: runs every task in this process, one after the other (unit tests, debugging, pdb);
- RayRunner (corpus.ray_runner): Ray tasks with a bounded number in flight.
"""

from __future__ import annotations

import resource
import time
from abc import ABC, abstractmethod
from typing import Any, Callable, Iterable, Sequence


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


def timed_call(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """fn(*args) and the CPU seconds it took where it ran (what runners add up per `desc`)."""
    started = task_cpu_seconds()
    result = fn(*args)
    return result, task_cpu_seconds() - started


class Runner(ABC):
    #: CPU seconds of finished tasks by `desc` (their own process and children): a per-stage and
    #: per-step CPU profile that works on a cluster, where the driver cannot see the workers' clocks.
    cpu_seconds: dict[str, float]

    def add_cpu(self, desc: str, seconds: float) -> None:
        if not hasattr(self, "cpu_seconds"):
            self.cpu_seconds = {}
        self.cpu_seconds[desc] = self.cpu_seconds.get(desc, 0.0) + seconds

    @abstractmethod
    def map(
        self,
        fn: Callable[..., Any],
        arg_list: Iterable[tuple],
        *,
        num_cpus: float = 1.0,
        memory_mb: int | None = None,
        desc: str = "",
        order: Sequence[int] | None = None,
    ) -> list[Any]:
        """fn(*args) for every args, as retry-safe tasks; results in input order. A task that still
        fails after the runner's retries raises here. `order` is the submission order (indices into
        arg_list, e.g. `largest_first(sizes)`); it changes when tasks start, never the results."""

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
    """Tasks run here, in order. Shared objects are passed as they are."""

    def map(self, fn, arg_list, *, num_cpus=1.0, memory_mb=None, desc="", order=None):  # noqa: D401 - see Runner
        results = []
        for args in arg_list:
            result, cpu = timed_call(fn, *[a.handle if isinstance(a, Shared) else a for a in args])
            self.add_cpu(desc, cpu)
            results.append(result)
        return results

    def share(self, obj: Any) -> Shared:
        return Shared(obj)
