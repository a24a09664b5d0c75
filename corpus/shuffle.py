"""A range-partitioned shuffle through files: one file per map task, whatever the number of buckets.

Every row carries a 64-bit unsigned route (`_route`: a hash of the grouping key, or a part-ordered
value, see `part_route`). A map task sorts its rows by route *slot* (the top k bits of the route, k chosen
from the task's own size so a slot holds >= MIN_SLOT_BYTES) and writes ONE Parquet file with one row group
per non-empty slot; the slot of each row group is recorded in the file's metadata. A bucket is a
contiguous route range (bucket b of 2**m = the routes whose top m bits are b), so a reduce task reads,
from every map file, only the row groups whose slots meet its range (one footer read per file), and
filters rows only where a slot is wider than its range. Files: one per map task (O(parts + buckets)
over map and reduce), never parts x buckets.

The bucket count is chosen after the map phase from the bytes the maps wrote (a power of two, about
`target_bytes` of rows per bucket, >= 1), never from the number of parts; since buckets are unions of
route ranges, any bucket count gives the same groups. Map files have deterministic names
(`map-PPPPP.parquet`) and are written atomically, so a rerun after a crash skips maps already written.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from corpus import storage

ROUTE = "_route"
META_KEY = b"corpus.shuffle"
MIN_SLOT_BYTES = 32 * 1024  # smallest row group a map file is cut into (smaller: footer cost dominates)
SLOT_BYTES_PER_COLUMN = 16 * 1024
MAX_FILE_BITS = 12  # at most 4,096 row groups per map file
DEFAULT_TARGET_BYTES = 128 * 1024 * 1024
TOP = 1 << 64


# ---------------------------------------------------------------------------------------- routes


def hash_route(values: np.ndarray) -> np.ndarray:
    """A uniform uint64 route of int64 values (splitmix64's finaliser: refs are not uniform, their
    routes must be)."""
    z = values.astype(np.int64).view(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def string_route(values: list[str]) -> np.ndarray:
    """A uniform uint64 route of strings (xxh3-64 of the UTF-8 bytes)."""
    return np.fromiter((xxhash.xxh3_64_intdigest(v.encode("utf-8", "surrogatepass")) for v in values), dtype=np.uint64, count=len(values))


def _part_prefix(part: int | np.ndarray, n_parts: int) -> Any:
    # floor(part * 2**32 / n_parts): increasing in part, distinct per part, spread over 32 bits.
    return (np.asarray(part, dtype=np.uint64) << np.uint64(32)) // np.uint64(max(1, n_parts))


def part_route(refs: np.ndarray, n_parts: int) -> np.ndarray:
    """Route of document refs (part << 32 | row) ordered by part: the routes of one part form one
    range (`part_range`), so a per-part reader reads only its own rows."""
    refs = refs.astype(np.int64)
    return (_part_prefix(refs >> 32, n_parts) << np.uint64(32)) | (refs & 0xFFFFFFFF).astype(np.uint64)


def part_range(part: int, n_parts: int) -> tuple[int, int]:
    prefix = int(_part_prefix(part, n_parts))
    return prefix << 32, (prefix + 1) << 32


# -------------------------------------------------------------------------------------- map side


def map_file(folder: str, index: int) -> str:
    return storage.join(folder, f"map-{index:05d}.parquet")


def write_map_file(table: pa.Table, uri: str) -> dict[str, int]:
    """Write rows (with a uint64 `_route` column) as one map file, one row group per route slot.
    Returns {"rows", "bytes"}: what the driver sums to choose the bucket count."""
    route = table.column(ROUTE).to_numpy().astype(np.uint64) if table.num_rows else np.empty(0, np.uint64)
    nbytes = int(table.nbytes)
    # Each row group costs ~100 B of footer per column, read by every reducer: wide rows get larger slots.
    slot_bytes = max(MIN_SLOT_BYTES, SLOT_BYTES_PER_COLUMN * table.num_columns)
    bits = 0 if nbytes < 2 * slot_bytes else min(MAX_FILE_BITS, int(math.log2(nbytes / slot_bytes)))
    slots = (route >> np.uint64(64 - bits)).astype(np.int64) if bits else np.zeros(len(route), np.int64)
    order = np.argsort(slots, kind="stable")  # stable: rows of a slot stay in the map's row order
    slots = slots[order]
    table = table.take(pa.array(order))
    starts = np.flatnonzero(np.r_[True, slots[1:] != slots[:-1]]) if len(slots) else np.empty(0, np.int64)
    ends = np.r_[starts[1:], len(slots)]
    meta = {"bits": bits, "slots": slots[starts].tolist(), "bytes": nbytes}
    schema = table.schema.with_metadata({**(table.schema.metadata or {}), META_KEY: json.dumps(meta).encode()})
    with storage.atomic_write(uri) as f:
        # No statistics: readers select row groups by the slot index, and text min/max would bloat the footer.
        with pq.ParquetWriter(f, schema, compression=storage.PARQUET_COMPRESSION, write_statistics=False) as w:
            for s, e in zip(starts.tolist(), ends.tolist()):
                w.write_table(table.slice(s, e - s).cast(schema), row_group_size=e - s)
            if not len(starts):
                w.write_table(schema.empty_table())
    return {"rows": table.num_rows, "bytes": nbytes}


def _file_meta(pf: pq.ParquetFile) -> dict:
    return json.loads(pf.schema_arrow.metadata[META_KEY])


def map_file_stats(uri: str) -> dict[str, int] | None:
    """{"rows", "bytes"} of a map file written earlier (a crashed run's finished maps), or None."""
    if not storage.exists(uri):
        return None
    pf = storage.parquet_file(uri)
    try:
        return {"rows": pf.metadata.num_rows, "bytes": int(_file_meta(pf)["bytes"])}
    finally:
        pf.close()


# ------------------------------------------------------------------------------------ the result


def choose_bits(total_bytes: int, target_bytes: int) -> int:
    """log2 of the bucket count: the smallest power of two with <= target_bytes per bucket."""
    return max(0, math.ceil(math.log2(max(1.0, total_bytes / max(1, target_bytes)))))


@dataclass(frozen=True)
class Bucket:
    """A route range [lo, hi) over the map files of one shuffle (small: travels as a task argument)."""

    folder: str
    n_maps: int
    lo: int
    hi: int


@dataclass(frozen=True)
class Shuffled:
    """Where a shuffle's map files are and how they are bucketed; JSON for step records (O(1))."""

    folder: str
    n_maps: int
    rows: int
    bytes: int
    bits: int

    @property
    def n_buckets(self) -> int:
        return 1 << self.bits

    def bucket(self, b: int) -> Bucket:
        width = TOP >> self.bits
        return Bucket(self.folder, self.n_maps, b * width, (b + 1) * width)

    def part(self, part: int, n_parts: int) -> Bucket:
        """The rows routed by `part_route` to one part."""
        lo, hi = part_range(part, n_parts)
        return Bucket(self.folder, self.n_maps, lo, hi)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Shuffled":
        return cls(**data)


def collect(folder: str, stats: list[dict[str, int]], target_bytes: int | None = None) -> Shuffled:
    """The result of a map phase whose task i wrote `map_file(folder, i)` and returned stats[i];
    buckets hold about target_bytes (default DEFAULT_TARGET_BYTES) of rows."""
    target_bytes = target_bytes or DEFAULT_TARGET_BYTES
    rows = sum(s["rows"] for s in stats)
    nbytes = sum(s["bytes"] for s in stats)
    return Shuffled(folder, len(stats), rows, nbytes, choose_bits(nbytes, target_bytes))


def _scatter(map_fn: Callable[[pa.Table, int], pa.Table], in_uri: str, part_index: int, columns: list[str] | None, out_uri: str) -> dict[str, int]:
    done = map_file_stats(out_uri)
    if done is not None:
        return done
    return write_map_file(map_fn(storage.read_table(in_uri, columns=columns), part_index), out_uri)


def shuffle(ctx: Any, inputs: list[str], map_fn: Callable[[pa.Table, int], pa.Table], columns: list[str] | None, name: str,
            target_bytes: int | None = None) -> Shuffled:
    """Run map_fn(table, part_index) on every input part (it must add a uint64 `_route` column) and
    write one map file per part under ctx.scratch(name). Rows with equal routes meet in one bucket."""
    folder = ctx.scratch(name)
    args = [(map_fn, p, i, columns, map_file(folder, i)) for i, p in enumerate(inputs)]
    return collect(folder, ctx.map(_scatter, args, desc=f"{ctx.stage_name}:{name}", costs=ctx.part_sizes(inputs)), target_bytes)


def bucket_files(shuffled: Shuffled, bucket: int) -> Bucket:
    """The reduce input of one bucket (read it in the task with read_bucket)."""
    return shuffled.bucket(bucket)


# ----------------------------------------------------------------------------------- reduce side


def _read_range(uri: str, lo: int, hi: int, columns: list[str] | None) -> pa.Table | None:
    pf = storage.parquet_file(uri)
    try:
        meta = _file_meta(pf)
        shift = 64 - meta["bits"]
        slot_lo, slot_hi = (lo >> shift, (hi - 1) >> shift) if meta["bits"] else (0, 0)
        groups = [g for g, s in enumerate(meta["slots"]) if slot_lo <= s <= slot_hi]
        exact = lo == slot_lo << shift and hi == (slot_hi + 1) << shift if meta["bits"] else (lo == 0 and hi == TOP)
        if not groups:
            return None
        want = None if columns is None else list(dict.fromkeys([*columns, ROUTE]))
        table = pf.read_row_groups(groups, columns=want)
    finally:
        pf.close()
    if not exact:
        route = table.column(ROUTE)
        mask = pc.greater_equal(route, pa.scalar(lo, pa.uint64()))
        if hi < TOP:
            mask = pc.and_(mask, pc.less(route, pa.scalar(hi, pa.uint64())))
        table = table.filter(mask)
    return table


def read_bucket(source: Bucket | list[str], columns: list[str] | None = None) -> pa.Table:
    """The rows of a bucket from every map file, in map order (without `_route`). A list of plain
    Parquet URIs is read whole (callers that feed a reducer from ordinary files)."""
    if not isinstance(source, Bucket):
        return storage.read_tables(list(source), columns=columns)
    tables = []
    for i in range(source.n_maps):
        t = _read_range(map_file(source.folder, i), source.lo, source.hi, columns)
        if t is not None and t.num_rows:
            tables.append(t.replace_schema_metadata(None))
    if not tables:
        if not source.n_maps:
            return pa.table({})
        pf = storage.parquet_file(map_file(source.folder, 0))
        try:
            schema = pf.schema_arrow
        finally:
            pf.close()
        tables = [schema.empty_table().replace_schema_metadata(None)]
    table = pa.concat_tables(tables)
    table = table.drop_columns([ROUTE]) if ROUTE in table.column_names else table
    return table.select(columns) if columns is not None else table
