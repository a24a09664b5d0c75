"""Limits that bound what one archive or one repository may cost a worker (archive bombs, giant trees).

A limit reached stops reading that archive or repository: what was read before is kept, and the
archive or repository is one drop (`archive_limit` / `repo_limit`) whose detail names it and the limit.
"""

from __future__ import annotations

from typing import IO

from pydantic import BaseModel, ConfigDict, Field


class Limits(BaseModel):
    """What one file, archive or repository may cost a worker; settable as `stages.ingest.<name>`."""

    model_config = ConfigDict(extra="forbid")

    max_file_bytes: int = Field(1_000_000, gt=0, description="larger files are dropped as too_large without being read")
    max_archive_bytes: int = Field(4_000_000_000, gt=0, description="an archive expanding past this many bytes "
                                   "(tar headers + data) is cut there (archive_limit)")
    max_archive_members: int = Field(500_000, gt=0, description="an archive with more members is cut there (archive_limit)")
    max_compression_ratio: float = Field(100.0, gt=1, description="expanded / compressed bytes above which an archive "
                                         "is cut (archive_limit); source code compresses 3-15x")
    ratio_min_bytes: int = Field(64_000_000, gt=0, description="the compression ratio is judged only past this many expanded bytes")
    max_repo_files: int = Field(500_000, gt=0, description="a repository with more files is cut there (repo_limit)")
    max_repo_bytes: int = Field(4_000_000_000, gt=0, description="a repository with more bytes of files is cut there (repo_limit)")
    max_parquet_row_group_bytes: int = Field(512 << 20, gt=0, description="kind=stack_parquet: a row group whose columns "
                                             "expand past this many bytes (footer sizes) is not read; each of its rows is a too_large drop")


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

    def __enter__(self) -> CountingReader:
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
