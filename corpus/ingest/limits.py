"""Limits that bound what one archive or one repository may cost a worker (archive bombs, giant trees).

A limit reached stops reading that archive or repository: what was read before is kept, and the
archive or repository is one drop (`archive_limit` / `repo_limit`) whose detail names it and the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 1_000_000
    max_archive_bytes: int = 4_000_000_000  # expanded bytes of one archive (tar headers + data)
    max_archive_members: int = 500_000
    max_compression_ratio: float = 100.0  # expanded / compressed; source code compresses 3-15x
    ratio_min_bytes: int = 64_000_000  # the ratio is judged only past this many expanded bytes
    max_repo_files: int = 500_000
    max_repo_bytes: int = 4_000_000_000  # bytes of the files read from one repository


class CountingReader:
    """A read-only file wrapper that counts the (compressed) bytes read through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.count += len(data)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> "CountingReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RepoBudget:
    """Files and bytes read so far from one repository, against its limits."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.files = 0
        self.bytes = 0

    def take(self, size: int) -> str | None:
        """Count one more file of `size` bytes; the exceeded limit as text, or None."""
        self.files += 1
        self.bytes += size
        if self.files > self.limits.max_repo_files:
            return f"more than max_repo_files={self.limits.max_repo_files} files"
        if self.bytes > self.limits.max_repo_bytes:
            return f"more than max_repo_bytes={self.limits.max_repo_bytes} bytes of files"
        return None
