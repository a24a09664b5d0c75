"""The Ray runner, and the one Ray bootstrap every command uses.

Scheduling scales with the number of tasks: at most `max_in_flight` tasks are submitted at once (new ones
go out as others finish, so a million-task map never sits in Ray's queue at once), and completions
arrive through per-task callbacks into a queue, O(1) per task. `ray.wait` over every pending ref (what
this replaced) is O(pending) per call, O(tasks²) for a map.
"""

from __future__ import annotations

import os
import queue
import socket
from typing import Any, Callable, Iterable

from corpus.errors import PreflightError
from corpus.runner import Runner, Shared, submission_order, timed_call

# Environment passed on to workers of a remote cluster (a local instance inherits the driver's).
FORWARDED_ENV = ("CORPUS_STORAGE_OPTIONS", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION")


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


class RayRunner(Runner):
    def __init__(self, address: str | None = None, num_cpus: int | None = None, max_in_flight: int | None = None,
                 max_retries: int = 2) -> None:
        import ray

        self.started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address:
                check_ray_address(address)
                # Ship the project's packages so cluster workers run the same code as the driver.
                import classifiers
                import corpus
                import lang_registry
                import tokenizer

                env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
                runtime_env = {"py_modules": [corpus, lang_registry, tokenizer, classifiers], "env_vars": env}
                try:
                    ray.init(address=address, runtime_env=runtime_env, **kwargs)
                except Exception as exc:  # noqa: BLE001
                    raise PreflightError(f"could not connect to Ray at {address!r}: {exc}") from exc
            else:
                ray.init(num_cpus=num_cpus, **kwargs)
            self.started = True
        self._cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.max_in_flight = max_in_flight or max(8, 4 * self._cpus)
        self.max_retries = max_retries
        self._remotes: dict[tuple, Any] = {}

    @property
    def parallelism(self) -> int:
        return self._cpus

    def share(self, obj: Any) -> Shared:
        import ray

        return Shared(ray.put(obj))

    def _remote(self, fn: Callable, num_cpus: float, memory_mb: int | None) -> Any:
        """A remote that runs fn through timed_call (its CPU time comes back with its result), with
        fn's name as the Ray task name (the state API; Ray's own retry log names timed_call)."""
        import ray

        key = (fn, num_cpus, memory_mb)
        if key not in self._remotes:
            options: dict[str, Any] = {"num_cpus": num_cpus, "max_retries": self.max_retries,
                                       "name": getattr(fn, "__name__", "task")}
            if memory_mb:
                options["memory"] = memory_mb * 1024 * 1024
            self._remotes[key] = ray.remote(timed_call).options(**options)
        return self._remotes[key]

    def map(self, fn, arg_list: Iterable[tuple], *, num_cpus=1.0, memory_mb=None, desc="", order=None):
        from tqdm import tqdm

        remote = self._remote(fn, num_cpus, memory_mb)
        arg_list = list(arg_list)
        sequence = submission_order(len(arg_list), order)
        results: list[Any] = [None] * len(arg_list)
        done: queue.SimpleQueue = queue.SimpleQueue()
        futures: dict[int, Any] = {}
        next_i = 0

        def submit(i: int) -> None:
            args = [a.handle if isinstance(a, Shared) else a for a in arg_list[i]]
            fut = remote.remote(fn, *args).future()
            futures[i] = fut
            fut.add_done_callback(lambda _f, i=i: done.put(i))

        with tqdm(total=len(arg_list), desc=desc, unit="task", leave=False, disable=None) as bar:
            while next_i < len(arg_list) and len(futures) < self.max_in_flight:
                submit(sequence[next_i])
                next_i += 1
            remaining = len(arg_list)
            while remaining:
                i = done.get()
                try:
                    results[i], cpu = futures.pop(i).result()
                    self.add_cpu(desc, cpu)
                except BaseException:
                    for f in futures.values():
                        f.cancel()
                    raise
                remaining -= 1
                bar.update(1)
                if next_i < len(arg_list):
                    submit(sequence[next_i])
                    next_i += 1
        return results

    def shutdown(self) -> None:
        if self.started:
            import ray

            ray.shutdown()
            self.started = False


def start_runner(address: str | None = None, num_cpus: int | None = None, in_process: bool = False) -> Runner:
    """The runner of every command: in-process, or Ray at `address` (RAY_ADDRESS) or a local instance."""
    if in_process:
        from corpus.runner import InProcessRunner

        return InProcessRunner()
    return RayRunner(address or os.environ.get("RAY_ADDRESS") or None, num_cpus)
