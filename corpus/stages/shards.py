"""shards: tokenizer (trained or given) -> chunks that fit the context -> mixture -> packed Parquet shards.

The driver holds merged counts and file names; every document is touched only inside tasks, and no task
reads more than ~`fan_in` files whatever the part count. Four steps, each saved with ctx.save_step so a
killed driver resumes at the step it was in, with identical output:

1. tokenizer: tasks draw a document-hash sample of each part (the same sample whatever the partitioning)
   into scratch; a fan-in tree of merge tasks brings it to <= fan_in files; one task trains the BPE on
   it (HF tokenizers' trainer is a single-process library call), checks the tiktoken fast encoder on the
   first 5 MB of the sample, and writes tokenizer.json and tokenizer_config.json to OUT/shards/.
2. encode:    one task per slice of a part by bytes (a part k times the mean is k tasks) encodes each
              document once and cuts it into chunks of at most `chunk_tokens` tokens (file boundaries,
              else line boundaries; tokenizer/chunks.py) -> scratch; summaries merged by a fan-in tree.
3. mix:       the driver plans the mixture from the merged token counts; one task per part expands each
              document into its copies, gives every copy an order key hash(seed, chunk, copy) and writes
              one map file routed by pack bucket (a fixed slice of the key space, so ranges never depend
              on the partitioning).
4. pack:      gather levels (shards_gather.RangeGather) while more than fan_in map files; one task per
              range reads its bucket from <= fan_in files, sorts, draws FIM per copy, packs (a FIM example
              is never cut across rows) and writes its own shard files.
A task then merges the per-range summaries (a fan-in tree) into manifest.json and OUT/reports/shards.json.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections import Counter
from dataclasses import asdict
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ConfigDict, Field, TypeAdapter
from pydantic.dataclasses import dataclass as pydantic_dataclass

from corpus import storage
from corpus.engine.parts import dropped_uri, part_name
from corpus.engine.stage import GlobalStage
from corpus.errors import EmptyOutputError, PreflightError
from corpus.layout import MANIFEST
from corpus.ops.fanin import DEFAULT_FAN_IN, MAX_FAN_IN, fan_in_tree
from corpus.ops.shuffle import Bucket, read_bucket, write_map_file
from corpus.provenance import doc_info, provenance_name
from corpus.records import DROP_SCHEMA, Drop, drops_to_table
from corpus.stages.shards_gather import (
    gather_task,
    range_gather,
    with_routes,
)
from corpus.stats import StageStats
from tokenizer.bpe import BOS, EOS, from_json, train_bpe
from tokenizer.chunks import FALLBACK_GROUPS, chunks_to_table, fallback_eval_group, group_rank, token_byte_lengths
from tokenizer.config import ShardConfig
from tokenizer.fast_encode import FastEncoder, build_fast_encoder, choose_encoder
from tokenizer.mixture import MixturePlan, plan_mixture
from tokenizer.provenance import provenance_entry, with_doc_columns
from tokenizer.shards import (
    FILE_PREFIX,
    assemble_manifest,
    chunk_tokens,
    encode_chunks,
    expand_copies,
    n_ranges_for,
    pack_bucket,
    plan_tokens,
)

log = logging.getLogger("corpus")

_TOKENIZERS: dict[str, Any] = {}
ENCODER_CHECK_BYTES = 5_000_000
SAMPLE_PIECE_CHARS = 16_384
READ_COLUMNS = ["id", "text", "source", "domain", "language", "size", "repo", "path", "meta"]
OPTIONAL_COLUMNS = ["license"]  # for provenance; parts written before ingest recorded licences lack it


class EmptyCorpusError(EmptyOutputError):
    """The shards would hold no code token (`corpus run` exits 4, as for any EmptyOutputError)."""


@pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class ShardsConfig(ShardConfig):
    """`stages.shards`: the library's ShardConfig (what the shards hold; tokenizer/config.py), which every
    task function takes as it is, plus how this stage gets its tokenizer and runs."""

    tokenizer: str | None = Field(None, description="an existing tokenizer.json (e.g. DeepSeek-V2's); default: train one")
    vocab_size: int = Field(32000, gt=256, description="learned tokens when training (DeepSeek: 100000)")
    total_vocab_size: int | None = Field(None, description="pad with reserved specials to this size (DeepSeek: 102400)")
    train_bytes: int = Field(20_000_000, gt=0, description="text sampled (16 KB pieces, by hash) to train the tokenizer; "
                             "more gives slightly better compression (measured +0.4% at 50 MB, 2.3x the time)")
    fast_encoder: bool = Field(True, description="use the tiktoken encoder of the same BPE when its ids match")
    allow_empty: bool = Field(False, description="accept shards without a single code token")
    fan_in: int = Field(DEFAULT_FAN_IN, ge=2, le=MAX_FAN_IN, description="files one task reads at most: the tokenizer sample, the "
                        "summaries and each pack range are merged through trees of this fan-in (output unchanged)")


# ------------------------------------------------------------------------------------- helpers


def _load(tok_uri: str, sha: str, fast: bool):
    """Tokenizer, its byte lengths and (checked) fast encoder, once per worker process and file version."""
    key = f"{tok_uri}:{sha}:{fast}"
    if key not in _TOKENIZERS:
        raw = storage.read_bytes(tok_uri)
        tok = from_json(raw.decode("utf-8"), path=None, sha256=hashlib.sha256(raw).hexdigest())
        encoder = None
        if fast:
            enc = build_fast_encoder(tok)
            encoder = FastEncoder(enc) if enc is not None else None
        _TOKENIZERS[key] = (tok, token_byte_lengths(tok), encoder)
    return _TOKENIZERS[key]


def _unit(seed: int, doc_id: str) -> float:
    return int.from_bytes(hashlib.blake2b(f"{seed}\0bpe\0{doc_id}".encode(), digest_size=8).digest(), "little") / 2**64


# --------------------------------------------------------------------------------- step 1 tasks


def part_text_bytes(in_uri: str) -> tuple[int, int]:
    """(text bytes, rows) of a part: the sample's rate and the encode slices follow from them."""
    sizes = storage.read_table(in_uri, columns=["size"]).column("size")
    return int(pc.sum(sizes).as_py() or 0), len(sizes)


