"""One input file's failure is a drop of that file, never a failed task.

Every per-file path (decoders, notebook conversion, language detection, quality signals, HTML
extraction) wraps its work for one file in `contained(...)`: an exception the file's contents caused
(a RecursionError from 1,200 nested JSON arrays, a parser's own error type, ...) becomes that file's drop
with a reason naming the step and a detail naming the file and the cause. Failures of the machine
itself (disk full, read-only output, out of memory) are not the file's fault and keep failing the task,
so the run stops with one line naming them instead of quietly dropping every file after them.
"""

from __future__ import annotations

import errno

# Errors of the worker's environment, not of the file being read: they fail the task.
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.ENOMEM}


def is_environment_error(exc: BaseException) -> bool:
    """True for failures of the machine (disk full, read-only file system, out of memory)."""
    if isinstance(exc, MemoryError):
        return True
    return isinstance(exc, OSError) and exc.errno in _ENVIRONMENT_ERRNOS


def describe(exc: BaseException) -> str:
    """`Type: first line of the message` (at most 200 characters), for a drop's detail."""
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
