"""The runner protocol: submission order (costliest first, results in input order), the lazy start,
progress through every runner, and the Ray bootstrap (dashboard, Ray Client)."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from corpus.engine.context import RunContext
from corpus.engine.progress import INTERVAL_ENV, MODE_ENV
from corpus.engine.ray_runner import check_ray_address
from corpus.engine.runner import InProcessRunner, LazyRunner, largest_first, submission_order

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_largest_first_is_a_stable_descending_order() -> None:
    assert largest_first([3, 10, -1, 10, 0]) == [1, 3, 0, 4, 2]
    assert largest_first([]) == []


def test_submission_order_must_be_a_permutation() -> None:
    assert submission_order(3, None) == [0, 1, 2]
    assert submission_order(3, [2, 0, 1]) == [2, 0, 1]
    with pytest.raises(ValueError):
        submission_order(3, [0, 0, 1])


def _square(x: int) -> int:
    return x * x


def test_ray_map_with_an_order_returns_results_in_input_order(ray_runner) -> None:
    from corpus.storage import join  # a function the workers can import (test modules are not on their path)

    assert ray_runner.map(join, [("d", str(i)) for i in range(40)], order=largest_first([i % 7 for i in range(40)])) == [join("d", str(i)) for i in range(40)]


class _Recording(InProcessRunner):
    def __init__(self) -> None:
        self.orders: list = []

    def map(self, fn, arg_list, **kw):
        self.orders.append(kw.get("order"))
        return super().map(fn, arg_list, **kw)


def test_context_map_turns_costs_into_a_largest_first_order(tmp_path) -> None:
    for name, size in (("a", 5), ("b", 50), ("c", 20)):
        (tmp_path / name).write_bytes(b"x" * size)
    runner = _Recording()
    ctx = RunContext(str(tmp_path / "out"), stage_name="s", runner=runner)
    uris = [str(tmp_path / n) for n in ("a", "b", "c", "missing")]
    assert ctx.part_sizes(uris) == [5, 50, 20, -1]
    assert ctx.map(_square, [(1,), (2,), (3,), (4,)], costs=ctx.part_sizes(uris)) == [1, 4, 9, 16]
    assert runner.orders == [[1, 2, 0, 3]]


def test_runners_add_up_the_cpu_time_of_tasks_by_desc(ray_runner) -> None:
    """Each task's own CPU time comes back with its result: a per-step CPU profile, also on a cluster."""
    import hashlib

    args = [("sha256", b"pw", bytes([i]), 300_000) for i in range(4)]
    for runner in (ray_runner, InProcessRunner()):
        before = dict(getattr(runner, "cpu_seconds", {}))
        out = runner.map(hashlib.pbkdf2_hmac, args, desc="cpu-test")
        assert out == [hashlib.pbkdf2_hmac(*a) for a in args]
        spent = runner.cpu_seconds["cpu-test"] - before.get("cpu-test", 0.0)
        assert 0.05 < spent < 60, spent


def test_stage_commit_records_its_tasks_cpu(tmp_path) -> None:
    import json

    from corpus.engine.executor import Executor
    from corpus.ingest.kinds import make_input
    from corpus.stages.ingest import IngestConfig, IngestStage

    src = tmp_path / "repo"
    src.mkdir()
    for i in range(300):
        (src / f"m{i}.py").write_text(f"def f{i}(x):\n    return x * {i}\n" * 800)
    stage = IngestStage(IngestConfig(inputs=[make_input(name="r", kind="repos", domain="code", paths=[str(src)])]))
    Executor(str(tmp_path / "out"), seed=1, resume=False, runner=InProcessRunner()).run([stage])
    done = json.loads((tmp_path / "out" / "ingest" / "_SUCCESS.json").read_text())
    assert set(done["task_cpu_by_step"]) == {"ingest"} and done["task_cpu_seconds"] == done["task_cpu_by_step"]["ingest"] > 0


# ------------------------------------------------------------------------------ lazy start, progress


