"""Parts of a stage folder: names, the per-part commit record, and the filtered-part writer.

A part `OUT/<stage>/part-NNNNN.parquet` (and its quarantine `_dropped/part-NNNNN.parquet`) is trusted
only once its commit record `_part-NNNNN.stats.json` names it: the record is written last and holds the
part's key (what it was computed from), its accounting and the byte size and row count of each file.
Resume reuses a part only when the record's key matches, the files still have the recorded sizes and
their Parquet footers read with the recorded row counts, so a torn or foreign part is recomputed,
never trusted.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from corpus import storage
from corpus.layout import DROPPED_DIR
from corpus.records import DOC_SCHEMA, DROP_SCHEMA, drop_rows, table_bytes
from corpus.stats import StageStats

PART_PREFIX = "part-"


def part_name(index: int) -> str:
    return f"{PART_PREFIX}{index:05d}.parquet"


def part_uri(stage_uri: str, index: int) -> str:
    return storage.join(stage_uri, part_name(index))


def dropped_uri(part: str) -> str:
    return storage.join(storage.parent(part), DROPPED_DIR, storage.basename(part))


def commit_uri(part: str) -> str:
    name = storage.basename(part)
    return storage.join(storage.parent(part), f"_{name.removesuffix('.parquet')}.stats.json")


def list_parts(stage_uri: str) -> list[str]:
    """The part files of a stage folder, in part order (one listing)."""
    names = [n for n in storage.listdir(stage_uri) if n.startswith(PART_PREFIX) and n.endswith(".parquet")]
    return [storage.join(stage_uri, n) for n in sorted(names, key=_part_order)]


def _part_order(name: str) -> tuple[int, str]:
    """Numeric part order: past 99,999 parts the names grow a digit and no longer sort as text."""
    digits = name[len(PART_PREFIX):-len(".parquet")]
    return (int(digits), name) if digits.isdigit() else (-1, name)


def commit_part(part: str, key: str, stats: StageStats, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the part's commit record (after the part and its quarantine are complete)."""
    files = {}
    rows = {}
    for uri in (part, dropped_uri(part)):
        if storage.exists(uri):
            name = storage.basename(storage.parent(uri)) + "/" + storage.basename(uri) if uri != part else storage.basename(uri)
            files[name] = storage.size(uri)
            rows[name] = footer_rows(uri)
    record = {"key": key, "stats": stats.to_json(), "files": files, "rows": rows, **(extra or {})}
    storage.write_json(commit_uri(part), record)
    return record


def committed(part: str, key: str) -> dict[str, Any] | None:
    """The commit record of a part finished earlier under the same key with its files intact, or None."""
    # A missing file is told by the read or the size failing, not by asking first: on an object store
    # each question is a request, and --resume asks them for every part of the stage (~9 -> 6 a part).
    try:
        record = storage.read_json(commit_uri(part))
    except (FileNotFoundError, ValueError):
        return None
    if record.get("key") != key or not record.get("files"):
        return None
    folder = storage.parent(part)
    for name, expected in record["files"].items():
        uri = storage.join(folder, *name.split("/"))
        try:
            if storage.size(uri) != expected:
                return None
        except FileNotFoundError:
            return None
        # Sizes can match a file torn and rewritten, or a record copied beside foreign files: the
        # Parquet footer must read and hold the row count recorded at commit.
        rows = footer_rows(uri)
        if rows is None or rows != record.get("rows", {}).get(name, rows):
            return None
    return record


def footer_rows(uri: str) -> int | None:
    """Row count from a Parquet file's footer, or None when the footer does not read."""
    try:
        pf = storage.parquet_file(uri)
    except Exception:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, ... for a torn file
        return None
    try:
        return pf.metadata.num_rows
    finally:
        pf.close()


def pass_through_part(in_uri: str, out_uri: str) -> StageStats:
    """A part that keeps every row as it is: the input file copied whole (no Parquet decode and
    re-encode of its text; a server-side copy on object stores) and an empty quarantine beside it."""
    sizes = storage.read_table(in_uri, columns=["size"])
    stats = StageStats()
    stats.add_in(sizes.num_rows, table_bytes(sizes))
    stats.add_kept(sizes.num_rows, table_bytes(sizes))
    storage.copy(in_uri, out_uri)
    with storage.PartWriter(dropped_uri(out_uri), DROP_SCHEMA) as w:
        w.write(DROP_SCHEMA.empty_table())
    return stats


def write_filtered_part(table: pa.Table, mask: list[bool], reasons: list[str | None], details: list[str], out_uri: str,
                        source_uri: str | None = None) -> StageStats:
    """Write the rows of a DOC_SCHEMA table whose mask is false as a part, quarantine the others
    (with their reason) beside it, and return the part's accounting. `source_uri`: the part file the
    table was read from unchanged; when nothing is dropped it is copied instead of re-encoded."""
    if source_uri is not None and not any(mask):
        return pass_through_part(source_uri, out_uri)
    kept = table.filter(pa.array([not m for m in mask], type=pa.bool_()))
    dropped = drop_rows(table, mask, reasons, details)
    stats = StageStats()
    stats.add_in(table.num_rows, table_bytes(table))
    stats.add_kept(kept.num_rows, table_bytes(kept))
    stats.add_drop_rows(dropped)
    with storage.PartWriter(out_uri, DOC_SCHEMA) as w:
        w.write(kept)
    with storage.PartWriter(dropped_uri(out_uri), DROP_SCHEMA) as w:
        w.write(dropped)
    return stats
