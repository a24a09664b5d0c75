"""A range-partitioned shuffle through files: one file per map task, whatever the number of buckets.

Every row carries a 64-bit unsigned route (`_route`: a hash of the grouping key, or a part-ordered
value, see `part_route`). A map task sorts its rows by route *slot* (the top k bits of the route, k chosen
from the task's own size so a slot holds >= MIN_SLOT_BYTES) and writes ONE Parquet file with one row group
per non-empty slot; the slot of each row group is recorded in the file's metadata. A bucket is a
contiguous route range (bucket b of 2**m = the routes whose top m bits are b), so a reduce task reads,
from every map file, only the row groups whose slots meet its range (one footer read per file), and
filters rows only where a slot is wider than its range. Files: one per map task (O(parts + buckets)
over map and reduce), never parts x buckets.

At scale every reduce task still reads a row group from every map file: maps x buckets requests (940,000
parts x 256 buckets = 2.4e8 for a file-level key shuffle of 1B files). So when there are more than
COMBINE_MIN_MAPS map files, a combine step concatenates consecutive map files into `comb-GGGGG.parquet`
files of up to COMBINE_BYTES / COMBINE_MAX_MAPS maps (each row keeps its original position in `_order`),
and reducers read those: (maps / group) x buckets requests plus one read per map file. Past
COMBINE_MIN_MAPS combined files the combine repeats on them (a tree), so no task reads more than
~COMBINE_MAX_MAPS files. A reducer sorts
what it read by `_order`, so it sees exactly the rows, in exactly the order, it would have read from the
map files themselves.

The reverse direction, reducer output routed back by part (`part_route`) and read by one task per part,
would be parts x buckets reads again; `by_part` regroups it first (one task per group of consecutive
parts reads that range from every bucket file and writes one file), so each per-part task reads one file.

The bucket count is chosen after the map phase from the bytes the maps wrote (a power of two, about
`target_bytes` of rows per bucket, >= 1), never from the number of parts; since buckets are unions of
route ranges, any bucket count gives the same groups. Map files have deterministic names
(`map-PPPPP.parquet`) and are written atomically, so a rerun after a crash skips maps already written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from corpus import storage

ROUTE = "_route"
META_KEY = b"corpus.ops.shuffle"
MIN_SLOT_BYTES = 32 * 1024  # smallest row group a map file is cut into (smaller: footer cost dominates)
SLOT_BYTES_PER_COLUMN = 16 * 1024
MAX_FILE_BITS = 12  # at most 4,096 row groups per map file
DEFAULT_TARGET_BYTES = 128 * 1024 * 1024
ORDER = "_order"  # (map index << 32 | row in map file) of a row in a combined file
COMBINE_MIN_MAPS = 128  # fewer map files than this: reducers read them directly
COMBINE_MAX_MAPS = 128  # map files per combined file (its task reads them one after the other)
COMBINE_BYTES = 256 * 1024 * 1024  # rows per combined file
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


def map_file(folder: str, index: int, kind: str = "map") -> str:
    return storage.join(folder, f"{kind}-{index:05d}.parquet")


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
    kind: str = "map"  # "comb": the files are combined map files (rows carry `_order`)
    first: int = 0  # the files [first, end) hold every row of the range (end -1: all n_maps)
    end: int = -1

    @property
    def files(self) -> range:
        return range(self.first, self.n_maps if self.end < 0 else self.end)


@dataclass(frozen=True)
class Shuffled:
    """Where a shuffle's map files are and how they are bucketed; JSON for step records (O(1))."""

    folder: str
    n_maps: int  # files of `kind` the reducers read
    rows: int
    bytes: int
    bits: int
    kind: str = "map"
    # > 0: regrouped by part (`by_part`): file g holds every row of parts [g * parts_per_file, ...).
    parts_per_file: int = 0

    @property
    def n_buckets(self) -> int:
        return 1 << self.bits

    def bucket(self, b: int) -> Bucket:
        width = TOP >> self.bits
        return Bucket(self.folder, self.n_maps, b * width, (b + 1) * width, self.kind)

    def part(self, part: int, n_parts: int) -> Bucket:
        """The rows routed by `part_route` to one part: from its one regrouped file after `by_part`,
        else from every file."""
        lo, hi = part_range(part, n_parts)
        if self.parts_per_file:
            g = part // self.parts_per_file
            return Bucket(self.folder, self.n_maps, lo, hi, self.kind, g, g + 1)
        return Bucket(self.folder, self.n_maps, lo, hi, self.kind)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Shuffled:
        return cls(**data)


