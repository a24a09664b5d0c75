"""A hash-partitioned shuffle over Ray tasks, through files in the run's scratch folder.

Map tasks write `bucket-BBBBB/from-PPPPP.parquet`; reduce tasks read one bucket each. Going through
files keeps driver memory flat and makes every task idempotent (same inputs -> same file names).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from corpus.storage import PartWriter


def _scatter(map_fn: Callable[[pa.Table, int], pa.Table], in_path: str, part_index: int, columns: list[str] | None, out_dir: str, n_buckets: int) -> int:
    table = map_fn(pq.read_table(in_path, columns=columns), part_index)
    if not table.num_rows:
        return 0
    buckets = table.column("bucket")
    for b in pc.unique(buckets).to_pylist():
        chunk = table.filter(pc.equal(buckets, b)).drop_columns(["bucket"])
        with PartWriter(Path(out_dir) / f"bucket-{b:05d}" / f"from-{part_index:05d}.parquet", chunk.schema) as w:
            w.write(chunk)
    return table.num_rows


def shuffle(ctx, inputs: list[str], n_buckets: int, map_fn: Callable[[pa.Table, int], pa.Table], columns: list[str] | None, name: str) -> Path:
    """Run map_fn on every input part (it must add an int `bucket` column in [0, n_buckets)) and
    scatter its rows into bucket folders. Returns the shuffle folder."""
    out_dir = ctx.tmp_dir / name
    shutil.rmtree(out_dir, ignore_errors=True)  # a crashed earlier run may have left other buckets
    args = [(map_fn, p, i, columns, str(out_dir), n_buckets) for i, p in enumerate(inputs)]
    ctx.run_tasks(_scatter, args, desc=f"{ctx.stage_name}:{name}")
    return out_dir


def bucket_files(shuffle_dir: Path, bucket: int) -> list[str]:
    folder = shuffle_dir / f"bucket-{bucket:05d}"
    return sorted(str(p) for p in folder.glob("from-*.parquet")) if folder.is_dir() else []


def stable_bucket(keys: pa.Array, n_buckets: int) -> np.ndarray:
    """Bucket of 64-bit hash keys (read as unsigned)."""
    return (keys.to_numpy().view(np.uint64) % np.uint64(n_buckets)).astype(np.int64)
