"""The run lock is exclusive: of many runs starting at once into one output (a local folder or a real
S3 server, with PUTs slowed to up to 0.6 s), exactly one holds it; the others fail naming it. A run whose
lock was taken over stops before its next write (main: check-then-PUT-then-read-back let two runs both
hold an S3 lock, 1 in 3 trials with slow PUTs)."""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from pathlib import Path

import pytest

from corpus import storage
from corpus.engine.executor import Executor
from corpus.engine.lock import LockHeld, LockLost, acquire
from corpus.ingest.kinds import make_input
from corpus.layout import RUN_LOCK as LOCK_NAME
from corpus.stages.ingest import IngestConfig, IngestStage
from corpus.stages.langid import LangIdStage


def _race(out: str, n: int) -> list[str]:
    """n acquirers released at once; the run ids that got the lock (each winner releases after all tried)."""
    barrier = threading.Barrier(n)
    winners: list[str] = []
    errors: list[BaseException] = []
    held = []

    def go(i: int) -> None:
        barrier.wait()
        try:
            held.append(acquire(out, run_id=f"run{i}"))
            winners.append(f"run{i}")
        except LockHeld:
            pass
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for lock in held:
        lock.release()
    return winners


def test_concurrent_local_acquirers_one_wins(tmp_path: Path) -> None:
    for trial in range(10):
        out = str(tmp_path / f"out{trial}")
        winners = _race(out, 12)
        assert len(winners) == 1, (trial, winners)
        assert not storage.exists(storage.join(out, LOCK_NAME))


@pytest.fixture
def slow_s3(s3_server, monkeypatch):
    """The S3 output prefix and a function that restarts the slow PUTs: the k-th PUT after it waits
    k x 0.35 s, longer than the 0.3 s a read-back lock waits, the way a loaded store answers."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    storage.configure(None)
    out = f"s3://{s3_server.bucket}/lock-race-{os.getpid()}"
    fs, _ = storage.filesystem(out)
    storage.exists(out)  # connects the client
    puts = itertools.count()

    async def slow_put(**kwargs) -> None:
        await asyncio.sleep(next(puts) * 0.35)

    def restart() -> None:
        nonlocal puts
        puts = itertools.count()

    fs.s3.meta.events.register("before-send.s3.PutObject", slow_put)
    yield out, restart
    fs.s3.meta.events.unregister("before-send.s3.PutObject", slow_put)
    storage.configure(None)


def test_concurrent_s3_acquirers_one_wins(slow_s3) -> None:
    base, restart = slow_s3
    counts = []
    for trial in range(4):
        out = f"{base}/t{trial}"
        restart()
        winners = _race(out, 6)
        counts.append(len(winners))
        assert not storage.exists(storage.join(out, LOCK_NAME))
    assert counts == [1] * 4, counts


def test_a_run_whose_lock_was_taken_over_stops_before_writing(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("print(1)\n")
    stages = [IngestStage(IngestConfig(inputs=[make_input(name="gh", kind="repos", paths=[str(repo)])])), LangIdStage()]
    out = str(tmp_path / "out")
    lock = acquire(out, run_id="mine")
    Executor(out, seed=1, guard=lock.verify).run(stages)
    success = tmp_path / "out" / "langid" / "_SUCCESS.json"
    before = success.stat().st_mtime_ns
    storage.write_json(lock.uri, {"run_id": "other", "host": "h", "pid": 1, "started": 0})
    with pytest.raises(LockLost, match="held by run other"):
        Executor(out, seed=1, guard=lock.verify).run(stages)
    assert success.stat().st_mtime_ns == before and (tmp_path / "out" / "ingest" / "_SUCCESS.json").exists(), "nothing rewritten"
    lock.release()
    assert storage.read_json(lock.uri)["run_id"] == "other", "never removes another run's lock"
