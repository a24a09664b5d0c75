"""Fatal errors of a run as one line on stderr naming what failed and where; the traceback goes to
OUT/logs/run.log (or, when the log itself cannot be written, to a temporary file the line names).

Exit code 5 (EXIT_FATAL): the run stopped on an environment failure (output not writable, disk full,
the Ray cluster gone, ...). Codes 2-4 stay what `corpus run` documents (pre-flight, accounting,
empty output)."""

from __future__ import annotations

import errno
import logging
import sys
import tempfile
import traceback
from pathlib import Path

EXIT_FATAL = 5

_HINTS = {
    errno.EROFS: "the output folder is on a read-only file system",
    errno.EACCES: "no permission to write there",
    errno.EPERM: "the operation is not permitted there",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENOENT: "the path does not exist",
    errno.EEXIST: "a file stands where a folder is needed",
}


def task_cause(exc: BaseException) -> BaseException:
    """The error a task raised, out of Ray's wrapper (RayTaskError keeps it as `.cause`; a worker's
    error may be wrapped more than once when tasks call tasks)."""
    seen = 0
    while type(exc).__module__.startswith("ray") and isinstance(getattr(exc, "cause", None), BaseException) and seen < 10:
        exc = exc.cause  # type: ignore[attr-defined]
        seen += 1
    return exc


def one_line(exc: BaseException) -> str:
    """What failed and where, in one line."""
    exc = task_cause(exc)
    if isinstance(exc, OSError) and (exc.filename or exc.errno in _HINTS):
        where = exc.filename or "?"
        hint = _HINTS.get(exc.errno or -1)
        return f"cannot write {where}: {exc.strerror or type(exc).__name__}" + (f" ({hint})" if hint else "")
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    if type(exc).__module__.startswith("ray"):
        return f"the Ray cluster failed ({type(exc).__name__}): {first or 'no detail'}"
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def report(exc: BaseException, log_path: Path | str | None, prog: str = "corpus run") -> int:
    """Print the one line, put the traceback in the run log, return EXIT_FATAL."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    where = _write_traceback(text, Path(log_path) if log_path else None)
    print(f"{prog}: failed: {one_line(exc)} (traceback: {where})", file=sys.stderr)
    return EXIT_FATAL


def _write_traceback(text: str, log_path: Path | None) -> str:
    # Straight into the log file, not through logging: the console handler would print it too.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler) and log_path and Path(handler.baseFilename) == log_path.resolve():
            try:
                handler.acquire()
                handler.stream.write(f"FATAL\n{text}")
                handler.flush()
                return str(log_path)
            except (OSError, ValueError):
                break
            finally:
                handler.release()
    fd, tmp = tempfile.mkstemp(prefix="corpus-fatal-", suffix=".log")
    with open(fd, "w") as fh:
        fh.write(text)
    return tmp