def piece_bounds(text: str, size: int = SAMPLE_PIECE_CHARS) -> list[tuple[int, int]]:
    """[start, end) of a document's pieces of about `size` characters, each ending at a line end when
    one is near."""
    out, start, n = [], 0, len(text)
    while start < n:
        end = min(n, start + size)
        if end < n:
            nl = text.find("\n", end, end + size // 4)
            end = nl + 1 if nl >= 0 else end
        out.append((start, end))
        start = end
    return out


def text_pieces(text: str, size: int = SAMPLE_PIECE_CHARS) -> list[str]:
    return [text[s:e] for s, e in piece_bounds(text, size)]


def sample_part(in_uri: str, out_uri: str, keep: float, seed: int) -> int:
    """The pieces (text_pieces) of one part's documents whose hash(seed, id/piece) falls below `keep`,
    with that hash (for order). Pieces, not whole documents: with repository-level documents a
    50 MB sample was ~60 repositories; 20 MB of 16 KB pieces from every repository trains a better
    tokenizer (held-out bytes/token 3.349 vs 3.341, measured) in 2.5x less time."""
    t = storage.read_table(in_uri, columns=["id", "text"])
    rows = []
    for i, x in zip(t.column("id").to_pylist(), t.column("text").to_pylist()):
        if not isinstance(x, str) or not x:
            continue
        for k, (s, e) in enumerate(piece_bounds(x)):  # only the kept pieces are sliced out
            if (u := _unit(seed, f"{i}/{k}")) < keep:
                rows.append((u, f"{i}/{k}", x[s:e]))
    storage.write_table(out_uri, pa.table({"u": [r[0] for r in rows], "id": [r[1] for r in rows], "text": [r[2] for r in rows]},
                                          schema=pa.schema([("u", pa.float64()), ("id", pa.string()), ("text", pa.large_string())])))
    return len(rows)


def merge_samples(sample_uris: list[str], out_uri: str) -> int:
    """One node of the sample's fan-in tree: <= fan_in sample files as one, in (hash, id) order."""
    if storage.exists(out_uri):
        return 0
    table = _sample_table(sample_uris)
    storage.write_table(out_uri, table)
    return table.num_rows


def _sample_table(sample_uris: list[str]) -> pa.Table:
    tables = [storage.read_table(u) for u in sample_uris]
    table = pa.concat_tables(tables) if tables else pa.table({"u": [], "id": [], "text": []})
    return table.sort_by([("u", "ascending"), ("id", "ascending")]) if table.num_rows else table


def train_tokenizer(sample_uris: list[str], stage_uri: str, cfg: ShardsConfig) -> dict:
    """Train (or load the given) tokenizer on the sample, check the fast encoder on the sample's first
    5 MB, write tokenizer.json + tokenizer_config.json. The sample is taken in hash order, so the
    result does not depend on how the input was partitioned."""
    table = _sample_table(sample_uris)  # <= fan_in files: the roots of the sample's fan-in tree
    texts = table.column("text").to_pylist() if table.num_rows else []
    if cfg.tokenizer:
        raw = storage.read_bytes(cfg.tokenizer)
    else:
        raw = train_bpe(texts, cfg.vocab_size, total_vocab_size=cfg.total_vocab_size).to_str().encode("utf-8")
    tok = from_json(raw.decode("utf-8"), path=None, sha256=hashlib.sha256(raw).hexdigest())
    storage.write_bytes(storage.join(stage_uri, "tokenizer.json"), raw)
    hf_config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": BOS, "eos_token": EOS, "pad_token": EOS,
                 "add_bos_token": bool(cfg.add_bos), "add_eos_token": False, "clean_up_tokenization_spaces": False,
                 "model_max_length": cfg.seq_len - 1}
    storage.write_json(storage.join(stage_uri, "tokenizer_config.json"), hf_config)
    encoder_report: dict[str, Any] = {"name": "tokenizers", "reason": "disabled"}
    fast = False
    if cfg.fast_encoder:
        encoder, encoder_report = choose_encoder(tok, texts, max_bytes=ENCODER_CHECK_BYTES)
        fast = encoder is not None
    return {"sha256": tok.sha256, "fast": fast, "encoder": encoder_report, "sample_documents": len(texts)}


