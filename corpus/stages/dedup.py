"""Exact and MinHash near deduplication as a distributed three-phase job on Ray tasks.

1. keys:    every document emits 64-bit keys (exact: its content hash; near: one per LSH band);
            rows are shuffled by key into buckets.
2. collide: per bucket, documents that share a key become edges (first member -> each other member).
3. apply:   the driver joins edges into clusters (union-find, edges are few), keeps the first
            document of each cluster in (part, row) order, and every part drops the rest.
The kept document is the same whatever the number of workers: order is by (part, row), never by
task completion.
"""

from __future__ import annotations

import re
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash
from pydantic import BaseModel, ConfigDict, Field

from corpus.parts import write_filtered_part
from corpus.parts import part_name
from corpus.shuffle import bucket_files, shuffle, stable_bucket
from corpus.stage import GlobalStage
from corpus.stats import StageStats

TOKEN = re.compile(r"\w+", re.UNICODE)


def _doc_ref(part: int, rows: np.ndarray) -> np.ndarray:
    return (np.int64(part) << np.int64(32)) | rows.astype(np.int64)


# ---------------------------------------------------------------------------------------- keys


def exact_keys(table: pa.Table, part: int, n_buckets: int) -> pa.Table:
    keys = np.array([xxhash.xxh3_64_intdigest(t.encode("utf-8", "surrogatepass")) for t in table.column("text").to_pylist()], dtype=np.uint64)
    refs = _doc_ref(part, np.arange(table.num_rows))
    keys_arr = pa.array(keys.view(np.int64))
    return pa.table({"key": keys_arr, "ref": pa.array(refs), "bucket": pa.array(stable_bucket(keys_arr, n_buckets))})


def shingles(text: str, ngram: int) -> set[bytes]:
    tokens = TOKEN.findall(text.lower())
    if len(tokens) < ngram:
        return {" ".join(tokens).encode()} if tokens else {b""}
    return {" ".join(tokens[i : i + ngram]).encode() for i in range(len(tokens) - ngram + 1)}


def minhash_band_keys(table: pa.Table, part: int, n_buckets: int, num_perm: int, bands: int, ngram: int, seed: int) -> pa.Table:
    from datasketch import MinHash

    rows = num_perm // bands
    texts = table.column("text").to_pylist()
    sets = [shingles(t, ngram) for t in texts]
    hashes = MinHash.bulk(sets, num_perm=num_perm, seed=seed, hashfunc=lambda b: xxhash.xxh32_intdigest(b))
    key_list, ref_list = [], []
    for i, mh in enumerate(hashes):
        hv = mh.hashvalues.astype(np.uint64)
        for b in range(bands):
            band = hv[b * rows : (b + 1) * rows]
            key_list.append(xxhash.xxh3_64_intdigest(band.tobytes(), seed=b))
            ref_list.append((part << 32) | i)
    keys_arr = pa.array(np.array(key_list, dtype=np.uint64).view(np.int64))
    return pa.table({"key": keys_arr, "ref": pa.array(ref_list, type=pa.int64()), "bucket": pa.array(stable_bucket(keys_arr, n_buckets))})


# ------------------------------------------------------------------------------------- collide


def collide_bucket(files: list[str]) -> np.ndarray:
    """Edges (first ref, other ref) between documents sharing a key in this bucket."""
    if not files:
        return np.empty((0, 2), dtype=np.int64)
    t = pa.concat_tables([pq.read_table(f) for f in files])
    keys = t.column("key").to_numpy()
    refs = t.column("ref").to_numpy()
    order = np.lexsort((refs, keys))
    keys, refs = keys[order], refs[order]
    starts = np.r_[True, keys[1:] != keys[:-1]]
    group_first = np.maximum.accumulate(np.where(starts, np.arange(len(keys)), 0))
    first_refs = refs[group_first]
    mask = ~starts & (first_refs != refs)
    return np.unique(np.stack([first_refs[mask], refs[mask]], axis=1), axis=0)


