"""Exact and MinHash near deduplication as distributed steps; the driver holds O(parts + rounds).

1. keys:    every document emits 64-bit keys (exact: its content hash; near: one per LSH band), shuffled
            by key (corpus.shuffle: one file per part, buckets from the key bytes).
2. edges:   per key bucket, documents sharing a key become edges (first ref -> each other ref).
3. cc-NNN:  connected components by large-star / small-star rounds (corpus.components); each
            duplicate ends linked to its component's smallest ref = first in (part, row) order.
4. roots:   (duplicate ref, kept ref) shuffled by the kept document's part.
5. ids:     per range of parts, the kept refs become ids (read from those parts' `id` column), shuffled
            by the duplicate's part.
6. apply:   every part drops its duplicate rows, each naming the document it duplicates.
Each step is recorded with ctx.save_step once its files are written: a killed driver resumes at the
step it was killed in. The kept document is the same whatever the number of workers or buckets.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import xxhash
from pydantic import BaseModel, ConfigDict, Field

from corpus import storage
from corpus.components import both_directions, connected_components, roots
from corpus.parts import part_uri, write_filtered_part
from corpus.shuffle import ROUTE, Bucket, Shuffled, collect, map_file, part_route, read_bucket, shuffle, write_map_file
from corpus.stage import GlobalStage
from corpus.stats import StageStats

TOKEN = re.compile(r"\w+", re.UNICODE)


def _doc_ref(part: int, rows: np.ndarray) -> np.ndarray:
    return (np.int64(part) << np.int64(32)) | rows.astype(np.int64)


def _keyed(keys: np.ndarray, refs: np.ndarray) -> pa.Table:
    keys = keys.astype(np.uint64)
    # Keys are hashes: their own bits are a uniform route.
    return pa.table({"key": pa.array(keys.view(np.int64)), "ref": pa.array(refs.astype(np.int64)), ROUTE: pa.array(keys)})


# ---------------------------------------------------------------------------------------- keys


def exact_keys(table: pa.Table, part: int) -> pa.Table:
    keys = np.array([xxhash.xxh3_64_intdigest(t.encode("utf-8", "surrogatepass")) for t in table.column("text").to_pylist()], dtype=np.uint64)
    return _keyed(keys, _doc_ref(part, np.arange(table.num_rows)))


def shingles(text: str, ngram: int) -> set[bytes]:
    tokens = TOKEN.findall(text.lower())
    if len(tokens) < ngram:
        return {" ".join(tokens).encode()} if tokens else {b""}
    return {" ".join(tokens[i : i + ngram]).encode() for i in range(len(tokens) - ngram + 1)}


def minhash_band_keys(table: pa.Table, part: int, num_perm: int, bands: int, ngram: int, seed: int) -> pa.Table:
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
    return _keyed(np.array(key_list, dtype=np.uint64), np.array(ref_list, dtype=np.int64))


# ------------------------------------------------------------------------------------- collide


def collide_bucket(source: Bucket | list[str]) -> np.ndarray:
    """Edges (first ref, other ref) between documents sharing a key in this bucket."""
    t = read_bucket(source, ["key", "ref"])
    if not t.num_rows:
        return np.empty((0, 2), dtype=np.int64)
    keys = t.column("key").to_numpy()
    refs = t.column("ref").to_numpy()
    order = np.lexsort((refs, keys))
    keys, refs = keys[order], refs[order]
    starts = np.r_[True, keys[1:] != keys[:-1]]
    group_first = np.maximum.accumulate(np.where(starts, np.arange(len(keys)), 0))
    first_refs = refs[group_first]
    mask = ~starts & (first_refs != refs)
    return np.unique(np.stack([first_refs[mask], refs[mask]], axis=1), axis=0)


def edges_task(bucket: Bucket, out_uri: str) -> dict[str, int]:
    edges = collide_bucket(bucket)
    return write_map_file(both_directions(edges[:, 0], edges[:, 1]), out_uri)


# --------------------------------------------------------------------------------------- apply


def roots_task(bucket: Bucket, out_uri: str, n_parts: int) -> dict[str, int]:
    """Final component edges -> (duplicate ref, kept ref), routed to the kept document's part."""
    ref, root = roots(read_bucket(bucket, ["node", "nbr"]))
    return write_map_file(pa.table({"ref": ref, "root": root, ROUTE: part_route(root, n_parts)}), out_uri)