def collect(folder: str, stats: list[dict[str, int]], target_bytes: int | None = None, min_buckets: int = 1) -> Shuffled:
    """The result of a map phase whose task i wrote `map_file(folder, i)` and returned stats[i];
    buckets hold about target_bytes (default DEFAULT_TARGET_BYTES) of rows, and there are at least
    min_buckets of them (rows routed by part: a bucket then spans at most parts / min_buckets parts)."""
    target_bytes = target_bytes or DEFAULT_TARGET_BYTES
    rows = sum(s["rows"] for s in stats)
    nbytes = sum(s["bytes"] for s in stats)
    bits = max(choose_bits(nbytes, target_bytes), math.ceil(math.log2(max(1, min_buckets))))
    return Shuffled(folder, len(stats), rows, nbytes, bits)


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
    stats = ctx.map(_scatter, args, desc=f"{ctx.stage_name}:{name}", costs=ctx.part_sizes(inputs))
    shuffled = collect(folder, stats, target_bytes)
    return combine(ctx, shuffled, stats, name) if len(stats) > COMBINE_MIN_MAPS else shuffled


def combine_groups(map_bytes: list[int], max_bytes: int | None = None, max_maps: int | None = None) -> list[tuple[int, int]]:
    """Consecutive [first, end) ranges of map files, each up to max_bytes of rows and max_maps files
    (default COMBINE_BYTES and COMBINE_MAX_MAPS)."""
    max_bytes = COMBINE_BYTES if max_bytes is None else max_bytes
    max_maps = COMBINE_MAX_MAPS if max_maps is None else max_maps
    groups: list[tuple[int, int]] = []
    first, size = 0, 0
    for i, b in enumerate(map_bytes):
        if i > first and (size + b > max_bytes or i - first >= max_maps):
            groups.append((first, i))
            first, size = i, 0
        size += b
    if first < len(map_bytes):
        groups.append((first, len(map_bytes)))
    return groups


def _combine(folder: str, first: int, end: int, out_uri: str, kind: str = "map") -> dict[str, int]:
    """One combined file from files [first, end) of `kind`: their rows with `_order` (a map file's rows
    get it here; combined files' rows keep theirs), sorted by slot."""
    done = map_file_stats(out_uri)
    if done is not None:
        return done
    tables = []
    for i in range(first, end):
        t = storage.read_table(map_file(folder, i, kind)).replace_schema_metadata(None)
        if ORDER not in t.column_names:
            order = (np.uint64(i) << np.uint64(32)) | np.arange(t.num_rows, dtype=np.uint64)
            t = t.append_column(ORDER, pa.array(order, pa.uint64()))
        tables.append(t)
    return write_map_file(pa.concat_tables(tables, promote_options="default"), out_uri)


def combine(ctx: Any, shuffled: Shuffled, stats: list[dict[str, int]], name: str) -> Shuffled:
    """The same shuffle read through combined files (see the module docstring); same bucket count.
    Levels repeat (combined files of combined files: `comb`, `comb1`, ...) while more than
    COMBINE_MIN_MAPS files remain and a level still merges some, so neither a combine task nor a
    reducer reads more than ~COMBINE_MAX_MAPS files, whatever the number of maps (only bytes: files
    of COMBINE_BYTES each are not merged further)."""
    kind, level = shuffled.kind, 0
    while len(stats) > COMBINE_MIN_MAPS:
        groups = combine_groups([s["bytes"] for s in stats])
        if len(groups) == len(stats):  # every file is full already
            break
        out_kind = "comb" if level == 0 else f"comb{level}"
        args = [(shuffled.folder, a, b, map_file(shuffled.folder, g, out_kind), kind) for g, (a, b) in enumerate(groups)]
        stats = ctx.map(_combine, args, desc=f"{ctx.stage_name}:{name}:combine" + (f"-{level}" if level else ""))
        kind, level = out_kind, level + 1
    return Shuffled(shuffled.folder, len(stats), shuffled.rows, shuffled.bytes, shuffled.bits, kind)


# ----------------------------------------------------------------------------- back by part

