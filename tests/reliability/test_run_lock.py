"""One run per output folder: a second run fails at once naming the holder; a dead holder's lock on
this host is taken over with a log line; works the same on an object store."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpus import storage
from corpus.engine.lock import LockHeld, acquire
from corpus.layout import RUN_LOCK as LOCK_NAME


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_second_run_fails_naming_the_holder(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    with acquire(out, run_id="first") as lock:
        record = storage.read_json(storage.join(out, LOCK_NAME))
        assert record == {"run_id": "first", "host": socket.gethostname(), "pid": os.getpid(), "started": lock.started}
        with pytest.raises(LockHeld) as exc:
            acquire(out, run_id="second")
        message = str(exc.value)
        assert "run first" in message and f"pid {os.getpid()}" in message and socket.gethostname() in message
        assert LOCK_NAME in message  # says which file to remove if that run is dead
    assert not storage.exists(storage.join(out, LOCK_NAME)), "released when the run ends"
    acquire(out, run_id="third").release()


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = str(tmp_path / "out")
    storage.write_json(storage.join(out, LOCK_NAME), {"run_id": "killed", "host": socket.gethostname(), "pid": _dead_pid(), "started": time.time() - 60})
    with caplog.at_level(logging.WARNING, logger="corpus"):
        lock = acquire(out, run_id="next")
    assert "taking over the lock" in caplog.text and "run killed" in caplog.text
    assert storage.read_json(lock.uri)["run_id"] == "next"
    lock.release()


def test_lock_of_another_host_is_never_taken_over(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    storage.write_json(storage.join(out, LOCK_NAME), {"run_id": "remote", "host": "other-host", "pid": _dead_pid(), "started": time.time()})
    with pytest.raises(LockHeld, match="other-host"):
        acquire(out)


def test_release_never_removes_another_runs_lock(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    lock = acquire(out, run_id="mine")
    storage.write_json(lock.uri, {"run_id": "theirs", "host": "h", "pid": 1, "started": 0})
    lock.release()
    assert storage.read_json(lock.uri)["run_id"] == "theirs"


def test_corpus_run_refuses_a_locked_output_with_one_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    storage.write_json(str(out / LOCK_NAME), {"run_id": "busy", "host": socket.gethostname(), "pid": os.getpid(), "started": time.time()})
    proc = subprocess.run([sys.executable, "-m", "corpus.cli", "run", "--output", str(out), "--in-process"],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "in use by run busy" in lines[0], proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME], "nothing written into the locked folder"
    assert json.loads((out / LOCK_NAME).read_text())["run_id"] == "busy"


@pytest.fixture
def s3_out(request, s3_server, monkeypatch) -> str:
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    storage.configure(None)  # drop cached filesystems made under another environment
    yield f"s3://{s3_server.bucket}/lock-test-{os.getpid()}"
    storage.configure(None)


def test_lock_on_an_object_store(s3_out: str) -> None:
    with acquire(s3_out, run_id="s3run"):
        with pytest.raises(LockHeld, match="s3run"):
            acquire(s3_out)
    assert not storage.exists(storage.join(s3_out, LOCK_NAME))