def test_lazy_runner_starts_its_runner_on_first_use_only() -> None:
    made: list[InProcessRunner] = []

    def factory() -> InProcessRunner:
        made.append(InProcessRunner())
        return made[-1]

    lazy = LazyRunner(factory)
    assert lazy.map(abs, [], desc="nothing") == [] and not lazy.started  # no task: nothing to start
    lazy.shutdown()
    assert made == []
    assert lazy.map(abs, [(-3,), (4,)], desc="d") == [3, 4]
    assert lazy.started and len(made) == 1
    assert lazy.share("x").handle == "x" and lazy.parallelism == 1 and len(made) == 1
    assert lazy.cpu_seconds["d"] >= 0  # the map (and its CPU profile) is the lazy runner's own


def test_lazy_runner_measures_its_start_apart() -> None:
    """run.json leaves the runner's start (Ray's) out of the run's wall time: it must know it."""
    def slow_factory() -> InProcessRunner:
        time.sleep(0.05)
        return InProcessRunner()

    lazy = LazyRunner(slow_factory)
    assert lazy.start_seconds == 0.0
    lazy.map(abs, [(-1,)])
    assert lazy.start_seconds >= 0.05


@pytest.mark.parametrize("use", ["share", "parallelism"])
def test_share_and_parallelism_start_a_lazy_runner(use: str) -> None:
    lazy = LazyRunner(InProcessRunner)
    lazy.share(1) if use == "share" else lazy.parallelism
    assert lazy.started


def test_ray_map_counts_records_in_its_progress(ray_runner, monkeypatch, caplog) -> None:
    from corpus.storage import join

    monkeypatch.setenv(INTERVAL_ENV, "0")
    monkeypatch.setenv(MODE_ENV, "log")  # under `pytest -s` in a terminal, the automatic mode is a bar
    caplog.set_level(logging.INFO, logger="corpus")
    out = ray_runner.map(join, [("dir", "x" * i) for i in range(1, 6)], desc="ray:count", count=len,
                         order=largest_first(list(range(1, 6))))
    assert out == [join("dir", "x" * i) for i in range(1, 6)]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("progress ray:count:")]
    # One line per finished task (a slow worker start may add heartbeat lines, repeating a count).
    done = [int(re.search(r": (\d+)/5 tasks", line).group(1)) for line in lines]
    assert sorted(set(done) - {0}) == [1, 2, 3, 4, 5] and done == sorted(done)
    assert lines[-1].startswith(f"progress ray:count: 5/5 tasks (100%), {sum(map(len, out))} records (")


def test_a_long_ray_task_still_logs_progress(ray_runner, monkeypatch, caplog) -> None:
    """The runner's heartbeat: a line every interval while the map's one task runs, not only at its end."""
    monkeypatch.setenv(INTERVAL_ENV, "1")
    monkeypatch.setenv(MODE_ENV, "log")
    caplog.set_level(logging.INFO, logger="corpus")
    assert ray_runner.map(time.sleep, [(2.5,)], desc="ray:long") == [None]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("progress ray:long:")]
    assert any(line.startswith("progress ray:long: 0/1 tasks (0%)") for line in lines), lines
    assert lines[-1].startswith("progress ray:long: 1/1 tasks (100%)")
    assert len(lines) <= 4  # about one a second: no busy loop of heartbeats


def test_a_failing_ray_task_raises_from_map(ray_runner) -> None:
    with pytest.raises(Exception, match="invalid literal"):
        ray_runner.map(int, [("1",), ("one",), ("3",)])


# ---------------------------------------------------------------------------------- the dashboard


