"""Resume checks what it reuses: a part whose Parquet footer does not read, or whose row count is not
the one its commit record holds, is recomputed instead of trusted."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from corpus import storage
from corpus.engine.parts import commit_part, commit_uri, committed, dropped_uri
from corpus.records import DOC_SCHEMA, DROP_SCHEMA, Doc, docs_to_table
from corpus.stats import StageStats


def _part(tmp_path: Path, n: int) -> str:
    part = str(tmp_path / "langid" / "part-00002.parquet")
    table = docs_to_table([Doc(source="s", domain="code", repo="r", path=f"f{i}.py", text=f"x = {i}\n" * 50) for i in range(n)])
    storage.write_table(part, table.cast(DOC_SCHEMA))
    storage.write_table(dropped_uri(part), pa.Table.from_pylist([], schema=DROP_SCHEMA))
    stats = StageStats()
    stats.add_in(n, 0)
    stats.add_kept(n, 0)
    commit_part(part, "key", stats)
    return part


def test_intact_part_is_reused(tmp_path: Path) -> None:
    part = _part(tmp_path, 10)
    record = committed(part, "key")
    assert record is not None and record["rows"] == {"part-00002.parquet": 10, "_dropped/part-00002.parquet": 0}


def test_torn_part_with_a_matching_size_is_not_reused(tmp_path: Path) -> None:
    part = _part(tmp_path, 10)
    data = bytearray(Path(part).read_bytes())
    data[-12:] = b"\0" * 12  # footer length and magic destroyed, size unchanged
    Path(part).write_bytes(bytes(data))
    assert committed(part, "key") is None


def test_part_with_other_rows_of_the_same_size_is_not_reused(tmp_path: Path) -> None:
    part = _part(tmp_path, 10)
    record = storage.read_json(commit_uri(part))
    record["rows"]["part-00002.parquet"] = 9  # the record of another computation beside these files
    storage.write_json(commit_uri(part), record)
    assert committed(part, "key") is None


def test_truncated_part_is_not_reused(tmp_path: Path) -> None:
    part = _part(tmp_path, 10)
    data = Path(part).read_bytes()
    Path(part).write_bytes(data[: len(data) // 2])
    record = storage.read_json(commit_uri(part))
    record["files"]["part-00002.parquet"] = len(data) // 2  # even when the sidecar matches the torn size
    storage.write_json(commit_uri(part), record)
    assert committed(part, "key") is None