# --------------------------------------------------------------------------------- step 2 task


def slice_rows(sizes: pa.ChunkedArray | pa.Array, index: int, n_slices: int) -> tuple[int, int]:
    """[first, end) rows of slice `index` of n_slices: the rows whose start (in text bytes) falls in that
    share of the part's bytes, so a part n_slices times the mean is encoded by n_slices tasks."""
    if n_slices <= 1:
        return 0, len(sizes)
    size = pc.fill_null(sizes, 0).to_numpy().astype(np.int64)
    total = int(size.sum())
    if total <= 0:
        return (0, len(size)) if index == 0 else (0, 0)
    starts = np.cumsum(size) - size
    which = np.minimum(n_slices - 1, starts * n_slices // total)
    return int(np.searchsorted(which, index, "left")), int(np.searchsorted(which, index, "right"))


def _read_slice(in_uri: str, index: int, n_slices: int) -> pa.Table:
    """The rows of one slice of a part, reading only the row groups that hold them."""
    pf = storage.parquet_file(in_uri)
    columns = READ_COLUMNS + [c for c in OPTIONAL_COLUMNS if c in pf.schema_arrow.names]
    if n_slices <= 1:
        try:
            return storage.read_row_groups(pf, list(range(pf.metadata.num_row_groups)), columns) if pf.metadata.num_row_groups \
                else pf.schema_arrow.empty_table().select(columns)
        finally:
            pf.close()
    try:
        first, end = slice_rows(pf.read(columns=["size"]).column("size"), index, n_slices)
        groups, offset, skip = [], 0, None
        for g in range(pf.metadata.num_row_groups):
            n = pf.metadata.row_group(g).num_rows
            if offset < end and offset + n > first:
                groups.append(g)
                skip = offset if skip is None else skip
            offset += n
        if not groups:
            return pf.schema_arrow.empty_table().select(columns)
        table = pf.read_row_groups(groups, columns=columns)
    finally:
        pf.close()
    return table.slice(first - skip, end - first)


def encode_part(tok_uri: str, sha: str, fast: bool, in_uri: str, index: int, n_slices: int, enc_uri: str, drops_uri: str,
                summary_uri: str, cfg: ShardsConfig, seed: int) -> int:
    """Encode and chunk one slice of a part (by bytes: see `slice_rows`); quarantine rows for what cannot
    be encoded. Writes its O(1) counts to summary_uri (merged in tasks: `merge_summaries`)
    and returns its rows."""
    tok, lens, encoder = _load(tok_uri, sha, fast)
    table = _read_slice(in_uri, index, n_slices)
    skipped: Counter = Counter()
    languages: Counter = Counter()
    chunks, done = [], set()
    docs: dict[str, dict] = {}  # doc id -> the columns provenance names it by (corpus.provenance.doc_info)
    batch = cfg.batch_size
    for start in range(0, table.num_rows, batch):
        records = table.slice(start, batch).to_pylist()
        got, ok = encode_chunks(tok, records, seed=seed, config=cfg, encoder=encoder, lens=lens, skipped=skipped,
                                language_tokens=languages)
        chunks.extend(got)
        done.update(ok)
        docs.update((r["id"], doc_info(r)) for r in records if r["id"] in ok)
    storage.write_table(enc_uri, with_doc_columns(chunks_to_table(chunks), chunks, docs))
    # Only the rows left out are turned into records (their text tells why): not every document's text again.
    ids = table.column("id").to_pylist()
    drops = [_encode_drop(table.slice(i, 1).to_pylist()[0]) for i, x in enumerate(ids) if x not in done]
    storage.write_table(drops_uri, drops_to_table(drops) if drops else DROP_SCHEMA.empty_table())
    train: Counter = Counter()
    eval_tokens: Counter = Counter()
    by_group: dict[str, Counter] = {}
    for c in chunks:
        n = chunk_tokens(int(c.ids.shape[0]), cfg.add_bos)
        if c.split == "train":
            train[c.domain] += n
            by_group.setdefault(c.group, Counter())[c.domain] += n
        else:
            eval_tokens[c.domain] += n
    # For the eval fallback (the draw held out nothing): every group's tokens while there are few, and
    # the group of smallest hash, whose tokens are exactly the sum of the slices that report it.
    best = min(by_group, key=lambda g: (group_rank(seed, g), g)) if by_group else None
    in_bytes = int(pc.sum(table.column("size")).as_py() or 0)
    summary = {
        "n_in": table.num_rows,
        "in_bytes": in_bytes,
        "n_encoded": table.num_rows - len(drops),
        "encoded_bytes": in_bytes - sum(d.size or 0 for d in drops),
        "drops": {d.reason: [n, b] for d, n, b in _count_drops(drops)},
        "train_tokens": dict(sorted(train.items())),
        "eval_tokens": dict(sorted(eval_tokens.items())),
        "eval_chunks": sum(c.split == "eval" for c in chunks),
        "chunks": len(chunks),
        "groups": len(by_group),
        "group_tokens": {g: dict(c) for g, c in sorted(by_group.items())} if len(by_group) <= FALLBACK_GROUPS else None,
        "min_group": [str(group_rank(seed, best)), best, dict(by_group[best])] if best else None,
        "language_tokens": dict(sorted(languages.items())),
    }
    storage.write_json(summary_uri, summary)
    return table.num_rows


def _add(a: dict, b: dict) -> dict:
    return dict(sorted((Counter(a) + Counter(b)).items()))


def merge_encode(a: dict, b: dict) -> dict:
    """Two encode summaries as one (associative, so any tree of merges gives the same result)."""
    drops = {r: [a["drops"].get(r, [0, 0])[0] + b["drops"].get(r, [0, 0])[0], a["drops"].get(r, [0, 0])[1] + b["drops"].get(r, [0, 0])[1]]
             for r in sorted({*a["drops"], *b["drops"]})}
    groups = None
    if a["group_tokens"] is not None and b["group_tokens"] is not None:
        merged: dict[str, Counter] = {g: Counter(t) for g, t in a["group_tokens"].items()}
        for g, t in b["group_tokens"].items():
            merged.setdefault(g, Counter()).update(t)
        groups = {g: dict(sorted(c.items())) for g, c in sorted(merged.items())} if len(merged) <= FALLBACK_GROUPS else None
    ma, mb = a["min_group"], b["min_group"]
    if ma and mb and ma[1] == mb[1]:  # every slice holding the smallest group reports it: sum its tokens
        best = [ma[0], ma[1], _add(ma[2], mb[2])]
    else:
        best = min((m for m in (ma, mb) if m), key=lambda m: (int(m[0]), m[1]), default=None)
    out = {k: a[k] + b[k] for k in ("n_in", "in_bytes", "n_encoded", "encoded_bytes", "eval_chunks", "chunks")}
    out.update(drops=drops, groups=max(a["groups"], b["groups"]), group_tokens=groups, min_group=best,
               **{k: _add(a[k], b[k]) for k in ("train_tokens", "eval_tokens", "language_tokens")})
    return out


def merge_mix(a: dict, b: dict) -> dict:
    return {k: a[k] + b[k] for k in ("downsampled", "downsampled_bytes", "copies")}


def merge_summaries(kind: str, in_uris: list[str], out_uri: str) -> int:
    """One node of a summaries' fan-in tree: <= fan_in JSON summaries (encode or mix) merged as one."""
    if storage.exists(out_uri):
        return 0
    merge = {"encode": merge_encode, "mix": merge_mix}[kind]
    acc = storage.read_json(in_uris[0])
    for u in in_uris[1:]:
        acc = merge(acc, storage.read_json(u))
    storage.write_json(out_uri, acc)
    return len(in_uris)


def _count_drops(drops: list[Drop]) -> list[tuple[Drop, int, int]]:
    first: dict[str, Drop] = {}
    counts: Counter = Counter()
    sizes: Counter = Counter()
    for d in drops:
        first.setdefault(d.reason, d)
        counts[d.reason] += 1
        sizes[d.reason] += d.size or 0
    return [(first[r], counts[r], sizes[r]) for r in sorted(first)]


def _encode_drop(record: dict) -> Drop:
    """Why the encoder skipped a record (the same checks tokenizer.encode_chunks makes)."""
    text = record["text"]
    if not isinstance(text, str) or not text:
        reason = "encode_empty_text"
    else:
        try:
            text.encode("utf-8")
            reason = "encode_error"
        except UnicodeEncodeError:
            reason = "encode_invalid_unicode"
    return Drop(reason, record["path"], record["source"], record["repo"], record["size"], "not encodable", id=record["id"])


# --------------------------------------------------------------------------------- step 3 task


def mix_part(enc_uris: list[str], in_uri: str, drops_uris: list[str], map_uri: str, dropped_out: str, summary_uri: str,
             plan_data: dict, seed: int, n_ranges: dict, forced: str | None) -> int:
    """Copies of one part's chunks (its encode slices, in order) per the plan, as one map file routed by
    pack bucket (corpus.ops.shuffle's format: the gather tree and the pack tasks read a bucket's rows with
    one ranged read). Writes its counts to summary_uri; returns the copies."""
    plan = MixturePlan(**plan_data)
    enc = pa.concat_tables([storage.read_table(u) for u in enc_uris])
    rows, dropped = expand_copies(enc, plan, seed, n_ranges, forced)
    write_map_file(with_routes(rows, n_ranges["train"] + n_ranges["eval"]), map_uri)
    left = []
    if dropped:  # only strict mixtures leave documents out
        meta = storage.read_table(in_uri, columns=["id", "source", "repo", "path", "size"]).to_pylist()
        left = [Drop("mixture_downsampled", r["path"], r["source"], r["repo"], r["size"],
                     "left out by the mixture plan (keep_shares: strict)", id=r["id"]) for r in meta if r["id"] in dropped]
    with storage.PartWriter(dropped_out, DROP_SCHEMA) as w:
        w.write(pa.concat_tables([storage.read_table(u) for u in drops_uris]).combine_chunks())
        w.write(drops_to_table(left))
    storage.write_json(summary_uri, {"downsampled": len(left), "downsampled_bytes": sum(d.size or 0 for d in left),
                                     "copies": rows.num_rows})
    return rows.num_rows


# --------------------------------------------------------------------------------- step 4 task


def pack_range(tok_uri: str, sha: str, fast: bool, source: Bucket, split: str, r: int,
               stage_uri: str, summary_uri: str, cfg: ShardsConfig, seed: int) -> dict:
    """Pack one range into its shard files; it reads its rows from <= fan_in gathered files (`source`).
    The summary is kept in scratch (a rerun skips the range; the manifest is assembled from them in
    tasks); the driver gets only its counts."""
    if storage.exists(summary_uri):
        return _pack_counts(storage.read_json(summary_uri))

    tok, lens, encoder = _load(tok_uri, sha, fast)
    table = read_bucket(source)
    write = lambda name, data: storage.write_bytes(storage.join(stage_uri, *name.split("/")), data)  # noqa: E731
    # The range's provenance file is written after its shards and before its summary (the summary says done).
    name = provenance_name(FILE_PREFIX[split], r)
    summary = pack_bucket(table, split, r, tok, cfg, seed, write, encoder=encoder, lens=lens,
                          provenance=lambda prov: provenance_entry(name, prov, write))
    storage.write_json(summary_uri, summary)
    return _pack_counts(summary)


def _pack_counts(summary: dict) -> dict:
    return {"split": summary["split"], "range": summary["range"], "shards": len(summary["shards"]),
            "rows": sum(e["rows"] for e in summary["shards"])}


def merge_pack_summaries(in_uris: list[str], out_uri: str) -> int:
    """One node of the pack summaries' fan-in tree: their range summaries, in range order, in one file."""
    if storage.exists(out_uri):
        return 0
    storage.write_json(out_uri, {"summaries": [s for u in in_uris for s in _range_summaries(u)]})
    return len(in_uris)


def _range_summaries(uri: str) -> list[dict]:
    data = storage.read_json(uri)
    return data.get("summaries", [data])


def write_manifest(summary_uris: list[str], tok_uri: str, sha: str, stage_uri: str, reports_uri: str, cfg: ShardsConfig,
                   seed: int, plan_data: dict, forced: bool, extra: dict) -> dict:
    """manifest.json and reports/shards.json from the (<= fan_in) roots of the pack summaries' tree, in a
    task: the driver never holds the list of shards. Returns the warnings and the row total."""
    summaries = [s for u in summary_uris for s in _range_summaries(u)]
    tok = from_json(storage.read_text(tok_uri), path=None, sha256=sha)
    manifest = assemble_manifest(
        summaries, tok, sha, seed=seed, config=cfg, plan=MixturePlan(**plan_data),
        eval_unit="repository or web host" + (" (one forced: the draw held out none)" if forced else ""), extra=extra)
    storage.write_json(storage.join(stage_uri, MANIFEST), manifest)
    report = {k: manifest[k] for k in ("mixture", "fim_examples", "warnings", "totals", "pack_ranges", "encoder")}
    storage.write_json(storage.join(reports_uri, "shards.json"), report)
    return {"warnings": manifest["warnings"], "rows": manifest["totals"]["rows"]}


# ------------------------------------------------------------------------------------------ stage

_CONFIG_JSON = TypeAdapter(ShardsConfig)  # the stage key's view of the config (a dataclass has no model_dump)



class ShardsStage(GlobalStage):
    name = "shards"
    version = "5"  # 5: step records hold merged summaries (4: eval files named validation-*.parquet)
    code_modules = ("tokenizer",)
    config: ShardsConfig

    def __init__(self, config: ShardsConfig | None = None) -> None:
        super().__init__(config or ShardsConfig())

    def config_json(self) -> dict[str, Any]:
        return _CONFIG_JSON.dump_python(self.config, mode="json")

    def content_files(self) -> list[str]:
        return [self.config.tokenizer] if self.config.tokenizer and not storage.is_remote(self.config.tokenizer) else []

    def preflight(self) -> None:
        if self.config.tokenizer and not storage.exists(self.config.tokenizer):
            raise PreflightError(f"stages.shards.tokenizer: {self.config.tokenizer} does not exist")

    # -- steps ----------------------------------------------------------------------------------
    def _tokenizer_step(self, ctx, inputs: list[str]) -> dict:
        cfg = self.config
        want = ENCODER_CHECK_BYTES if cfg.tokenizer else max(cfg.train_bytes, ENCODER_CHECK_BYTES)
        keep = min(1.0, want / max(1, sum(b for b, _ in self._part_stats(ctx, inputs))))
        sample_uris = [ctx.scratch("bpe_sample", part_name(i)) for i in range(len(inputs))]
        ctx.map(sample_part, [(u, s, keep, ctx.seed) for u, s in zip(inputs, sample_uris)], desc="shards:sample", costs=ctx.part_sizes(inputs))
        # The training task reads at most fan_in files: a tree of merge tasks in between (the sample is
        # ~train_bytes whatever the part count, so each level moves only that).
        roots = fan_in_tree(ctx, sample_uris, merge_samples, "sample_tree", fan_in=cfg.fan_in)
        return ctx.map(train_tokenizer, [(roots, ctx.stage_uri, cfg)], desc="shards:tokenizer")[0]

    def _merged(self, ctx, kind: str, uris: list[str]) -> dict:
        """The fan-in tree of per-task summaries; the driver reads its one root."""
        merge = functools.partial(merge_summaries, kind)
        root = fan_in_tree(ctx, uris, merge, f"{kind}_summary_tree", fan_in=self.config.fan_in, limit=1)
        return storage.read_json(root[0])

    def _mix_plan(self, encoded: dict, seed: int) -> tuple[Any, str | None, dict[str, int]]:
        cfg = self.config
        available: Counter = Counter(encoded["train_tokens"])
        eval_tokens = sum(encoded["eval_tokens"].values())
        forced = None
        candidate = encoded["min_group"]
        if cfg.eval_fraction > 0 and not encoded["eval_chunks"] and candidate:
            # Per-domain train tokens of every group while there are few (else None), and of the group
            # of smallest hash (summed over the slices that report it).
            groups = encoded["group_tokens"]
            rank, name, min_tokens = candidate
            sizes = {g: sum(c.values()) for g, c in groups.items()} if groups is not None else None
            forced = fallback_eval_group(seed, cfg.eval_fraction, sizes, (int(rank), name))
            if forced is not None:
                held = Counter(groups[forced] if groups is not None else min_tokens)
                available.subtract(held)
                eval_tokens += sum(held.values())
                available = Counter({d: n for d, n in available.items() if n > 0})
        plan = plan_mixture(dict(sorted(available.items())), cfg.mixture, total_tokens=cfg.total_tokens,
                            max_repeat=cfg.max_repeat, keep_shares=cfg.keep_shares)
        spread = (cfg.min_ranges, cfg.min_range_tokens)
        n_ranges = {"train": n_ranges_for(plan_tokens(plan, available), cfg.range_tokens, *spread),
                    "eval": n_ranges_for(eval_tokens, cfg.range_tokens, *spread)}
        return plan, forced, n_ranges

    def _part_stats(self, ctx, inputs: list[str]) -> list[tuple[int, int]]:
        """(text bytes, rows) per part, one small task each; kept for this run (a resumed run past the
        tokenizer step asks again)."""
        key = (ctx.stage_uri, tuple(inputs))
        if getattr(self, "_stats_key", None) != key:
            self._part_stats_cache = [tuple(x) for x in ctx.map(part_text_bytes, [(u,) for u in inputs], desc="shards:sizes")]
            self._stats_key = key
        return self._part_stats_cache

    def _slices(self, ctx, inputs: list[str]) -> list[tuple[int, int, int]]:
        """(part, slice, slices of that part) for the encode tasks: a part over the mean text bytes is
        encoded by ceil(bytes / mean) tasks (at most one per row), so no task holds more than about the
        mean (<= 2x the mean task, except a single document larger than that)."""
        stats = self._part_stats(ctx, inputs)
        mean = max(1, sum(b for b, _ in stats) // max(1, len(stats)))
        out = []
        for p, (b, rows) in enumerate(stats):
            n = max(1, min(rows, -(-b // mean)))
            out += [(p, k, n) for k in range(n)]
        return out

    def run(self, ctx, inputs: list[str]) -> StageStats:

        cfg, seed = self.config, ctx.seed
        tok_uri = storage.join(ctx.stage_uri, "tokenizer.json")

        tok_step = ctx.load_step("tokenizer")
        if tok_step is None:
            started = time.time()
            tok_step = self._tokenizer_step(ctx, inputs)
            ctx.save_step("tokenizer", tok_step)
            log.info("shards: tokenizer step %.1fs (encoder: %s)", time.time() - started, tok_step["encoder"].get("name"))
        sha, fast = tok_step["sha256"], tok_step["fast"]

        slices = self._slices(ctx, inputs)
        enc_uris = [ctx.scratch("enc", f"{part_name(p)}-{k:05d}") for p, k, _ in slices]
        enc_drops = [ctx.scratch("enc_drops", f"{part_name(p)}-{k:05d}") for p, k, _ in slices]
        enc_sums = [ctx.scratch("enc_summary", f"{part_name(p)}-{k:05d}.json") for p, k, _ in slices]
        encoded = ctx.load_step("encode")
        if encoded is None:
            started = time.time()
            costs = ctx.part_sizes(inputs)
            ctx.map(encode_part, [(tok_uri, sha, fast, inputs[p], k, n, e, d, m, cfg, seed)
                                  for (p, k, n), e, d, m in zip(slices, enc_uris, enc_drops, enc_sums)],
                    desc="shards:encode", costs=[costs[p] / n for p, _, n in slices], count=lambda n: n)
            encoded = self._merged(ctx, "encode", enc_sums)
            ctx.save_step("encode", encoded)
            log.info("shards: encode step %.1fs (%d tasks for %d parts)", time.time() - started, len(slices), len(inputs))
        code_tokens = encoded["train_tokens"].get("code", 0) + encoded["eval_tokens"].get("code", 0)
        if code_tokens == 0 and not cfg.allow_empty:
            raise EmptyCorpusError(
                f"stage shards: the input ({encoded['n_in']} documents) holds no encodable document of domain "
                "'code', so the shards would hold no code token; check the inputs and the filters "
                "(or set stages.shards.allow_empty: true)")

        mixed = ctx.load_step("mix")
        if mixed is None:
            started = time.time()
            plan, forced, n_ranges = self._mix_plan(encoded, seed)
            plan_data = asdict(plan)
            gather = range_gather(ctx.scratch("scatter"), len(inputs), n_ranges["train"] + n_ranges["eval"], cfg.fan_in)
            by_part: dict[int, list[int]] = {}
            for i, (p, _, _) in enumerate(slices):
                by_part.setdefault(p, []).append(i)
            mix_sums = [ctx.scratch("mix_summary", f"{part_name(p)}.json") for p in range(len(inputs))]
            args = [([enc_uris[i] for i in by_part[p]], inputs[p], [enc_drops[i] for i in by_part[p]], gather.map_uri(p),
                     dropped_uri(storage.join(ctx.stage_uri, part_name(p))), mix_sums[p], plan_data, seed, n_ranges, forced)
                    for p in range(len(inputs))]
            ctx.map(mix_part, args, desc="shards:mix", costs=ctx.part_sizes(inputs))
            totals = self._merged(ctx, "mix", mix_sums)
            mixed = {"plan": plan_data, "forced_eval": forced, "n_ranges": n_ranges, "totals": totals}
            ctx.save_step("mix", mixed)
            log.info("shards: mix step %.1fs (ranges %s)", time.time() - started, n_ranges)
        n_ranges = mixed["n_ranges"]
        gather = range_gather(ctx.scratch("scatter"), len(inputs), n_ranges["train"] + n_ranges["eval"], cfg.fan_in)

        packed = ctx.load_step("pack")
        if packed is None:
            started = time.time()
            for level in range(1, gather.levels + 1):  # each gather task skips an output already written
                ctx.map(gather_task, gather.gather_args(level), desc="shards:gather")
            jobs = [("train", r, r) for r in range(n_ranges["train"])] + [("eval", r, n_ranges["train"] + r) for r in range(n_ranges["eval"])]
            range_sums = [ctx.scratch("ranges", f"{b:05d}.json") for _, _, b in jobs]
            ctx.map(pack_range, [(tok_uri, sha, fast, gather.bucket_source(b), split, r, ctx.stage_uri, u, cfg, seed)
                                 for (split, r, b), u in zip(jobs, range_sums)], desc="shards:pack")
            roots = fan_in_tree(ctx, range_sums, merge_pack_summaries, "pack_summary_tree", fan_in=cfg.fan_in)
            packed = {"roots": roots}
            ctx.save_step("pack", packed)
            log.info("shards: pack step %.1fs (%d gather levels)", time.time() - started, gather.levels)

        extra = {"encoder": tok_step["encoder"], "pack_ranges": n_ranges,
                 "skipped_documents": {r: v[0] for r, v in sorted(encoded["drops"].items())},
                 "file_language_tokens": encoded["language_tokens"]}
        written = ctx.map(write_manifest, [(packed["roots"], tok_uri, sha, ctx.stage_uri, ctx.reports_uri, cfg, seed, mixed["plan"],
                                            bool(mixed["forced_eval"]), extra)], desc="shards:manifest")[0]
        for w in written["warnings"]:
            log.warning("shards: %s", w)
        return self._stats(encoded, mixed["totals"], written["rows"])

    @staticmethod
    def _stats(encoded: dict, mixed: dict, rows: int) -> StageStats:
        stats = StageStats()
        stats.add_in(encoded["n_in"], encoded["in_bytes"])
        for reason, (n, b) in sorted(encoded["drops"].items()):
            stats.add_dropped(reason, n, b)
        if mixed["downsampled"]:
            stats.add_dropped("mixture_downsampled", mixed["downsampled"], mixed["downsampled_bytes"])
        stats.add_kept(encoded["n_encoded"] - mixed["downsampled"], encoded["encoded_bytes"] - mixed["downsampled_bytes"], out=0)
        stats.out_records = rows
        return stats