@pytest.mark.parametrize(("dashboard", "url", "include", "said"), [
    (True, "127.0.0.1:8265", None, "Ray dashboard: http://127.0.0.1:8265"),
    (True, None, None, "the Ray dashboard did not start"),
    (False, None, False, None),
])
def test_local_ray_asks_for_the_dashboard_without_failing_on_it(monkeypatch, caplog, dashboard, url, include, said) -> None:
    """include_dashboard=None, not True: Ray starts the dashboard but a dashboard that cannot start
    does not fail ray.init (True does, after a minute of port retries, measured); the run warns."""
    import ray

    from corpus.engine.ray_runner import RayRunner

    seen: dict = {}

    def fake_init(**kwargs):
        seen.update(kwargs)
        return SimpleNamespace(dashboard_url=url)

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", fake_init)
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 3})
    caplog.set_level(logging.INFO, logger="corpus")
    runner = RayRunner(num_cpus=3, dashboard=dashboard)
    assert seen["include_dashboard"] is include and seen["num_cpus"] == 3 and runner.parallelism == 3
    if said:
        assert said in caplog.text
    else:
        assert "dashboard" not in caplog.text


@pytest.mark.parametrize(("failures", "error", "starts"), [
    (1, "The current node timed out during startup. ...", True),  # what Ray raised here under a load of 20-30
    (3, "The current node timed out during startup. ...", False),  # every attempt timed out: the error stands
    (1, "some other failure", False),  # never retried
])
def test_local_ray_start_is_tried_again_when_it_timed_out(monkeypatch, caplog, failures, error, starts) -> None:
    import ray

    from corpus.engine.ray_runner import RayRunner

    calls = {"init": 0, "shutdown": 0}

    def flaky_init(**kwargs):
        calls["init"] += 1
        if calls["init"] <= failures:
            raise Exception(error)
        return SimpleNamespace(dashboard_url=None)

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", flaky_init)
    monkeypatch.setattr(ray, "shutdown", lambda: calls.__setitem__("shutdown", calls["shutdown"] + 1))
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2})
    caplog.set_level(logging.WARNING, logger="corpus")
    if starts:
        assert RayRunner(num_cpus=2).parallelism == 2
        assert calls == {"init": 2, "shutdown": 1} and "Ray's start timed out (attempt 1 of 3" in caplog.text
    else:
        with pytest.raises(Exception, match=error.split(".")[0]):
            RayRunner(num_cpus=2)
        assert calls["init"] == (3 if "timed out" in error else 1)