def duplicates_from_edges(edges: np.ndarray) -> dict[int, int]:
    """Union-find over edges; maps every non-kept ref to the kept ref (smallest) of its cluster."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges.tolist():
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in list(parent) if find(x) != x}


# --------------------------------------------------------------------------------------- apply


def apply_part(in_path: str, out_path: str, part: int, dup_rows: dict[int, str], reason: str) -> dict:
    """Write the part without its duplicate rows; the dropped rows name the document they duplicate."""
    table = pq.read_table(in_path)
    mask = [i in dup_rows for i in range(table.num_rows)]
    details = [f"duplicate of {dup_rows[i]}" if mask[i] else "" for i in range(table.num_rows)]
    return write_filtered_part(table, mask, [reason if m else None for m in mask], details, out_path).to_json()


class _DedupStage(GlobalStage):
    reason = "duplicate"

    def key_fn(self, n_buckets: int):  # -> Callable[[pa.Table, int], pa.Table]
        raise NotImplementedError

    def run(self, ctx, inputs: list[str]) -> StageStats:
        n_buckets = max(1, len(inputs))
        shuffle_dir = shuffle(ctx, inputs, n_buckets, self.key_fn(n_buckets), ["text"], "keys")
        edge_sets = ctx.run_tasks(collide_bucket, [(bucket_files(shuffle_dir, b),) for b in range(n_buckets)], desc=f"{self.name}:collide")
        edges = np.concatenate(edge_sets) if edge_sets else np.empty((0, 2), dtype=np.int64)
        dups = duplicates_from_edges(edges)
        # Name the kept document in each dropped row's detail (ids resolved per part below).
        id_of = _ids_for_refs(inputs, set(dups.values()))
        per_part: list[dict[int, str]] = [{} for _ in inputs]
        for ref, keep in dups.items():
            per_part[ref >> 32][ref & 0xFFFFFFFF] = id_of[keep]
        args = [(p, str(ctx.stage_dir / part_name(i)), i, per_part[i], self.reason) for i, p in enumerate(inputs)]
        total = StageStats()
        for s in ctx.run_tasks(apply_part, args, desc=f"{self.name}:apply"):
            total.merge(StageStats.from_json(s))
        return total


def _ids_for_refs(inputs: list[str], refs: set[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    by_part: dict[int, list[int]] = {}
    for r in refs:
        by_part.setdefault(r >> 32, []).append(r)
    for part, rs in by_part.items():
        ids = pq.read_table(inputs[part], columns=["id"]).column("id")
        for r in rs:
            out[r] = ids[r & 0xFFFFFFFF].as_py()
    return out


class ExactDedupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExactDedupStage(_DedupStage):
    """File-level exact dedup on the content hash (xxh3-64 of the UTF-8 text)."""

    name = "dedup_exact"
    reason = "exact_duplicate"

    def __init__(self, config: ExactDedupConfig | None = None) -> None:
        super().__init__(config or ExactDedupConfig())

    def key_fn(self, n_buckets: int):
        return partial(exact_keys, n_buckets=n_buckets)


class NearDedupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    num_perm: int = Field(256, gt=0, description="MinHash permutations")
    bands: int = Field(32, gt=0, description="LSH bands; rows per band = num_perm / bands")
    ngram: int = Field(5, gt=0, description="shingle size in word tokens (\\w+, lower-cased)")
    seed: int = 42

    def model_post_init(self, _ctx) -> None:
        if self.num_perm % self.bands:
            raise ValueError(f"num_perm ({self.num_perm}) must be a multiple of bands ({self.bands})")

    @property
    def threshold(self) -> float:
        """Jaccard similarity at which a pair becomes a candidate with probability ~0.5."""
        return (1 / self.bands) ** (1 / (self.num_perm // self.bands))


class NearDedupStage(_DedupStage):
    """MinHash + LSH near dedup over documents (repo samples and web pages, see README)."""

    name = "dedup_near"
    reason = "near_duplicate"
    config: NearDedupConfig

    def __init__(self, config: NearDedupConfig | None = None) -> None:
        super().__init__(config or NearDedupConfig())

    def key_fn(self, n_buckets: int):
        c = self.config
        return partial(minhash_band_keys, n_buckets=n_buckets, num_perm=c.num_perm, bands=c.bands, ngram=c.ngram, seed=c.seed)