def ids_task(bucket: Bucket, out_uri: str, inputs: list[str]) -> dict[str, int]:
    """Name each kept document by its id (read from its own part: a bucket covers a range of parts),
    routed to the duplicate's part."""
    t = read_bucket(bucket, ["ref", "root"])
    ref = t.column("ref").to_numpy().astype(np.int64) if t.num_rows else np.empty(0, np.int64)
    root = t.column("root").to_numpy().astype(np.int64) if t.num_rows else np.empty(0, np.int64)
    dup_of = np.empty(len(ref), dtype=object)
    root_part = root >> 32
    for p in np.unique(root_part).tolist():
        sel = root_part == p
        ids = storage.read_table(inputs[p], columns=["id"]).column("id").to_numpy(zero_copy_only=False)
        dup_of[sel] = ids[root[sel] & 0xFFFFFFFF]
    table = pa.table({"ref": ref, "dup_of": pa.array(dup_of.tolist(), type=pa.string()), ROUTE: part_route(ref, len(inputs))})
    return write_map_file(table, out_uri)


def apply_task(in_uri: str, out_uri: str, part: int, dups: Bucket, reason: str) -> dict:
    """Write the part without its duplicate rows; the dropped rows name the document they duplicate."""
    table = storage.read_table(in_uri)
    found = read_bucket(dups, ["ref", "dup_of"])
    rows = (found.column("ref").to_numpy().astype(np.int64) & 0xFFFFFFFF).tolist() if found.num_rows else []
    dup_rows = dict(zip(rows, found.column("dup_of").to_pylist() if found.num_rows else []))
    mask = [i in dup_rows for i in range(table.num_rows)]
    details = [f"duplicate of {dup_rows[i]}" if m else "" for i, m in enumerate(mask)]
    return write_filtered_part(table, mask, [reason if m else None for m in mask], details, out_uri).to_json()


# --------------------------------------------------------------------------------------- stage


def _step(ctx: Any, name: str, compute: Callable[[], Any]) -> Any:
    """The recorded result of step `name`, or compute and record it (resume at the killed step)."""
    data = ctx.load_step(name)
    if data is None:
        data = compute()
        ctx.save_step(name, data)
    return data


def _reduce(ctx: Any, fn: Callable[..., dict], source: Shuffled, name: str, *extra: Any) -> dict:
    """One task per bucket of `source`; each writes one map file of the next shuffle."""
    folder = ctx.scratch(name)
    stats = ctx.map(fn, [(source.bucket(b), map_file(folder, b), *extra) for b in range(source.n_buckets)], desc=f"{ctx.stage_name}:{name}")
    return collect(folder, stats).to_json()


class _DedupStage(GlobalStage):
    reason = "duplicate"

    def key_fn(self) -> Callable[[pa.Table, int], pa.Table]:
        raise NotImplementedError

    def run(self, ctx: Any, inputs: list[str]) -> StageStats:
        n = len(inputs)
        keys = Shuffled.from_json(_step(ctx, "keys", lambda: shuffle(ctx, inputs, self.key_fn(), ["text"], "keys").to_json()))
        edges = Shuffled.from_json(_step(ctx, "edges", lambda: _reduce(ctx, edges_task, keys, "edges")))
        storage.remove(keys.folder, recursive=True)
        final = connected_components(ctx, edges, "cc")
        found = Shuffled.from_json(_step(ctx, "roots", lambda: _reduce(ctx, roots_task, final, "roots", n)))
        storage.remove(final.folder, recursive=True)  # each step's input goes once the step is recorded
        shared_inputs = ctx.share(inputs)
        named = Shuffled.from_json(_step(ctx, "ids", lambda: _reduce(ctx, ids_task, found, "ids", shared_inputs)))
        storage.remove(found.folder, recursive=True)

        def apply() -> dict:
            args = [(p, part_uri(ctx.stage_uri, i), i, named.part(i, n), self.reason) for i, p in enumerate(inputs)]
            total = StageStats()
            for s in ctx.map(apply_task, args, desc=f"{self.name}:apply"):
                total.merge(StageStats.from_json(s))
            return total.to_json()

        return StageStats.from_json(_step(ctx, "apply", apply))

class ExactDedupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExactDedupStage(_DedupStage):
    """File-level exact dedup on the content hash (xxh3-64 of the UTF-8 text)."""

    name = "dedup_exact"
    reason = "exact_duplicate"

    def __init__(self, config: ExactDedupConfig | None = None) -> None:
        super().__init__(config or ExactDedupConfig())

    def key_fn(self) -> Callable[[pa.Table, int], pa.Table]:
        return exact_keys


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

    def key_fn(self) -> Callable[[pa.Table, int], pa.Table]:
        c = self.config
        return partial(minhash_band_keys, num_perm=c.num_perm, bands=c.bands, ngram=c.ngram, seed=c.seed)