def _subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def test_a_local_ray_instance_serves_the_dashboard_it_logs() -> None:
    """A fresh interpreter (this one may already have joined the session's instance)."""
    code = (
        "import logging, urllib.error, urllib.request\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "from corpus.engine.ray_runner import RayRunner\n"
        "r = RayRunner(num_cpus=1, dashboard=True)\n"
        "try:\n"
        "    status = urllib.request.urlopen(r.dashboard_url, timeout=20).status\n"
        "except urllib.error.HTTPError as exc:\n"
        "    status = exc.code  # 401: Ray's token authentication answered\n"
        "print('STATUS', status)\n"
        "r.shutdown()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, env=_subprocess_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"Ray dashboard: http://[\w.]+:\d+", proc.stderr), proc.stderr[-3000:]
    assert re.search(r"^STATUS (200|401)$", proc.stdout, re.M), proc.stdout


# ----------------------------------------------------------------------------------- Ray Client


def test_ray_client_is_installed() -> None:
    """`RAY_ADDRESS=ray://...` needs ray[client] (grpc): without it Ray refuses before connecting."""
    import ray.util.client  # noqa: F401
    from ray._private.utils import get_ray_client_dependency_error
    from ray.client_builder import ClientBuilder, _get_builder_from_address

    assert get_ray_client_dependency_error() is None
    assert isinstance(_get_builder_from_address("ray://127.0.0.1:1"), ClientBuilder)


def test_an_unreachable_ray_client_address_is_a_preflight_error() -> None:
    from corpus.engine.ray_runner import check_ray_address
    from corpus.errors import PreflightError

    with pytest.raises(PreflightError, match="unreachable"):
        check_ray_address("ray://127.0.0.1:1", timeout_s=2)
    with pytest.raises(PreflightError, match="not of the form"):
        check_ray_address("ray://head-without-port")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Ray's proxier forks the per-client server while its gRPC threads run, and the child dies now and then
# (ray-project/ray#63202, open; 1 in 3 here with the defaults). The head runs with gRPC's fork handlers
# off (0 in 5 here), and a connection that still meets it is retried.
# On a loaded machine the client's data channel can also drop and miss Ray's 30 s reconnection grace
# period ("Failed to reconnect within the reconnection grace period"), or the client server is briefly
# down (connection refused after it listened): the client asks for 120 s of grace, each attempt first
# waits for the port, and these are retried like the races above (at most 3 attempts; any other error
# fails, and the failure shows every attempt's stderr).
_CLIENT_RACE = ("Initialization failure from server", "Starting Ray client server failed", "ray client connection timeout",
                "Failed to reconnect within the reconnection grace period", "is unreachable: [Errno 111] Connection refused")


def test_a_real_ray_client_server_runs_a_map(tmp_path) -> None:
    """`ray start --head --ray-client-server-port` on private ports and temp dir (other Ray instances on
    the machine never see it), then RayRunner("ray://...") in a fresh interpreter: the project's
    packages ship as py_modules and a map runs there. A private token, since Ray enables token auth."""
    import shutil
    import signal
    import tempfile
    import uuid

    ray_cli = Path(sys.executable).with_name("ray")
    if not ray_cli.exists():
        pytest.skip(f"no `ray` command beside {sys.executable}")
    env = _subprocess_env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=uuid.uuid4().hex)
    temp_dir = tempfile.mkdtemp(prefix="rc", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    ports = {name: _free_port() for name in ("port", "ray-client-server-port", "node-manager-port", "object-manager-port",
                                             "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
                                             "runtime-env-agent-port", "metrics-export-port")}
    cmd = [str(ray_cli), "start", "--head", "--block", "--num-cpus=1", "--include-dashboard=false", "--disable-usage-stats",
           f"--temp-dir={temp_dir}", *(f"--{name}={port}" for name, port in ports.items())]
    head_log = tmp_path / "ray-start.log"  # a file, not a pipe: an unread pipe could fill and block the head
    head = subprocess.Popen(cmd, stdout=head_log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
                            env=dict(env, GRPC_ENABLE_FORK_SUPPORT="false"))
    try:
        address = f"ray://127.0.0.1:{ports['ray-client-server-port']}"
        # About 2 s on an idle machine, 30 s and more on a loaded one: wait (up to 240 s in all) for the
        # client server to listen before each attempt; a head that never listens fails with its log.
        deadline = time.monotonic() + 240

        def wait_for_client_server() -> None:
            while True:
                try:
                    check_ray_address(address, timeout_s=0.5)
                    return
                except Exception:  # noqa: BLE001 - not listening (yet, or again after a restart)
                    assert head.poll() is None, head_log.read_text()[-3000:]
                    assert time.monotonic() < deadline, "the client server did not listen within 240 s:\n" + head_log.read_text()[-3000:]
                    time.sleep(0.2)

        code = (
            "import json\n"
            "from corpus.engine.ray_runner import RayRunner\n"
            "from corpus.storage import join\n"
            f"r = RayRunner({address!r})\n"
            "print(json.dumps({'cpus': r.parallelism, 'out': r.map(join, [('d', str(i)) for i in range(5)], count=len)}))\n"
            "r.shutdown()\n"
        )
        failures = []
        for _attempt in range(3):
            wait_for_client_server()
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                                  env=dict(env, RAY_CLIENT_RECONNECT_GRACE_PERIOD="120"))
            if proc.returncode == 0 or not any(race in proc.stderr for race in _CLIENT_RACE):
                break
            failures.append(proc.stderr[-1500:])
        assert proc.returncode == 0, "\n---\n".join([*failures, proc.stderr[-3000:]])
        assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"cpus": 1, "out": [f"d/{i}" for i in range(5)]}
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops the processes it started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        shutil.rmtree(temp_dir, ignore_errors=True)
