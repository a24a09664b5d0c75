"""One run per output folder: `OUT/_RUN_LOCK.json` names the holder (host, pid, start time, run id).

Taken before anything is written into OUT and released when the run ends. A second run fails at once
with a message naming the holder. A lock left by a process that no longer exists on this host (a run
killed with SIGKILL) is taken over, with a log line. A lock held from another host cannot be checked
from here and is never taken over: the message says which file to remove once that run is known dead.

Goes through corpus.storage, so it works on s3:// too. Object stores have no exclusive create: the
lock is written, then read back after a settle delay; of two runs that raced, only the one whose
record is still there proceeds.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from corpus.layout import RUN_LOCK
from corpus import storage
from corpus.errors import PreflightError

SETTLE_S = 0.3

log = logging.getLogger("corpus")


class LockHeld(PreflightError):
    """Another run holds the output folder."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _describe(h: dict[str, Any]) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(h.get("started", 0)))
    return f"run {h.get('run_id')} (host {h.get('host')}, pid {h.get('pid')}, started {started} UTC)"


@dataclass
class RunLock:
    out_uri: str
    run_id: str
    host: str
    pid: int
    started: float

    @property
    def uri(self) -> str:
        return storage.join(self.out_uri, RUN_LOCK)

    def record(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "host": self.host, "pid": self.pid, "started": self.started}

    def release(self) -> None:
        """Remove the lock if it is still ours (never another run's)."""
        try:
            holder = storage.read_json(self.uri)
        except (OSError, ValueError):
            return
        if holder.get("run_id") == self.run_id:
            storage.remove(self.uri)

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(out_uri: str, run_id: str | None = None) -> RunLock:
    """Take the output folder's lock or raise LockHeld naming the holder."""
    lock = RunLock(out_uri, run_id or uuid.uuid4().hex[:12], socket.gethostname(), os.getpid(), time.time())
    uri = lock.uri
    if storage.exists(uri):
        try:
            holder = storage.read_json(uri)
        except (OSError, ValueError):
            holder = {}
        if holder and not _stale(holder, lock.host):
            raise LockHeld(
                f"output {out_uri} is in use by {_describe(holder)}; wait for it to end, or remove {uri} "
                "if that run is dead"
            )
        log.warning("taking over the lock of %s: %s", out_uri, f"{_describe(holder)} no longer runs" if holder else "unreadable lock file")
    storage.makedirs(out_uri)
    storage.write_json(uri, lock.record())
    time.sleep(SETTLE_S)
    try:
        now = storage.read_json(uri)
    except (OSError, ValueError):
        now = {}
    if now.get("run_id") != lock.run_id:
        raise LockHeld(f"output {out_uri} was taken at the same moment by {_describe(now)}")
    return lock


def _stale(holder: dict[str, Any], host: str) -> bool:
    """Only a holder on this host can be checked: stale when its pid no longer exists."""
    pid = holder.get("pid")
    return holder.get("host") == host and isinstance(pid, int) and not _alive(pid)
