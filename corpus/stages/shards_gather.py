"""Bounded fan-in for the shards stage's pack ranges: every task reads at most `fan_in` files, whatever
the part count (small files such as tokenizer samples and per-task summaries go through
corpus.ops.fanin.fan_in_tree).

- `RangeGather`: the mix tasks write one map file per part (corpus.ops.shuffle's format, routed by pack
  bucket), so a pack task reading its bucket straight from every map file would make parts x buckets
  reads. Instead (`range_gather`: when there are more than `fan_in` files, or maps x buckets is large),
  a level of gather tasks merges `fan_in` files at a time, each task keeping only an interval of the buckets (intervals split `fan_in` ways per
  level), so a gathered file stays about a map file's size and each level moves the data once. A pack
  task then reads its bucket from at most `fan_in` files of the last level. Levels: ceil(log_fanin(parts))
  - 1; tasks per level: <= parts; requests per task: <= fan_in reads + 1 write.

Rows keep part order through every level (files are read in part order), so a pack task sees its rows in
the same order as if it had read every part's file itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from corpus import storage
from corpus.ops.shuffle import (
    ROUTE,
    Bucket,
    map_file,
    map_file_stats,
    part_range,
    part_route,
    read_bucket,
    write_map_file,
)

BUCKET = "bucket"
# Below this many (map file, bucket) pairs pack tasks read the map files directly: one footer and one
# ranged read a pair (~1-2 ms measured) costs less than rewriting the data once more.
GATHER_MIN_PAIRS = 2048


def bucket_routes(buckets: np.ndarray, n_buckets: int) -> np.ndarray:
    """uint64 routes putting bucket b's rows in route range `part_range(b, n_buckets)` (in row order)."""
    refs = (buckets.astype(np.int64) << 32) | np.arange(len(buckets), dtype=np.int64)
    return part_route(refs, n_buckets)


def with_routes(table: pa.Table, n_buckets: int) -> pa.Table:
    buckets = table.column(BUCKET).to_numpy() if table.num_rows else np.empty(0, np.int32)
    return table.append_column(ROUTE, pa.array(bucket_routes(buckets, n_buckets), pa.uint64()))


@dataclass(frozen=True)
class RangeGather:
    """Where the files of each gather level are, for `n_maps` map files and `n_buckets` buckets."""

    root: str
    n_maps: int
    n_buckets: int
    fan_in: int

    def groups(self, level: int) -> int:
        """Files per bucket interval at a level (level 0: the map files)."""
        return -(-self.n_maps // self.fan_in**level)

    @property
    def levels(self) -> int:
        """Gather levels to run: the last one leaves at most fan_in files per bucket."""
        level = 0
        while self.groups(level) > self.fan_in:
            level += 1
        return level

    def intervals(self, level: int) -> int:
        return min(self.n_buckets, self.fan_in**level)

    def interval_buckets(self, level: int, j: int) -> tuple[int, int]:
        c = self.intervals(level)
        return j * self.n_buckets // c, (j + 1) * self.n_buckets // c

    def interval_of(self, level: int, bucket: int) -> int:
        c = self.intervals(level)
        j = bucket * c // self.n_buckets
        while self.interval_buckets(level, j)[1] <= bucket:  # integer rounding: at most a step or two
            j += 1
        while self.interval_buckets(level, j)[0] > bucket:
            j -= 1
        return j

    def _folder(self, level: int, j: int, parent_group: int) -> str:
        return storage.join(self.root, f"L{level}", f"j{j:05d}", f"g{parent_group:05d}")

    def file(self, level: int, j: int, group: int) -> str:
        """The file of (group, interval j) at a level; the fan_in files one next-level task reads share
        a folder, named map-00000.. in group order."""
        return map_file(self._folder(level, j, group // self.fan_in), group % self.fan_in)

    def map_uri(self, part: int) -> str:
        return self.file(0, 0, part)

    def _source(self, level: int, j: int, parent_group: int, b_lo: int, b_hi: int) -> Bucket:
        n = min(self.fan_in, self.groups(level) - parent_group * self.fan_in)
        lo = part_range(b_lo, self.n_buckets)[0]
        hi = part_range(b_hi - 1, self.n_buckets)[1]
        return Bucket(self._folder(level, j, parent_group), n, lo, hi)

    def gather_args(self, level: int) -> list[tuple[Bucket, str, int]]:
        """(what to read, where to write, buckets) of every task of a level (>= 1)."""
        out = []
        for j in range(self.intervals(level)):
            b_lo, b_hi = self.interval_buckets(level, j)
            parent = self.interval_of(level - 1, b_lo)
            for g in range(self.groups(level)):
                out.append((self._source(level - 1, parent, g, b_lo, b_hi), self.file(level, j, g), self.n_buckets))
        return out

    def bucket_source(self, bucket: int) -> Bucket:
        """What the pack task of one bucket reads: <= fan_in files of the last level."""
        level = self.levels
        j = self.interval_of(level, bucket)
        return self._source(level, j, 0, bucket, bucket + 1)


def range_gather(root: str, n_maps: int, n_buckets: int, fan_in: int) -> RangeGather:
    """The gather tree of a run: none while maps <= fan_in and maps x buckets is small; else the fan-in
    min(fan_in, ceil(sqrt(maps))), so one level usually suffices and gather and pack tasks read about
    as many files each (maps x sqrt(maps) + buckets x sqrt(maps) pairs instead of maps x buckets)."""
    if n_maps > fan_in or n_maps * n_buckets > GATHER_MIN_PAIRS:
        fan_in = min(fan_in, max(2, math.isqrt(max(0, n_maps - 1)) + 1))
    return RangeGather(root, n_maps, n_buckets, fan_in)


def gather_task(source: Bucket, out_uri: str, n_buckets: int) -> int:
    """One gather task: the rows of an interval of buckets from <= fan_in files, as one map file."""
    done = map_file_stats(out_uri)
    if done is not None:
        return done["rows"]
    table = read_bucket(source)
    return write_map_file(with_routes(table, n_buckets), out_uri)["rows"]
