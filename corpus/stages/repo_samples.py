"""repo_samples: concatenate the files of each repository into repo-level training documents.

DeepSeek-Coder v1 ordered files by dependency; for V2 a DeepSeek maintainer said the order became
random because dependency parsing does not reach 300+ languages (recipe §1.2). We follow V2: files in
a seeded random order (reproducible per repo), each preceded by a comment with its path in the
file's own comment syntax. Large repositories are cut at file boundaries into samples of at most
`max_chars` characters. Web pages (no repository) pass through unchanged.

Local first. Shuffling every document by repository costs P x B object-store reads (each of the B
reduce tasks reads a row group from each of the P map files: at 60 TB, ~940,000 parts of 64 MB and
~1.9M buckets of 32 MB, ~10^12 requests) and writes and reads all text once more. Yet ingest never
splits a unit (a repository tarball, a git clone, an installed distribution) and map stages keep the
part structure, so in the common inputs every repository already sits in one part. Three steps:

1. spans:   one small row per (repository, part), read from the `source` and `repo` columns only, is
            shuffled by repository; for each repository seen in 2+ parts, one row per part it occurs
            in is routed back to that part (part_route), so each part later reads only its own list
            of split repositories. The driver holds O(parts), never O(repositories). Rows are ~24
            bytes, so this shuffle has few buckets: P x (a few) reads, not P x B.
2. local:   one task per input part writes output part i: the samples of the repositories found only
            in part i, then its web pages, in the order a bucket is built (repositories sorted by
            (source, repo), web pages by id). The rows of split repositories, already in memory, go
            to a scratch file, so no part is read in full twice.
3. by_repo: only when some repository spans parts: those scratch files are shuffled by repository
            into buckets of ~`bucket_bytes` and bucket b builds output part n_inputs + b.

A repository's samples depend only on its files (in part, then row order), the seed and `max_chars`,
so they are the same documents wherever they are built; only the part they land in changes. Steps
1 and 3 are recorded with ctx.save_step; every output part has a commit record, and a part committed
by a killed run is reused.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from corpus import storage
from corpus.engine.parts import commit_part, committed, part_uri
from corpus.engine.stage import GlobalStage
from corpus.ops.shuffle import (
    ROUTE,
    Bucket,
    Shuffled,
    bucket_files,
    collect,
    map_file,
    part_route,
    read_bucket,
    shuffle,
    string_route,
    write_map_file,
)
from corpus.records import DOC_SCHEMA, Doc, docs_to_table
from corpus.stats import StageStats
from corpus.storage import PartWriter
from lang_registry import load_registry

SEPARATOR = "\n"
# Files are decoded, and samples written, this many rows / bytes of text at a time: not a whole part
# of Python dicts at once, nor one row group per repository (10^4 small repositories in a part would
# give a 10^4-group footer).
BATCH_DOCS = 2048
BATCH_CHARS = 32 << 20

PathComment = Callable[[str | None, str], str]
# Reorders one repository's files (given in the seeded random order); returns them and its import counts.
Orderer = Callable[[list[dict]], tuple[list[dict], dict]]


class RepoSamplesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_chars: int = Field(1_000_000, gt=0, description="upper bound of one repo sample (files are never split)")
    bucket_bytes: int = Field(32 << 20, gt=0, description="input bytes per output part built from repositories that span "
                                                         "input parts (repositories are never split)")
    registry: str | None = None  # language registry for the path-comment syntax
    order: Literal["random", "dependency"] = Field(
        "random", description="file order within a repository: random (DeepSeek-Coder-V2) or dependency "
                              "(v1: imported files first, from tree-sitter import queries; docs/treesitter.md)")


# ---------------------------------------------------------------------------------- routes, keys


def _route_by_repo(table: pa.Table, part: int) -> pa.Table:
    repos = table.column("repo").to_pylist()
    ids = table.column("id").to_pylist()
    # Web pages spread by id; files of one repository land in the same bucket.
    return table.append_column(ROUTE, pa.array(string_route([r if r is not None else "\0" + i for r, i in zip(repos, ids)])))


def repo_keys(pairs: list[tuple[str, str]]) -> np.ndarray:
    """uint64 identity of (source, repo) pairs: a 64-bit hash, so two repositories may share one. If
    either then spans parts, both are handled as split: their rows go through the shuffle, which groups
    by the real (source, repo), so a collision costs time, never a wrong sample."""
    return string_route([f"{s}\0{r}" for s, r in pairs])


def _span_rows(table: pa.Table, part: int) -> pa.Table:
    """Shuffle map of step spans: one row (key, part) per repository present in the part."""
    pairs = {(s, r) for s, r in zip(table.column("source").to_pylist(), table.column("repo").to_pylist()) if r is not None}
    keys = np.unique(repo_keys(list(pairs)))
    return pa.table({"key": pa.array(keys, pa.uint64()), "part": pa.array(np.full(len(keys), part, np.int64)), ROUTE: pa.array(keys)})


def spanning_task(bucket: Bucket, out_uri: str, n_parts: int) -> dict[str, int]:
    """Keep the (key, part) rows of the repositories seen in 2+ parts, routed to their part (each part
    emitted a key once, so a key's row count is its part count), as one map file of the next shuffle:
    part i then reads only its own rows. Returns the map file's {"rows", "bytes"}."""
    t = read_bucket(bucket, ["key", "part"])
    keys = t.column("key").to_numpy() if t.num_rows else np.empty(0, np.uint64)
    parts = t.column("part").to_numpy().astype(np.int64) if t.num_rows else np.empty(0, np.int64)
    uniq, counts = np.unique(keys, return_counts=True)
    split = np.isin(keys, uniq[counts > 1])
    keys, parts = keys[split], parts[split]
    return write_map_file(pa.table({"key": pa.array(keys, pa.uint64()), "part": pa.array(parts),
                                    ROUTE: pa.array(part_route(parts << 32, n_parts))}), out_uri)


# ---------------------------------------------------------------------------------------- build


def build_samples(rows: list[dict], seed: int, max_chars: int, path_comment, orderer: Orderer | None = None,
                  counts: dict | None = None) -> list[Doc]:
    """Samples of one repository (rows = its files). With `orderer` the seeded random order is
    reordered (dependency order; the random order breaks its ties) and its import counts are added
    to `counts`."""
    rows = sorted(rows, key=lambda r: r["path"])
    repo, source = rows[0]["repo"], rows[0]["source"]
    random.Random(f"{seed}\0{source}\0{repo}").shuffle(rows)
    if orderer is not None:
        rows, repo_counts = orderer(rows)
        if counts is not None:
            merge_import_counts(counts, repo_counts)
    samples: list[list[dict]] = [[]]
    size = 0
    for r in rows:
        n = len(r["text"])
        if samples[-1] and size + n > max_chars:
            samples.append([])
            size = 0
        samples[-1].append(r)
        size += n
    docs = []
    for k, files in enumerate(samples):
        pieces, lang_bytes, spans, pos = [], Counter(), [], 0
        for f in files:
            header = path_comment(f["language"], f["path"]) + "\n"
            pieces.append(header + f["text"])
            # [start, body start, end) of the file in the sample, in characters: shards cuts training
            # chunks at these file boundaries and repeats the path line on a chunk that starts mid-file.
            spans.append([pos, pos + len(header), pos + len(header) + len(f["text"])])
            pos = spans[-1][2] + len(SEPARATOR)
            lang_bytes[f["language"] or ""] += f["size"]
        language = max(lang_bytes.items(), key=lambda kv: (kv[1], kv[0]))[0] or None
        docs.append(
            Doc(
                source=source,
                domain=files[0]["domain"],
                repo=repo,
                path=f"{repo}#{k}" if len(samples) > 1 else repo,
                text=SEPARATOR.join(pieces),
                language=language,
                lang_method="repo_majority",
                license=files[0].get("license"),
                meta={"files": [f["path"] for f in files], "file_ids": [f["id"] for f in files], "language_bytes": dict(lang_bytes),
                      "spans": spans, "languages": [f["language"] or "" for f in files],
                      # The repository's GitHub metadata (stars, forks, created_at...) for near dedup's keep policy.
                      **({"github": g} if (g := json.loads(files[0].get("meta") or "{}").get("github")) else {})},
            )
        )
    return docs


def merge_import_counts(total: dict, add: dict) -> None:
    """Sum per-language import counts ({language: {statements, resolved, edges, imported_first, ...}})."""
    for lang, row in add.items():
        into = total.setdefault(lang, {})
        for k, v in row.items():
            if isinstance(v, int):
                into[k] = into.get(k, 0) + v


def import_shares(counts: dict) -> dict:
    """The counts with resolved_share and imported_first_share per language."""
    out = {}
    for lang, row in sorted(counts.items()):
        s, e = row.get("statements", 0), row.get("edges", 0)
        a, c = row.get("acyclic_edges", 0), row.get("cyclic_edges", 0)
        out[lang] = {**row, "resolved_share": round(row.get("resolved", 0) / s, 4) if s else None,
                     "imported_first_share": round(row.get("imported_first", 0) / e, 4) if e else None,
                     # edges outside / inside import cycles (lang_registry.dep_order.ImportCounts)
                     "acyclic_imported_first_share": round(row.get("acyclic_imported_first", 0) / a, 4) if a else None,
                     "cyclic_imported_first_share": round(row.get("cyclic_imported_first", 0) / c, 4) if c else None}
    return out


def orderer_fn(order: str, registry_path: str | None) -> Orderer | None:
    """None for the random order; for `dependency` a function of one repository's rows (tree-sitter
    parses, import resolution and ordering: lang_registry.dep_order; compiled queries cached per process)."""
    if order == "random":
        return None
    from lang_registry.dep_order import order_repository  # deferred: off `corpus --help`

    registry = load_registry(registry_path)

    def reorder(rows: list[dict]) -> tuple[list[dict], dict]:
        result = order_repository([(r["path"], r["language"], r["text"]) for r in rows], registry)
        counts = {lang: {k: v for k, v in row.items() if isinstance(v, int)} for lang, row in result.counts.to_json().items()}
        return [rows[k] for k in result.order], counts

    return reorder


def path_comment_fn(registry_path: str | None) -> PathComment:
    """The path line of a file: a comment in its language's syntax (from the language registry)."""
    registry = load_registry(registry_path)

    def comment(language: str | None, path: str) -> str:
        return registry.path_comment(language, path) if language else f"# path: {path}"

    return comment


def group_rows(table: pa.Table) -> tuple[dict[tuple[str, str], list[int]], list[int]]:
    """Row indices of each repository, by (source, repo), in row order; and those of the web pages."""
    by_repo: dict[tuple[str, str], list[int]] = {}
    web: list[int] = []
    for i, (s, r) in enumerate(zip(table.column("source").to_pylist(), table.column("repo").to_pylist())):
        (web.append(i) if r is None else by_repo.setdefault((s, r), []).append(i))
    return by_repo, web


def _repo_files(table: pa.Table, by_repo: dict[tuple[str, str], list[int]], keys: list[tuple[str, str]]):
    """The files of each repository of `keys` (in that order) as row dicts; rows are decoded a batch of
    repositories at a time, never the whole table at once."""
    sizes = table.column("size").to_numpy()
    i = 0
    while i < len(keys):
        j, rows, nbytes = i, 0, 0
        while j < len(keys) and (j == i or (rows < BATCH_DOCS and nbytes < BATCH_CHARS)):
            rows += len(by_repo[keys[j]])
            nbytes += int(sizes[by_repo[keys[j]]].sum())
            j += 1
        decoded = table.take(pa.array([r for k in keys[i:j] for r in by_repo[k]], pa.int64())).to_pylist()
        pos = 0
        for k in keys[i:j]:
            yield decoded[pos:pos + len(by_repo[k])]
            pos += len(by_repo[k])
        i = j


def write_samples(w: PartWriter, table: pa.Table, by_repo: dict[tuple[str, str], list[int]], web: list[int], seed: int,
                  max_chars: int, comment: PathComment, orderer: Orderer | None = None,
                  counts: dict | None = None) -> StageStats:
    """Write the samples of the repositories of `by_repo` sorted by (source, repo), then the web pages
    sorted by id; returns the accounting of those rows (files in and kept, samples out). Import counts
    of the dependency order go to `counts`. One repository's rows are ordered at a time."""
    stats = StageStats()
    pending: list[Doc] = []
    chars = 0
    for files in _repo_files(table, by_repo, sorted(by_repo)):
        samples = build_samples(files, seed, max_chars, comment, orderer, counts)
        nbytes = sum(f["size"] for f in files)
        stats.add_in(len(files), nbytes)
        stats.add_kept(len(files), nbytes, out=len(samples))
        pending += samples
        chars += sum(len(d.text) for d in samples)
        if len(pending) >= BATCH_DOCS or chars >= BATCH_CHARS:
            w.write(docs_to_table(pending))
            pending, chars = [], 0
    if pending:
        w.write(docs_to_table(pending))
    if web:
        ids = table.column("id").to_pylist()
        web_table = table.take(pa.array(sorted(web, key=ids.__getitem__), pa.int64()))  # stable: ties keep row order
        w.write(web_table)
        nbytes = int(table.column("size").to_numpy()[web].sum())
        stats.add_in(len(web), nbytes)
        stats.add_kept(len(web), nbytes)
    return stats


def local_part(in_uri: str, spans: Bucket | None, out_uri: str, split_uri: str | None, seed: int, max_chars: int,
               registry_path: str | None, part_key: str, order: str = "random") -> dict:
    """Step local for one input part: write the samples of its own repositories and its web pages as
    one output part; the rows of split repositories (listed in `spans`, this part's rows of step spans)
    go to `split_uri` (None: step by_repo is recorded already, they are not needed). Its accounting
    counts only the rows it builds: split rows are counted by the bucket that builds them.
    Returns {"stats", "split_rows"}."""
    record = committed(out_uri, part_key)
    if record is not None and (split_uri is None or not record.get("split_rows") or storage.exists(split_uri)):
        return {"stats": record["stats"], "split_rows": record.get("split_rows", 0), "imports": record.get("imports", {})}
    table = storage.read_table(in_uri, columns=DOC_SCHEMA.names)
    by_repo, web = group_rows(table)
    split_rows = 0
    if spans is not None:
        split_keys = set(read_bucket(spans, ["key"]).column("key").to_pylist())
        names = list(by_repo)
        split = [name for name, k in zip(names, repo_keys(names).tolist()) if k in split_keys]
        rows = sorted(r for name in split for r in by_repo.pop(name))  # row order: the order a shuffle keeps
        split_rows = len(rows)
        if rows and split_uri is not None:
            storage.write_table(split_uri, table.take(pa.array(rows, pa.int64())))  # before the commit record
    counts: dict = {}
    with PartWriter(out_uri, DOC_SCHEMA) as w:
        stats = write_samples(w, table, by_repo, web, seed, max_chars, path_comment_fn(registry_path),
                              orderer_fn(order, registry_path), counts)
    extra = {"split_rows": split_rows, **({"imports": counts} if counts else {})}
    commit_part(out_uri, part_key, stats, extra)
    return {"stats": stats.to_json(), "split_rows": split_rows, "imports": counts}


def build_bucket(files: Bucket | list[str], out_path: str, seed: int, max_chars: int, registry_path: str | None, part_key: str,
                 order: str = "random") -> dict:
    """Samples of every repository in a shuffle bucket (or in plain Parquet files) as one committed part;
    returns its stats (and under "imports" the dependency order's import counts, if any)."""
    table = read_bucket(files) if files else DOC_SCHEMA.empty_table()
    if not table.num_columns:  # a shuffle of no map files
        table = DOC_SCHEMA.empty_table()
    by_repo, web = group_rows(table)
    counts: dict = {}
    with PartWriter(out_path, DOC_SCHEMA) as w:
        stats = write_samples(w, table, by_repo, web, seed, max_chars, path_comment_fn(registry_path),
                              orderer_fn(order, registry_path), counts)
    commit_part(out_path, part_key, stats, {"imports": counts} if counts else None)
    return {**stats.to_json(), **({"imports": counts} if counts else {})}


def bucket_part(files: Bucket, out_path: str, seed: int, max_chars: int, registry_path: str | None, part_key: str,
                order: str = "random") -> dict:
    """build_bucket, unless a killed run committed this part already."""
    record = committed(out_path, part_key)
    if record is not None:
        return {**record["stats"], **({"imports": record["imports"]} if record.get("imports") else {})}
    return build_bucket(files, out_path, seed, max_chars, registry_path, part_key, order)


# ---------------------------------------------------------------------------------------- stage


class RepoSamplesStage(GlobalStage):
    name = "repo_samples"
    code_modules = ("lang_registry",)  # path comments follow the registry's comment syntax
    version = "4"  # 4: samples carry their repository's `license`; 3: local first (output parts follow input parts)
    config: RepoSamplesConfig

    def __init__(self, config: RepoSamplesConfig | None = None) -> None:
        super().__init__(config or RepoSamplesConfig())

    def content_files(self) -> list[str]:
        return [self.config.registry] if self.config.registry else []

    def run(self, ctx, inputs: list[str]) -> StageStats:
        """The three steps of the module docstring."""
        n = len(inputs)
        if not n:
            return StageStats()
        c = self.config
        spans = self._spans(ctx, inputs)
        saved = ctx.load_step("by_repo")
        split_dir = ctx.scratch("split")
        split_uris = [storage.join(split_dir, f"split-{i:05d}.parquet") for i in range(n)]
        need_split = spans is not None and saved is None
        args = [(p, spans.part(i, n) if spans else None, part_uri(ctx.stage_uri, i), split_uris[i] if need_split else None,
                 ctx.seed, c.max_chars, c.registry, f"{ctx.stage_key}:{i}", c.order) for i, p in enumerate(inputs)]
        total = StageStats()
        split_parts = []
        imports: dict = {}  # per language: O(languages) on the driver
        for i, r in enumerate(ctx.map(local_part, args, desc=f"{self.name}:local", costs=ctx.part_sizes(inputs))):
            total.merge(StageStats.from_json(r["stats"]))
            merge_import_counts(imports, r.get("imports") or {})
            if r["split_rows"]:
                split_parts.append(i)
        if not split_parts:  # every repository sits in one part: nothing to shuffle
            self._write_imports(ctx, imports)
            return total
        if saved is None:
            # Map i = the i-th part with split rows, in part order: a repository's files meet in part, then row order.
            shuffled = shuffle(ctx, [split_uris[i] for i in split_parts], _route_by_repo, None, "by_repo", target_bytes=c.bucket_bytes)
            ctx.save_step("by_repo", shuffled.to_json())
        else:
            shuffled = Shuffled.from_json(saved)
        storage.remove(split_dir, recursive=True)  # its rows are in the by_repo map files now
        args = [(bucket_files(shuffled, b), part_uri(ctx.stage_uri, n + b), ctx.seed, c.max_chars, c.registry, f"{ctx.stage_key}:{n + b}",
                 c.order) for b in range(shuffled.n_buckets)]
        for s in ctx.map(bucket_part, args, desc=f"{self.name}:build"):
            merge_import_counts(imports, s.pop("imports", None) or {})
            total.merge(StageStats.from_json(s))
        self._write_imports(ctx, imports)
        return total

    def _write_imports(self, ctx, imports: dict) -> None:
        """OUT/repo_samples/imports.json: per language, import statements, resolved, edges and the share
        of edges whose imported file comes first (order: dependency only)."""
        if self.config.order == "dependency":
            storage.write_text(storage.join(ctx.stage_uri, "imports.json"),
                               json.dumps({"order": "dependency", "languages": import_shares(imports)}, indent=1) + "\n")

    def _spans(self, ctx, inputs: list[str]) -> Shuffled | None:
        """Step spans: this shuffle's part(i, n) holds the keys of the repositories of part i that also
        occur in another part; None when no repository spans parts."""
        n = len(inputs)

        def compute() -> dict:
            keys = shuffle(ctx, inputs, _span_rows, ["source", "repo"], "span_keys")
            folder = ctx.scratch("spans")
            stats = ctx.map(spanning_task, [(keys.bucket(b), map_file(folder, b), n) for b in range(keys.n_buckets)], desc=f"{self.name}:spans")
            spans = collect(folder, stats)  # the reducers' files are the map files of a part-routed shuffle
            return {"spans": spans.to_json() if spans.rows else None, "rows": spans.rows}

        data = ctx.load_step("spans")
        if data is None:
            data = compute()
            ctx.save_step("spans", data)
        storage.remove(ctx.scratch("span_keys"), recursive=True)
        return Shuffled.from_json(data["spans"]) if data["spans"] else None
