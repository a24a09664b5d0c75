"""Uniform I/O: atomic Parquet parts in the output folder, and any input URI through smart-open / fsspec.

Outputs are written to a temporary name in the same folder and renamed when complete, so a killed or
retried task never leaves a half-written part that --resume would trust.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

PART_PREFIX = "part-"
PARQUET_COMPRESSION = "zstd"


def part_name(index: int) -> str:
    return f"{PART_PREFIX}{index:05d}.parquet"


def list_parts(folder: str | Path) -> list[str]:
    """The completed parts of a stage folder, in part order."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.glob(f"{PART_PREFIX}*.parquet"))


class PartWriter:
    """Streams record batches into one Parquet part; the part appears only on a clean close."""

    def __init__(self, path: str | Path, schema: pa.Schema, row_group_rows: int = 2048) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{uuid.uuid4().hex[:8]}")
        self.schema = schema
        self.row_group_rows = row_group_rows
        self._writer = pq.ParquetWriter(self.tmp, schema, compression=PARQUET_COMPRESSION)
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table.cast(self.schema), row_group_size=self.row_group_rows)
            self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> "PartWriter":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def iter_batches(path: str, batch_rows: int, columns: list[str] | None = None) -> Iterator[pa.Table]:
    pf = pq.ParquetFile(path)
    for batch in pf.iter_batches(batch_size=batch_rows, columns=columns):
        yield pa.Table.from_batches([batch])


def read_table(paths: list[str], columns: list[str] | None = None) -> pa.Table:
    tables = [pq.read_table(p, columns=columns) for p in paths]
    return pa.concat_tables(tables) if tables else pa.table({})


def write_json_atomic(path: str | Path, data: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def is_remote(uri: str) -> bool:
    return "://" in uri and not uri.startswith("file://")


def uri_exists(uri: str) -> bool:
    """Existence check for local paths and object-store URIs (s3://, gs://, https://) alike."""
    if not is_remote(uri):
        return Path(uri.removeprefix("file://")).exists()
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(uri)  # no glob expansion: the literal name must exist
        return fs.exists(path)
    except Exception:  # noqa: BLE001 - any failure to reach the URI is "not usable" for pre-flight
        return False


def expand_remote_glob(uri: str) -> list[str]:
    """s3://bucket/dir/*.warc.gz -> the matching object URIs, sorted (same scheme as the pattern)."""
    import fsspec

    fs, _, _ = fsspec.get_fs_token_paths(uri)
    scheme = uri.split("://", 1)[0]
    return sorted(m if "://" in m else f"{scheme}://{m.lstrip('/') if scheme != 'memory' else m}" for m in fs.glob(uri))


def open_uri(uri: str, mode: str = "rb") -> Any:
    """Open a local path or any smart-open URI; compression follows the file extension."""
    import smart_open

    return smart_open.open(uri, mode)