# Files of a part-routed shuffle a per-part reader reads directly; more and the shuffle is regrouped.
BY_PART_MAX_FILES = 4
PART_FILE_BYTES = COMBINE_BYTES  # rows per regrouped file
PART_FILE_MAX_PARTS = COMBINE_MAX_MAPS  # parts per regrouped file


def parts_per_file(n_parts: int, nbytes: int, max_bytes: int | None = None, max_parts: int | None = None) -> int:
    """Consecutive parts per regrouped file: about max_bytes of rows each, at most max_parts parts (a
    function of the totals only, so the grouping is the same on every rerun)."""
    max_bytes = PART_FILE_BYTES if max_bytes is None else max_bytes
    max_parts = PART_FILE_MAX_PARTS if max_parts is None else max_parts
    return max(1, min(max_parts, n_parts * max_bytes // max(1, nbytes)))


def _regroup(source: Bucket, out_uri: str) -> dict[str, int]:
    """One regrouped file: the rows of a range of parts from every file of the shuffle, each with its
    position (`_order`: file << 32 | row in the range read) so readers see the original order."""
    done = map_file_stats(out_uri)
    if done is not None:
        return done
    tables = []
    for i in source.files:
        t = _read_range(map_file(source.folder, i, source.kind), source.lo, source.hi, None)
        if t is None:
            continue
        t = t.replace_schema_metadata(None)
        if ORDER not in t.column_names:
            order = (np.uint64(i) << np.uint64(32)) | np.arange(t.num_rows, dtype=np.uint64)
            t = t.append_column(ORDER, pa.array(order, pa.uint64()))
        tables.append(t)
    if not tables:
        pf = storage.parquet_file(map_file(source.folder, source.first, source.kind))
        try:
            schema = pf.schema_arrow.remove_metadata()
        finally:
            pf.close()
        if ORDER not in schema.names:
            schema = schema.append(pa.field(ORDER, pa.uint64()))
        tables = [schema.empty_table()]
    return write_map_file(pa.concat_tables(tables, promote_options="default"), out_uri)


def by_part(ctx: Any, shuffled: Shuffled, n_parts: int, name: str) -> Shuffled:
    """A shuffle routed by `part_route` (reducer output on its way back to the parts), regrouped so
    that each part's rows are in one file: G tasks (G = parts / parts_per_file) each read their parts'
    range from the B reducer files, and each per-part task then reads one file. Requests: G x B + P
    instead of P x B, and O(B) per task, never O(P). Readers see the rows in the same order as before."""
    if shuffled.n_maps <= BY_PART_MAX_FILES or n_parts <= 1:
        return shuffled
    per_file = parts_per_file(n_parts, shuffled.bytes)
    n_files = -(-n_parts // per_file)
    folder = ctx.scratch(name)
    args = []
    for g in range(n_files):
        lo = part_range(g * per_file, n_parts)[0]
        last = min(n_parts, (g + 1) * per_file) - 1
        hi = part_range(last, n_parts)[1] if last < n_parts - 1 else TOP
        args.append((Bucket(shuffled.folder, shuffled.n_maps, lo, hi, shuffled.kind), map_file(folder, g, "part")))
    ctx.map(_regroup, args, desc=f"{ctx.stage_name}:{name}")
    return Shuffled(folder, n_files, shuffled.rows, shuffled.bytes, shuffled.bits, "part", per_file)


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
        want = None if columns is None else list(dict.fromkeys([*columns, ROUTE, *([ORDER] if ORDER in pf.schema_arrow.names else [])]))
        table = storage.read_row_groups(pf, groups, columns=want)
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
    for i in source.files:
        t = _read_range(map_file(source.folder, i, source.kind), source.lo, source.hi, columns)
        if t is not None and t.num_rows:
            tables.append(t.replace_schema_metadata(None))
    if not tables:
        if not source.n_maps:
            return pa.table({})
        pf = storage.parquet_file(map_file(source.folder, source.first, source.kind))
        try:
            schema = pf.schema_arrow
        finally:
            pf.close()
        tables = [schema.empty_table().replace_schema_metadata(None)]
    table = pa.concat_tables(tables)
    if ORDER in table.column_names:  # combined files: back to map order, as if read from the map files
        table = table.take(pc.sort_indices(table.column(ORDER)))
    table = table.drop_columns([c for c in (ROUTE, ORDER) if c in table.column_names])
    return table.select(columns) if columns is not None else table
