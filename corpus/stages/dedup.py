"""Exact and MinHash near deduplication as distributed steps; the driver holds O(parts + rounds).

1. keys:    every document emits 64-bit keys (exact: its content hash; near: one per LSH band), shuffled
            by key (corpus.ops.shuffle: one file per part, buckets from the key bytes).
2. edges:   per key bucket, documents sharing a key become edges (first ref -> each other ref).
3. cc-NNN:  connected components by large-star / small-star rounds (corpus.ops.components); each
            duplicate ends linked to its component's smallest ref = first in (part, row) order.
4. roots:   (duplicate ref, component root) shuffled by the root's part.
   With the keep policy `stars` (the default) or `prefer_filter_pass`, three more steps choose each
   component's survivor:
   4a. members: every member of a component (duplicates and root) shuffled by its own part;
   4b. ranks:   per part, each member's rank: first whether the filter stage would keep it (its own
                `judge`, on that member's row: a copy it keeps, not vendored or generated, before a kept
                vendored/generated copy, before a copy it drops), then from that part's `meta["github"]`
                (stars, forks, created_at); shuffled by the component root;
   4c. choose:  per component, the survivor is the member the filter keeps, then with the most stars,
                then the most forks, then the earliest creation, then the smallest (part, row) ref;
                documents without metadata rank after every document with it. (member, survivor) pairs
                shuffled by the
                survivor's part, the same rows the roots step gives under the policy `first`.
   Only duplicates travel through these steps, never the whole corpus.
5. ids:     per range of parts, the kept refs become ids (read from those parts' `id` column), shuffled
            by the duplicate's part.
6. apply:   every part drops its duplicate rows, each naming the document it duplicates.
Each step is recorded with ctx.save_step once its files are written: a killed driver resumes at the
step it was killed in. The kept document is the same whatever the number of workers or buckets.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import xxhash
from pydantic import BaseModel, ConfigDict, Field

from corpus import storage
from corpus.engine.parts import part_uri, pass_through_part, write_filtered_part
from corpus.engine.stage import GlobalStage
from corpus.ops.components import both_directions, connected_components, roots
from corpus.ops.shuffle import (
    COMBINE_MIN_MAPS,
    ROUTE,
    Bucket,
    Shuffled,
    by_part,
    collect,
    combine,
    hash_route,
    map_file,
    part_route,
    read_bucket,
    shuffle,
    write_map_file,
)
from corpus.stages.filter import FilterConfig, FilterStage
from corpus.stats import StageStats


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


def minhash_band_keys(table: pa.Table, part: int, num_perm: int, bands: int, ngram: int, seed: int) -> pa.Table:
    """One 64-bit key per (document, LSH band): the xxh3 of the band's rows of the MinHash signature."""
    from corpus.ops.minhash import MinHasher, batch_token_hashes, shingles_of  # deferred: off `corpus --help`

    rows = num_perm // bands
    hasher = MinHasher(num_perm, seed)
    key_list = []
    for th in batch_token_hashes(table.column("text")):
        sig = hasher.signature(shingles_of(th, ngram, distinct=False)).reshape(bands, rows)
        key_list.extend(xxhash.xxh3_64_intdigest(sig[b].tobytes(), seed=b) for b in range(bands))
    refs = np.repeat(_doc_ref(part, np.arange(table.num_rows)), bands)
    return _keyed(np.array(key_list, dtype=np.uint64), refs)


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


# ------------------------------------------------------------------------------ keep policy

# A document without repository metadata: after every document with it (then by ref).
NO_RANK = (1, 0, 0, 0)


