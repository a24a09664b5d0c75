"""The Ray runner, and the one Ray bootstrap every command uses.

Scheduling scales with the number of tasks: at most `max_in_flight` tasks are submitted at once (new ones
go out as others finish, so a million-task map never sits in Ray's queue at once), and completions
arrive through per-task callbacks into a queue, O(1) per task. `ray.wait` over every pending ref (what
this replaced) is O(pending) per call, O(tasks²) for a map.
"""

from __future__ import annotations

import importlib
import logging
import os
import queue
import socket
import time
from collections.abc import Callable
from typing import Any

from corpus.engine.runner import InProcessRunner, Runner, Shared, timed_call
from corpus.errors import PreflightError

log = logging.getLogger("corpus")

# Environment passed on to workers of a remote cluster (a local instance inherits the driver's).
FORWARDED_ENV = ("CORPUS_STORAGE_OPTIONS", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION")
# The project packages tasks import (pipelines stays on the driver; pretrain runs under torchrun).
SHIPPED_PACKAGES = ("corpus", "decont", "lang_registry", "tokenizer", "classifiers", "redact")


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
    """Tasks on Ray: the instance this process already joined, the cluster at `address`, or a new local
    instance started here, never a stray cluster found on the machine (with the Ray dashboard when
    `dashboard` is true)."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None, max_in_flight: int | None = None,
                 max_retries: int = 2, dashboard: bool = False) -> None:
        import ray

        self.started = False
        self.dashboard_url: str | None = None
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address:
                check_ray_address(address)
                # Ship the project's packages so cluster workers run the same code as the driver.
                env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
                # Package folders, not module objects: a ray:// client deep-copies the runtime env and
                # a module cannot be copied ("cannot pickle 'module' object").
                packages = [os.path.dirname(importlib.import_module(name).__file__) for name in SHIPPED_PACKAGES]
                runtime_env = {"py_modules": packages, "env_vars": env}
                try:
                    context = ray.init(address=address, runtime_env=runtime_env, **kwargs)
                except Exception as exc:  # noqa: BLE001
                    # Ray never turns token auth on by itself for an explicit address: a token cluster
                    # then just times out ("ray client connection timeout").
                    hint = ("; a cluster with token authentication needs RAY_AUTH_MODE=token here (and its token in "
                            "RAY_AUTH_TOKEN or ~/.ray/auth_token)") if "RAY_AUTH_MODE" not in os.environ else ""
                    raise PreflightError(f"could not connect to Ray at {address!r}: {exc}{hint}") from exc
            else:
                # None, not True: Ray then starts the dashboard but does not fail the whole start when
                # the dashboard cannot come up (True raises, after a minute of port retries).
                kwargs["include_dashboard"] = None if dashboard else False
                # address="local": always a new instance of our own. Without an address ray.init joins
                # whatever cluster a `ray start` left on this machine (/tmp/ray/ray_current_cluster).
                context = _init_local(num_cpus, kwargs)
                if dashboard and not context.dashboard_url:
                    log.warning("the Ray dashboard did not start (see Ray's dashboard.log); the run goes on without it")
            self.started = True
            self.dashboard_url = _http_url(getattr(context, "dashboard_url", None))
            if self.dashboard_url:
                log.info("Ray dashboard: %s (if it asks for a token: `ray get-auth-token`)", self.dashboard_url)
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
        """A remote that runs fn through timed_call (its CPU time comes back with its result), named
        after fn (the state API, Ray's logs). fn is bound into the remote, which Ray exports once,
        not sent as an argument: that pickled it again for every task (by value for a closure),
        ~10% of the driver's CPU per task for a module function (pipelines/bench_driver.py)."""
        import ray

        key = (fn, num_cpus, memory_mb)
        if key not in self._remotes:
            options: dict[str, Any] = {"num_cpus": num_cpus, "max_retries": self.max_retries,
                                       "name": getattr(fn, "__name__", "task")}
            if memory_mb:
                options["memory"] = memory_mb * 1024 * 1024
            self._remotes[key] = ray.remote(bound_task(fn)).options(**options)
        return self._remotes[key]

    def _run_tasks(self, fn, arg_list, sequence, *, num_cpus, memory_mb, heartbeat=None):  # noqa: D401 - see Runner
        remote = self._remote(fn, num_cpus, memory_mb)
        # The wait for a completion is bounded by the next heartbeat: at most one None per `heartbeat`
        # seconds while tasks run (never a busy loop: at least 1 s), none at all without `heartbeat`.
        beat = max(1.0, heartbeat) if heartbeat is not None else None
        next_beat = time.monotonic() + beat if beat is not None else 0.0
        done: queue.SimpleQueue = queue.SimpleQueue()
        futures: dict[int, Any] = {}
        next_i = 0

        def submit(i: int) -> None:
            args = [a.handle if isinstance(a, Shared) else a for a in arg_list[i]]
            fut = remote.remote(*args).future()
            futures[i] = fut
            fut.add_done_callback(lambda _f, i=i: done.put(i))

        try:
            while next_i < len(arg_list) and len(futures) < self.max_in_flight:
                submit(sequence[next_i])
                next_i += 1
            for _ in range(len(arg_list)):
                while True:
                    try:
                        i = done.get(timeout=max(0.0, next_beat - time.monotonic()) if beat is not None else None)
                        break
                    except queue.Empty:  # `beat` seconds since the last heartbeat: say the map is alive
                        yield None
                        # Counted from when the caller is done with it (it may just have logged and
                        # set its next line `beat` from now): the next beat then never comes early.
                        next_beat = time.monotonic() + beat
                result, cpu, requests = futures.pop(i).result()
                # The next task goes out before the caller sees this one: the CPUs stay busy.
                if next_i < len(arg_list):
                    submit(sequence[next_i])
                    next_i += 1
                yield i, result, cpu, requests
        finally:
            # A failed task, or a caller that stopped early: nothing more of this map is wanted.
            for f in futures.values():
                f.cancel()

    def shutdown(self) -> None:
        if self.started:
            import ray

            ray.shutdown()
            self.started = False


def bound_task(fn: Callable) -> Callable:
    """timed_call(fn, ...) as a function of the task's arguments alone, with fn's name."""

    def task(*args: Any) -> tuple[Any, float, dict[str, int]]:
        return timed_call(fn, *args)

    task.__name__ = task.__qualname__ = getattr(fn, "__name__", "task")
    return task


def _http_url(address: str | None) -> str | None:
    """Ray reports the dashboard as host:port; a URL is what a terminal makes clickable."""
    if not address:
        return None
    return address if "://" in address else f"http://{address}"


LOCAL_START_ATTEMPTS = 3  # Ray's own start gives up after a fixed wait for its agents (a busy machine misses it)


def _init_local(num_cpus: int | None, kwargs: dict[str, Any]) -> Any:
    """ray.init of a new local instance, tried again when Ray's start timed out: on an overloaded machine
    its raylet stops waiting for the metrics agent ("The current node timed out during startup") while
    nothing is wrong with the run. Any other error, or the last attempt's, is raised as it is."""
    import ray

    for attempt in range(1, LOCAL_START_ATTEMPTS + 1):
        try:
            return ray.init(address="local", num_cpus=num_cpus, **kwargs)
        except Exception as exc:  # noqa: BLE001 - Ray raises a bare Exception for this
            if "timed out during startup" not in str(exc) or attempt == LOCAL_START_ATTEMPTS:
                raise
            log.warning("Ray's start timed out (attempt %d of %d; the machine may be busy): starting it again",
                        attempt, LOCAL_START_ATTEMPTS)
            ray.shutdown()
    raise AssertionError("unreachable")


def start_runner(address: str | None = None, num_cpus: int | None = None, in_process: bool = False,
                 dashboard: bool = False) -> Runner:
    """The runner of every command: in-process, or Ray at `address` (RAY_ADDRESS) or a local instance
    (with the Ray dashboard when `dashboard` is true)."""
    if in_process:
        return InProcessRunner()
    return RayRunner(address or os.environ.get("RAY_ADDRESS") or None, num_cpus, dashboard=dashboard)
