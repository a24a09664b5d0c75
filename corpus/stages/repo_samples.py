"""repo_samples: concatenate the files of each repository into repo-level training documents.

DeepSeek-Coder v1 ordered files by dependency; for V2 a DeepSeek maintainer said the order became
random because dependency parsing does not reach 300+ languages (recipe §1.2). We follow V2: files in
a seeded random order (reproducible per repo), each preceded by a comment with its path in the
file's own comment syntax. Large repositories are cut at file boundaries into samples of at most
`max_chars` characters. Web pages (no repository) pass through unchanged.
"""

from __future__ import annotations


import json
import random
from collections import Counter

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from corpus.parts import commit_part, committed, part_uri
from corpus.records import DOC_SCHEMA, Doc, docs_to_table, table_bytes
from corpus.shuffle import ROUTE, Bucket, Shuffled, bucket_files, read_bucket, shuffle, string_route
from corpus.storage import PartWriter
from corpus.stage import GlobalStage
from corpus.stats import StageStats

SEPARATOR = "\n"


class RepoSamplesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_chars: int = Field(1_000_000, gt=0, description="upper bound of one repo sample (files are never split)")
    bucket_bytes: int = Field(32 << 20, gt=0, description="input bytes per output part (repositories are never split)")
    registry: str | None = None  # language registry for the path-comment syntax


def _route_by_repo(table: pa.Table, part: int) -> pa.Table:
    repos = table.column("repo").to_pylist()
    ids = table.column("id").to_pylist()
    # Web pages spread by id; files of one repository land in the same bucket.
    return table.append_column(ROUTE, pa.array(string_route([r if r is not None else "\0" + i for r, i in zip(repos, ids)])))


def build_samples(rows: list[dict], seed: int, max_chars: int, path_comment) -> list[Doc]:
    """Samples of one repository (rows = its files)."""
    rows = sorted(rows, key=lambda r: r["path"])
    repo, source = rows[0]["repo"], rows[0]["source"]
    random.Random(f"{seed}\0{source}\0{repo}").shuffle(rows)
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
                meta={"files": [f["path"] for f in files], "file_ids": [f["id"] for f in files], "language_bytes": dict(lang_bytes),
                      "spans": spans, "languages": [f["language"] or "" for f in files],
                      # The repository's GitHub metadata (stars, forks, created_at...) for near dedup's keep policy.
                      **({"github": g} if (g := json.loads(files[0].get("meta") or "{}").get("github")) else {})},
            )
        )
    return docs


def build_bucket(files: Bucket, out_path: str, seed: int, max_chars: int, registry_path: str | None, part_key: str) -> dict:
    from lang_registry import load_registry

    registry = load_registry(registry_path)

    def comment(language: str | None, path: str) -> str:
        return registry.path_comment(language, path) if language else f"# path: {path}"

    stats = StageStats()
    table = read_bucket(files) if files else DOC_SCHEMA.empty_table()
    rows = table.to_pylist()
    stats.add_in(len(rows), table_bytes(table) if rows else 0)
    by_repo: dict[tuple, list[dict]] = {}
    web: list[dict] = []
    for r in rows:
        (web.append(r) if r["repo"] is None else by_repo.setdefault((r["source"], r["repo"]), []).append(r))
    with PartWriter(out_path, DOC_SCHEMA) as w:
        for key in sorted(by_repo):
            samples = build_samples(by_repo[key], seed, max_chars, comment)
            w.write(docs_to_table(samples))
            files_in = by_repo[key]
            stats.add_kept(len(files_in), sum(f["size"] for f in files_in), out=len(samples))
        if web:
            web_table = pa.Table.from_pylist(sorted(web, key=lambda r: r["id"]), schema=DOC_SCHEMA)
            w.write(web_table)
            stats.add_kept(web_table.num_rows, table_bytes(web_table))
    commit_part(out_path, part_key, stats)
    return stats.to_json()


class RepoSamplesStage(GlobalStage):
    name = "repo_samples"
    config: RepoSamplesConfig

    def __init__(self, config: RepoSamplesConfig | None = None) -> None:
        super().__init__(config or RepoSamplesConfig())

    def content_files(self) -> list[str]:
        return [self.config.registry] if self.config.registry else []

    def run(self, ctx, inputs: list[str]) -> StageStats:
        """Two steps, each resumable: route files by repository (shuffle), then build one output part
        per bucket (a part committed by a killed run is kept)."""
        saved = ctx.load_step("by_repo")
        if saved is None:
            # Output parts = buckets of ~bucket_bytes of files (from the data size, not the input part count).
            shuffled = shuffle(ctx, inputs, _route_by_repo, None, "by_repo", target_bytes=self.config.bucket_bytes)
            ctx.save_step("by_repo", shuffled.to_json())
        else:
            shuffled = Shuffled.from_json(saved)
        total = StageStats()
        args = []
        for b in range(shuffled.n_buckets):
            out = part_uri(ctx.stage_uri, b)
            key = f"{ctx.stage_key}:{b}"
            record = committed(out, key)
            if record is not None:
                total.merge(StageStats.from_json(record["stats"]))
            else:
                args.append((bucket_files(shuffled, b), out, ctx.seed, self.config.max_chars, self.config.registry, key))
        for s in ctx.map(build_bucket, args, desc=f"{self.name}:build"):
            total.merge(StageStats.from_json(s))
        return total



