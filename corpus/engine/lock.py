"""One run per output folder: `OUT/_RUN_LOCK.json` names the holder (host, pid, start time, run id).

Taken before anything is written into OUT and released when the run ends. A second run fails at once
with a message naming the holder. A lock left by a process that no longer exists on this host (a run
killed with SIGKILL) is taken over, with a log line. A lock held from another host cannot be checked
from here and is never taken over: the message says which file to remove once that run is known dead.

Goes through corpus.storage, so it works on s3:// too. The lock is created exclusively: locally a hard
link of a finished file (fails if the name exists), on S3 a PUT with `If-None-Match: *`; of any number
of runs that race, exactly one creates it. A store without a conditional create (gs://, abfs:// here)
falls back to write, wait SETTLE_S, read back: two runs can then both proceed if their writes land
within that delay of each other (the log says so). Ownership is checked again before each stage starts
and before it commits (`RunLock.verify`): a run whose lock was taken over stops before writing more.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from corpus import storage
from corpus.errors import PreflightError
from corpus.layout import RUN_LOCK

SETTLE_S = 0.3

log = logging.getLogger("corpus")


class LockHeld(PreflightError):
    """Another run holds the output folder."""


class LockLost(RuntimeError):
    """The run's lock is gone or names another run: this run must stop writing."""


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
        """Remove the lock if it is still ours (never another run's). A store that cannot be reached
        raises (the caller says so in one line; a later run on this host takes a dead run's lock over)."""
        try:
            holder = storage.read_json(self.uri)
        except FileNotFoundError:
            return
        except ValueError:
            holder = {}
        if holder.get("run_id") == self.run_id:
            storage.remove(self.uri)

    def verify(self) -> None:
        """Raise LockLost unless the lock file still names this run (checked before each stage writes)."""
        try:
            holder = storage.read_json(self.uri)
        except FileNotFoundError:
            holder = None
        except ValueError:
            holder = {}
        if not holder or holder.get("run_id") != self.run_id:
            who = _describe(holder) if holder else "nobody (the lock file is gone or unreadable)"
            raise LockLost(f"this run ({self.run_id}) no longer holds {self.uri}: it is held by {who}; stopped before writing")

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(out_uri: str, run_id: str | None = None) -> RunLock:
    """Take the output folder's lock or raise LockHeld naming the holder. The lock is the run's first
    touch of OUT: a store error here (wrong credentials, no such bucket) is raised naming the lock's URI."""
    try:
        return _acquire(out_uri, run_id)
    except OSError as exc:
        if exc.filename:
            raise
        uri = storage.join(out_uri, RUN_LOCK)
        raise type(exc)(exc.errno, exc.strerror or str(exc) or type(exc).__name__, uri) from exc


def _acquire(out_uri: str, run_id: str | None) -> RunLock:
    lock = RunLock(out_uri, run_id or uuid.uuid4().hex[:12], socket.gethostname(), os.getpid(), time.time())
    data = json.dumps(lock.record()).encode()
    storage.makedirs(out_uri)
    for _ in range(3):  # a stale lock taken over, then the race for it lost: at most a few rounds
        try:
            created = storage.create_exclusive(lock.uri, data)
        except storage.ExclusiveCreateUnsupported:
            return _acquire_by_read_back(lock, data)
        if created:
            return lock
        holder = _read_holder(lock.uri)
        if holder.get("run_id") == lock.run_id:  # our own PUT, retried by the client after it landed
            return lock
        if holder and not _stale(holder, lock.host):
            raise _held(out_uri, lock.uri, holder)
        if not holder and storage.exists(lock.uri):
            raise LockHeld(f"output {out_uri} has an unreadable lock file {lock.uri}; remove it if no run is using {out_uri}")
        if holder:
            log.warning("taking over the lock of %s: %s no longer runs", out_uri, _describe(holder))
            # Only the stale holder's file is removed: re-read just before, never a newer run's lock.
            if _read_holder(lock.uri).get("run_id") == holder.get("run_id"):
                storage.remove(lock.uri)
    raise LockHeld(f"output {out_uri}: the lock {lock.uri} keeps changing hands; another run is starting there")


def _read_holder(uri: str) -> dict[str, Any]:
    """The lock's record; {} when it is missing or unreadable."""
    try:
        holder = storage.read_json(uri)
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _held(out_uri: str, uri: str, holder: dict[str, Any]) -> LockHeld:
    return LockHeld(f"output {out_uri} is in use by {_describe(holder)}; wait for it to end, or remove {uri} if that run is dead")


def _acquire_by_read_back(lock: RunLock, data: bytes) -> RunLock:
    """For stores without a conditional create: check, write, wait, read back (not exclusive when
    two writes land within SETTLE_S of each other)."""
    uri = lock.uri
    if storage.exists(uri):
        holder = _read_holder(uri)
        if holder and not _stale(holder, lock.host):
            raise _held(lock.out_uri, uri, holder)
        log.warning("taking over the lock of %s: %s", lock.out_uri,
                    f"{_describe(holder)} no longer runs" if holder else "unreadable lock file")
    log.warning("%s has no conditional create: the run lock is written and read back, which two runs starting "
                "within %.1f s of each other can both pass", lock.out_uri, SETTLE_S)
    storage.write_bytes(uri, data)
    time.sleep(SETTLE_S)
    now = _read_holder(uri)
    if now.get("run_id") != lock.run_id:
        raise LockHeld(f"output {lock.out_uri} was taken at the same moment by {_describe(now)}")
    return lock


def _stale(holder: dict[str, Any], host: str) -> bool:
    """Only a holder on this host can be checked: stale when its pid no longer exists."""
    pid = holder.get("pid")
    return holder.get("host") == host and isinstance(pid, int) and not _alive(pid)