def _epoch(created: Any) -> int:
    if not created:
        return 2**62
    try:
        return int(datetime.strptime(str(created), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())
    except ValueError:
        try:
            return int(datetime.fromisoformat(str(created).replace("Z", "+00:00")).timestamp())
        except ValueError:
            return 2**62


def rank_of(meta: str | None) -> tuple[int, int, int, int]:
    """Sort key of a document under the policy (smaller = kept first): (no metadata, -stars, -forks,
    created epoch seconds). Reads meta["github"] as ingest writes it (docs/github.md)."""
    try:
        repo = json.loads(meta or "{}").get("github")
    except (ValueError, AttributeError):
        repo = None
    if not isinstance(repo, dict):
        return NO_RANK
    return (0, -int(repo.get("stars") or 0), -int(repo.get("forks") or 0), _epoch(repo.get("created_at")))


def members_task(bucket: Bucket, out_uri: str, n_parts: int) -> dict[str, int]:
    """(duplicate, root) rows -> every member of each component, root included, routed by its own part."""
    t = read_bucket(bucket, ["ref", "root"])
    ref = t.column("ref").to_numpy().astype(np.int64) if t.num_rows else np.empty(0, np.int64)
    root = t.column("root").to_numpy().astype(np.int64) if t.num_rows else np.empty(0, np.int64)
    roots_ = np.unique(root)
    member, comp = np.concatenate([ref, roots_]), np.concatenate([root, roots_])
    return write_map_file(pa.table({"ref": member, "root": comp, ROUTE: part_route(member, n_parts)}), out_uri)


# Columns the filter's `judge` reads: the survivor rank asks the filter stage itself, never a second filter.
FILTER_COLUMNS = ["repo", "path", "domain", "text", "language", "vendored", "generated", "meta"]
FILTER_KEEPS, FILTER_KEEPS_FLAGGED, FILTER_DROPS = 0, 1, 2


def filter_rank(judge: Callable[[dict], Any], row: dict) -> int:
    """0: the filter keeps the copy and it is neither vendored nor generated; 1: kept but flagged (a
    filter configured to keep vendored/generated files); 2: the filter drops it."""
    if judge(row) is not None:
        return FILTER_DROPS
    return FILTER_KEEPS_FLAGGED if row.get("vendored") or row.get("generated") else FILTER_KEEPS


def ranks_task(part_bucket: Bucket, in_uri: str, out_uri: str, survivor_filter: Any = None,
               by_stars: bool = True) -> dict[str, int]:
    """The rank of every member living in one part (its columns read once, only members judged), routed
    by component. `survivor_filter`: a FilterConfig whose stage ranks the copies it keeps first."""
    t = read_bucket(part_bucket, ["ref", "root"])
    ref = t.column("ref").to_numpy().astype(np.int64) if t.num_rows else np.empty(0, np.int64)
    root = t.column("root").to_numpy().astype(np.int64) if t.num_rows else np.empty(0, np.int64)
    ranks = np.zeros((len(ref), 5), dtype=np.int64)
    if len(ref):
        columns = FILTER_COLUMNS if survivor_filter is not None else ["meta"]
        rows = storage.read_table(in_uri, columns=columns).take(pa.array(ref & 0xFFFFFFFF)).to_pylist()
        judge = _filter_judge(survivor_filter) if survivor_filter is not None else None
        for i, row in enumerate(rows):
            ranks[i, 0] = filter_rank(judge, row) if judge is not None else 0
            ranks[i, 1:] = rank_of(row["meta"]) if by_stars else (0, 0, 0, 0)
    table = pa.table({"ref": ref, "root": root, **{c: ranks[:, i] for i, c in enumerate(RANK_COLUMNS)},
                      ROUTE: hash_route(root)})
    return write_map_file(table, out_uri)


_JUDGES: dict[str, Callable[[dict], Any]] = {}


def _filter_judge(config: Any) -> Callable[[dict], Any]:
    """The filter stage's `judge` for this config, set up once per worker process (rule tables, datatrove)."""
    key = config.model_dump_json()
    if key not in _JUDGES:
        stage = FilterStage(config)
        stage.setup()
        _JUDGES[key] = stage.judge
    return _JUDGES[key]


def choose_survivors(ref: np.ndarray, root: np.ndarray, ranks: np.ndarray, n_parts: int) -> pa.Table:
    """Per component (rows sharing a root): the best (rank, ref) member survives; every other member
    becomes a (ref, survivor) row routed by the survivor's part."""
    if not len(ref):
        return pa.table({"ref": ref, "root": root, ROUTE: part_route(root, n_parts)})
    # lexsort: last key is primary -> by component, then rank columns in order, then ref.
    order = np.lexsort((ref, *(ranks[:, c] for c in reversed(range(ranks.shape[1]))), root))
    ref, root = ref[order], root[order]
    starts = np.r_[True, root[1:] != root[:-1]]
    best = ref[np.maximum.accumulate(np.where(starts, np.arange(len(ref)), 0))]
    dup = ref != best
    return pa.table({"ref": ref[dup], "root": best[dup], ROUTE: part_route(best[dup], n_parts)})


RANK_COLUMNS = ("r_filter", "r_missing", "r_stars", "r_forks", "r_created")


def choose_task(bucket: Bucket, out_uri: str, n_parts: int) -> dict[str, int]:
    t = read_bucket(bucket, ["ref", "root", *RANK_COLUMNS])
    cols = [t.column(c).to_numpy().astype(np.int64) if t.num_rows else np.empty(0, np.int64)
            for c in ("ref", "root", *RANK_COLUMNS)]
    ranks = np.stack(cols[2:], axis=1) if t.num_rows else np.empty((0, len(RANK_COLUMNS)), np.int64)
    return write_map_file(choose_survivors(cols[0], cols[1], ranks, n_parts), out_uri)


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
    found = read_bucket(dups, ["ref", "dup_of"])
    if not found.num_rows:  # nothing to drop here: the part is copied, not decoded and re-encoded
        return pass_through_part(in_uri, out_uri).to_json()
    table = storage.read_table(in_uri)
    rows = (found.column("ref").to_numpy().astype(np.int64) & 0xFFFFFFFF).tolist()
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


def _reduce(ctx: Any, fn: Callable[..., dict], source: Shuffled, name: str, *extra: Any, min_buckets: int = 1) -> dict:
    """One task per bucket of `source`; each writes one map file of the next shuffle (at least
    min_buckets buckets). More than COMBINE_MIN_MAPS files are read through combined files."""
    folder = ctx.scratch(name)
    stats = ctx.map(fn, [(source.bucket(b), map_file(folder, b), *extra) for b in range(source.n_buckets)], desc=f"{ctx.stage_name}:{name}")
    shuffled = collect(folder, stats, min_buckets=min_buckets)
    return (combine(ctx, shuffled, stats, name) if len(stats) > COMBINE_MIN_MAPS else shuffled).to_json()


# Parts one ids task reads the `id` column of: the bucket count of the (duplicate, survivor) rows is
# raised so that a bucket spans at most this many parts (routes by part: a bucket is a range of parts).
IDS_PARTS_PER_TASK = 128


def _back_by_part(ctx: Any, reduced: dict, n_parts: int, name: str) -> dict:
    """Reducer output routed by part, regrouped so each per-part task reads one file (not one slice of
    every bucket file: P x B requests); the bucket files go once regrouped."""
    source = Shuffled.from_json(reduced)
    grouped = by_part(ctx, source, n_parts, f"{name}-by-part")
    if grouped is not source:
        storage.remove(source.folder, recursive=True)
    return grouped.to_json()


class _DedupStage(GlobalStage):
    reason = "duplicate"
    code_modules = ("corpus.ops", "corpus.filters", "corpus.stages.filter")  # survivors ranked by the filter's own judge
    # 2: survivors are chosen among the copies the filter stage keeps first (`prefer_filter_pass`).
    version = "2"
    survivor_filter: Any = None  # a FilterConfig (exact dedup, which runs before the filter), or None

    def config_json(self) -> dict[str, Any]:
        out = super().config_json()
        if self.survivor_filter is not None:  # the filter's settings choose survivors: they are in the key
            out["survivor_filter"] = self.survivor_filter.model_dump(mode="json")
        return out

    def content_files(self) -> list[str]:
        rules = self.survivor_filter.code_rules if self.survivor_filter is not None else None
        return [rules] if rules else []

    def key_fn(self) -> Callable[[pa.Table, int], pa.Table]:
        raise NotImplementedError

    def run(self, ctx: Any, inputs: list[str]) -> StageStats:
        n = len(inputs)
        keys = Shuffled.from_json(_step(ctx, "keys", lambda: shuffle(ctx, inputs, self.key_fn(), ["text"], "keys").to_json()))
        edges = Shuffled.from_json(_step(ctx, "edges", lambda: _reduce(ctx, edges_task, keys, "edges")))
        storage.remove(keys.folder, recursive=True)
        final = connected_components(ctx, edges, "cc")
        # The rows the ids step reads (roots, or the survivors the keep policy chose): buckets of at most
        # IDS_PARTS_PER_TASK parts, so no ids task reads the id column of every part.
        per_ids_task = -(-n // IDS_PARTS_PER_TASK)
        # Survivors are chosen in a step of their own when they depend on more than (part, row) order.
        choose = self.config.keep == "stars" or self.survivor_filter is not None
        found = Shuffled.from_json(_step(ctx, "roots", lambda: _reduce(ctx, roots_task, final, "roots", n, min_buckets=1 if choose else per_ids_task)))
        storage.remove(final.folder, recursive=True)  # each step's input goes once the step is recorded
        if choose:
            found = self._choose(ctx, inputs, found, per_ids_task)
        shared_inputs = ctx.share(inputs)
        named = Shuffled.from_json(_step(ctx, "ids", lambda: _back_by_part(ctx, _reduce(ctx, ids_task, found, "ids", shared_inputs), n, "ids")))
        storage.remove(found.folder, recursive=True)

        def apply() -> dict:
            args = [(p, part_uri(ctx.stage_uri, i), i, named.part(i, n), self.reason) for i, p in enumerate(inputs)]
            total = StageStats()  # each part's accounting folded in as it finishes, not held
            ctx.map(apply_task, args, desc=f"{self.name}:apply", costs=ctx.part_sizes(inputs), count=lambda s: s["in"],
                    sink=lambda _i, s: total.merge(StageStats.from_json(s)))
            return total.to_json()

        return StageStats.from_json(_step(ctx, "apply", apply))

    def _choose(self, ctx: Any, inputs: list[str], found: Shuffled, min_buckets: int) -> Shuffled:
        """Steps 4a-4c of the module docstring: the survivor of each component by the keep policy."""
        n = len(inputs)
        members = Shuffled.from_json(_step(ctx, "members", lambda: _back_by_part(ctx, _reduce(ctx, members_task, found, "members", n), n, "members")))
        storage.remove(found.folder, recursive=True)

        def ranks() -> dict:
            folder = ctx.scratch("ranks")
            policy = (self.survivor_filter, self.config.keep == "stars")
            args = [(members.part(i, n), p, map_file(folder, i), *policy) for i, p in enumerate(inputs)]
            stats = ctx.map(ranks_task, args, desc=f"{self.name}:ranks")
            ranked = collect(folder, stats)  # one map file per part: choose reads them combined past COMBINE_MIN_MAPS
            return (combine(ctx, ranked, stats, "ranks") if len(stats) > COMBINE_MIN_MAPS else ranked).to_json()

        ranked = Shuffled.from_json(_step(ctx, "ranks", ranks))
        storage.remove(members.folder, recursive=True)
        chosen = Shuffled.from_json(_step(ctx, "choose", lambda: _reduce(ctx, choose_task, ranked, "choose", n, min_buckets=min_buckets)))
        storage.remove(ranked.folder, recursive=True)
        return chosen

KEEP_DESCRIPTION = ("which copy of a duplicate cluster survives: stars = most stars, then most forks, then earliest "
                    "creation (repository metadata in meta.github), then (part, row) order; first = (part, row) order only")


class ExactDedupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep: Literal["stars", "first"] = Field("stars", description=KEEP_DESCRIPTION)
    prefer_filter_pass: bool = Field(True, description=(
        "choose each cluster's survivor among the copies the filter stage keeps (not vendored or generated) "
        "before applying `keep`: exact dedup runs before the filter, which would otherwise drop a vendored "
        "survivor and lose the content of the whole cluster"))


class ExactDedupStage(_DedupStage):
    """File-level exact dedup on the content hash (xxh3-64 of the UTF-8 text)."""

    name = "dedup_exact"
    reason = "exact_duplicate"
    config: ExactDedupConfig

    def __init__(self, config: ExactDedupConfig | None = None, filter_config: Any = None) -> None:
        """`filter_config`: the pipeline's FilterConfig, whose decisions rank the survivors (the
        default FilterConfig when none is given)."""
        super().__init__(config or ExactDedupConfig())
        if self.config.prefer_filter_pass:
            self.survivor_filter = filter_config if filter_config is not None else FilterConfig()

    def key_fn(self) -> Callable[[pa.Table, int], pa.Table]:
        return exact_keys


class NearDedupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep: Literal["stars", "first"] = Field("stars", description=KEEP_DESCRIPTION)
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


