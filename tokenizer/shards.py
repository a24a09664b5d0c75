"""Packed token shards in Parquet plus `manifest.json` (format fixed in docs/contracts.md).

Documents are cut into chunks that fit a row (chunks.py), mixed (mixture.py), put in a seeded global
order and packed. The order is cut into ranges of the 64-bit order key (their number follows from the
token count, never from the partitioning), and each range is packed on its own into
`train-RRRRR-NNNNN.parquet` / `validation-RRRRR-NNNNN.parquet`: the same bytes whether one process packs
every range (build_shards) or many tasks do (the corpus stage). Train and eval are separate streams; the
eval split holds out whole repositories and whole web hosts (by seeded hash), never repeated by the mixture.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .bpe import CorpusTokenizer
from .chunks import (
    FALLBACK_GROUPS,
    Chunk,
    chunk_budget,
    chunk_document,
    chunks_to_table,
    eval_group,
    fallback_eval_group,
    group_rank,
    materialize,
    order_key,
    range_of,
    split_of_group,
    token_byte_lengths,
)
from .config import ShardConfig
from .encode import _encode_safely
from .mixture import MixturePlan, plan_mixture, share_warnings
from .packing import Packer, Row
from .provenance import ProvenanceRecorder
from .splice import PieceEncoder, splice_applies

log = logging.getLogger(__name__)

FORMAT = "coder-corpus-shards/2"  # /2: the eval split's files are validation-*.parquet (were eval-*)

# File name prefix of each split. The manifest keeps the split name "eval"; the files say "validation",
# the word Hugging Face `datasets` maps to its validation split (an "eval-" prefix would make it "test").
FILE_PREFIX = {"train": "train", "eval": "validation"}

SHARD_SCHEMA = pa.schema(
    [
        pa.field("input_ids", pa.list_(pa.int32())),
        pa.field("doc_offsets", pa.list_(pa.int32())),
        pa.field("doc_sources", pa.list_(pa.string())),
        pa.field("doc_languages", pa.list_(pa.string())),
        pa.field("n_pad", pa.int32()),
    ]
)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _rows_table(rows: Sequence[Row], seq_len: int) -> pa.Table:
    n = len(rows)
    ids = pa.ListArray.from_arrays(
        pa.array(np.arange(0, (n + 1) * seq_len, seq_len, dtype=np.int32)),
        pa.array(np.concatenate([r.ids for r in rows]), type=pa.int32()),
    )
    return pa.Table.from_arrays(
        [
            ids,
            pa.array([r.doc_offsets for r in rows], type=pa.list_(pa.int32())),
            pa.array([r.doc_sources for r in rows], type=pa.list_(pa.string())),
            pa.array([r.doc_languages for r in rows], type=pa.list_(pa.string())),
            pa.array([r.n_pad for r in rows], type=pa.int32()),
        ],
        schema=SHARD_SCHEMA,
    )


def _segment_lengths(row: Row, seq_len: int) -> list[int]:
    ends = row.doc_offsets[1:] + [seq_len - row.n_pad]
    return [e - s for s, e in zip(row.doc_offsets, ends)]


def shard_entry(name: str, split: str, rows: Sequence[Row], seq_len: int, sha: str) -> dict[str, Any]:
    by_source: Counter = Counter()
    by_language: Counter = Counter()
    by_domain: Counter = Counter()
    for row in rows:
        for length, src, lang, dom in zip(
            _segment_lengths(row, seq_len), row.doc_sources, row.doc_languages, row.doc_domains
        ):
            by_source[src] += length
            by_language[lang] += length
            by_domain[dom] += length
    return {
        "path": name,
        "split": split,
        "rows": len(rows),
        "tokens": len(rows) * seq_len - sum(r.n_pad for r in rows),
        "tokens_by_source": dict(sorted(by_source.items())),
        "tokens_by_language": dict(sorted(by_language.items())),
        "tokens_by_domain": dict(sorted(by_domain.items())),
        "sha256": sha,
    }


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def shard_bytes(rows: Sequence[Row], config: ShardConfig) -> bytes:
    """One shard file's bytes (zstd Parquet, contract schema)."""
    sink = pa.BufferOutputStream()
    pq.write_table(_rows_table(rows, config.seq_len), sink, row_group_size=config.row_group_rows,
                   compression="zstd", compression_level=config.compression_level)
    return sink.getvalue().to_pybytes()


# ------------------------------------------------------------------------------ encode -> chunks


def encode_chunks(
    tok: CorpusTokenizer,
    records: Sequence[Mapping[str, Any]],
    *,
    seed: int,
    config: ShardConfig,
    encoder: Any = None,
    lens: np.ndarray | None = None,
    skipped: Counter | None = None,
    language_tokens: Counter | None = None,
) -> tuple[list[Chunk], list[str]]:
    """Encode document records once and cut them into chunks of at most config.chunk_len tokens with their
    FIM form (the eval split drawn per repository / web host).

    Returns the chunks and the ids of the records that were encoded; bad records are counted in
    `skipped` by reason. `language_tokens` gets the train tokens of each file's own language."""
    encode = encoder or tok.encode_plain
    lens = token_byte_lengths(tok) if lens is None else lens
    skipped = skipped if skipped is not None else Counter()
    valid, texts = [], []
    for rec in records:
        text, doc_id = rec.get("text"), rec.get("id")
        if not isinstance(doc_id, str) or not doc_id:
            skipped["missing_id"] += 1
        elif not isinstance(text, str):
            skipped["text_not_string"] += 1
        elif not text:
            skipped["empty_text"] += 1
        else:
            try:
                text.encode("utf-8")  # lone surrogates: tokenizers raises, tiktoken replaces; skip for both
            except UnicodeEncodeError:
                skipped["invalid_unicode"] += 1
                continue
            valid.append(rec)
            texts.append(text)
    pieces = _encode_safely(encode, texts, skipped)
    out: list[Chunk] = []
    done: list[str] = []
    fim = config.fim
    for rec, ids in zip(valid, pieces):
        if ids is None:
            skipped["encode_error"] += 1
            continue
        budget = chunk_budget(config.chunk_len, rec.get("domain") in fim.domains and fim.rate > 0, config.add_bos)
        group = eval_group(rec.get("source"), rec.get("repo"), rec.get("path"))
        split = split_of_group(seed, group, config.eval_fraction)
        out.extend(chunk_document(rec, ids, lens, budget, encode, split, group,
                                  language_tokens if split == "train" else None))
        done.append(rec["id"])
    return out, done


def chunk_tokens(n_plain: int, add_bos: bool) -> int:
    """Tokens of a chunk in its plain form (BOS, text, EOS): what the mixture plans with."""
    return n_plain + 1 + int(add_bos)


def expand_copies(table: pa.Table, plan: MixturePlan, seed: int, n_ranges: Mapping[str, int],
                  forced_eval: str | None = None) -> tuple[pa.Table, set[str]]:
    """Chunk rows (CHUNK_SCHEMA) -> one row per copy the mixture plan asks for, with its order key and
    bucket (train range r -> r, eval range r -> train ranges + r), sorted by bucket then order.
    Copies are decided per document, so a document is kept or left out whole. Returns the rows and the
    ids of documents the plan leaves out."""
    cols = table.select(["chunk_id", "doc_id", "domain", "split", "group"]).to_pydict()
    take, reps, keys, buckets, splits = [], [], [], [], []
    dropped: set[str] = set()
    n_train = n_ranges.get("train", 1)
    for i, (cid, did, dom, split, group) in enumerate(zip(cols["chunk_id"], cols["doc_id"], cols["domain"], cols["split"], cols["group"])):
        if forced_eval is not None and group == forced_eval:
            split = "eval"
        n = 1 if split == "eval" else plan.copies(seed, did, dom)
        if n == 0:
            dropped.add(did)
        for rep in range(n):
            key = order_key(seed, cid, rep)
            r = range_of(key, n_ranges.get(split, 1))
            take.append(i)
            reps.append(rep)
            keys.append(key)
            buckets.append(r if split == "train" else n_train + r)
            splits.append(split)
    out = table.take(pa.array(take, type=pa.int64()))
    out = out.set_column(out.schema.get_field_index("order_key"), "order_key", pa.array(keys, type=pa.uint64()))
    out = out.set_column(out.schema.get_field_index("bucket"), "bucket", pa.array(buckets, type=pa.int32()))
    out = out.set_column(out.schema.get_field_index("rep"), "rep", pa.array(reps, type=pa.int32()))
    out = out.set_column(out.schema.get_field_index("split"), "split", pa.array(splits, type=pa.string()))
    order = [("bucket", "ascending"), ("order_key", "ascending"), ("chunk_id", "ascending"), ("rep", "ascending")]
    return out.sort_by(order), dropped


def n_ranges_for(tokens: int, range_tokens: int, min_ranges: int = 1, min_range_tokens: int = 1) -> int:
    """Pack ranges for a split: from its token count and the config only (so never from the partitioning
    or the worker count). At least `min_ranges` while each keeps >= min_range_tokens, so a small run
    still spreads packing over several tasks; at most range_tokens per range."""
    by_size = max(1, -(-int(tokens) // max(1, range_tokens)))
    spread = min(max(1, min_ranges), max(1, int(tokens) // max(1, min_range_tokens)))
    return max(by_size, spread)


# ------------------------------------------------------------------------------------- packing


def pack_bucket(table: pa.Table, split: str, range_index: int, tok: CorpusTokenizer, config: ShardConfig, seed: int,
                write: Any, encoder: Any = None, lens: np.ndarray | None = None,
                provenance: Callable[[pa.Table], dict[str, Any]] | None = None) -> dict[str, Any]:
    """Pack the chunk copies of one range, in the global order, into `{FILE_PREFIX[split]}-RRRRR-NNNNN.parquet`
    files handed to `write(name, data)`. Returns the range's summary (shard entries, counts).
    With `provenance`, the range's provenance table (tokenizer/provenance.py: one row per shard, row and
    segment) is handed to it once packed, and what it returns is the summary's `provenance` entry.
    With `lens` (token byte lengths) FIM pieces re-encode only the text near their cuts when the
    tokenizer allows it (tokenizer/splice.py); the ids are the same either way."""
    encode = encoder or tok.encode_plain
    pieces = PieceEncoder(encode, lens) if lens is not None and splice_applies(tok) else None
    if encoder is not None and hasattr(encoder, "encoding"):
        decode = lambda ids: encoder.encoding.decode_bytes(ids.tolist()).decode("utf-8")  # noqa: E731
    else:
        decode = lambda ids: tok.plain.decode(ids.tolist(), skip_special_tokens=False)  # noqa: E731
    # The global order, without reordering the ids column (a take of a list column copies every token:
    # ~1 s per 38M tokens); chunks are read through its offsets in that order instead.
    order = pc.sort_indices(table, sort_keys=[("order_key", "ascending"), ("chunk_id", "ascending"), ("rep", "ascending")]).to_numpy()
    meta_cols = table.select(["chunk_id", "rep", "source", "domain", "language", "split"]).take(pa.array(order))
    ids_col = table.column("ids").combine_chunks() if table.num_rows else None
    offsets = ids_col.offsets.to_numpy() if ids_col is not None else None
    values = ids_col.values.to_numpy(zero_copy_only=False) if ids_col is not None else None
    packer = Packer(config.seq_len, tok.specials.pad)
    pending: list[Row] = []
    entries: list[dict[str, Any]] = []
    counts: Counter = Counter()
    recorder = ProvenanceRecorder(table) if provenance is not None else None

    def flush(final: bool) -> None:
        while len(pending) >= config.rows_per_shard or (final and pending):
            rows = pending[: config.rows_per_shard]
            del pending[: config.rows_per_shard]
            name = f"{FILE_PREFIX[split]}-{range_index:05d}-{len(entries):05d}.parquet"
            data = shard_bytes(rows, config)
            write(name, data)
            entries.append(shard_entry(name, split, rows, config.seq_len, _sha256(data)))
            if recorder is not None:
                recorder.add(name, rows, config.seq_len)

    for start in range(0, table.num_rows, config.batch_size):
        meta = meta_cols.slice(start, config.batch_size).to_pylist()
        chunk_ids = [values[offsets[i] : offsets[i + 1]] for i in order[start : start + config.batch_size]]
        docs, overflow = materialize(meta, chunk_ids, tok, config, seed, encode, decode, pieces)
        counts["fim_fallback_too_long"] += overflow
        for d in docs:
            counts["documents"] += 1
            counts["fim_documents"] += d.fim != "none"
            counts["fim_eligible"] += d.domain in config.fim.domains
            pending.extend(packer.add(d))
        flush(False)
    pending.extend(packer.finish_rows())
    flush(True)
    extra = {"provenance": provenance(recorder.table())} if provenance is not None and recorder is not None else {}
    return {"split": split, "range": range_index, "shards": entries, **counts,
            "fim_complete": packer.fim_complete, "fim_packed": packer.fim_documents, "padded_tokens": packer.padded_tokens,
            **extra}


# ------------------------------------------------------------------------------------ manifest


def assemble_manifest(
    summaries: Sequence[Mapping[str, Any]],
    tok: CorpusTokenizer,
    tokenizer_sha256: str,
    *,
    seed: int,
    config: ShardConfig,
    plan: MixturePlan,
    eval_unit: str = "repository",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """manifest.json from the per-range summaries (train ranges first, then eval, each in range order)."""
    shards = [e for s in summaries for e in s["shards"]]
    train = [e for e in shards if e["split"] == "train"]
    evals = [e for e in shards if e["split"] == "eval"]
    achieved: Counter = Counter()
    by_language: Counter = Counter()
    for e in train:
        achieved.update(e["tokens_by_domain"])
        by_language.update(e["tokens_by_language"])
    docs: Counter = Counter()
    for s in summaries:
        docs[f"{s['split']}_documents"] += s.get("documents", 0)
        docs[f"{s['split']}_fim_documents"] += s.get("fim_documents", 0)
    made = sum(s.get("fim_packed", 0) for s in summaries)
    complete = sum(s.get("fim_complete", 0) for s in summaries)
    eligible = sum(s.get("fim_eligible", 0) for s in summaries)
    mixture = plan.report(dict(sorted(achieved.items())))
    warnings = share_warnings(mixture)
    mixture["warnings"] = warnings
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "seq_len": config.seq_len,
        "dtype": "int32",
        "vocab_size": tok.vocab_size,
        "tokenizer": {"path": "tokenizer.json", "sha256": tokenizer_sha256},
        "special_tokens": tok.specials.as_dict(),
        "fim": config.fim.manifest(),
        "fim_examples": {
            "made": made,
            "complete_in_one_row": complete,
            "complete_share": round(complete / made, 6) if made else 1.0,
            "fim_domain_chunks": eligible,
            "share_of_fim_domain_chunks": round(made / eligible, 6) if eligible else 0.0,
            "fallback_too_long": sum(s.get("fim_fallback_too_long", 0) for s in summaries),
        },
        "seed": seed,
        "mixture": mixture,
        "warnings": list(warnings),
        "shards": shards,
        "totals": {
            "rows": sum(s["rows"] for s in shards),
            "tokens": sum(s["tokens"] for s in shards),
            "train_tokens": sum(s["tokens"] for s in train),
            "eval_tokens": sum(s["tokens"] for s in evals),
            "padded_tokens": sum(s.get("padded_tokens", 0) for s in summaries),
            "documents": {k: docs[k] for k in ("train_documents", "train_fim_documents", "eval_documents", "eval_fim_documents")},
            "train_tokens_by_language": dict(sorted(by_language.items())),
        },
        "document_format": {"add_bos": config.add_bos, "eos_after_each_document": True,
                            "document": "chunk of at most seq_len tokens, cut at file or line boundaries"},
        "eval": {"fraction": config.eval_fraction, "unit": eval_unit},
        "row_group_rows": config.row_group_rows,
    }
    provenance = [s["provenance"] for s in summaries if s.get("provenance")]
    if provenance:  # the provenance files, one per pack range (absent when the packer wrote none)
        manifest["provenance"] = provenance
    if extra:
        manifest.update({k: v for k, v in extra.items() if k not in manifest})
    return manifest


def tokens_by_domain(chunks: Iterable[Chunk], add_bos: bool = True, split: str = "train") -> dict[str, int]:
    counts: Counter = Counter()
    for c in chunks:
        if c.split == split:
            counts[c.domain] += chunk_tokens(int(c.ids.shape[0]), add_bos)
    return dict(sorted(counts.items()))


def _write_local(out: Path, name: str, data: bytes) -> None:
    tmp = out / f".{name}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, out / name)


def build_shards(
    records: Sequence[Mapping[str, Any]],
    tok: CorpusTokenizer,
    out_dir: str | Path,
    *,
    seed: int = 1234,
    config: ShardConfig = ShardConfig(),
    encoder: Any = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Single-process reference: chunk -> mixture -> seeded order in ranges -> pack -> shards + manifest.

    The corpus stage does the same steps spread over tasks, with the same functions, and writes the
    same bytes."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for pattern in ("train-*.parquet", "validation-*.parquet", "eval-*.parquet", ".*.tmp", "manifest.json"):
        for p in out.glob(pattern):
            p.unlink()
    skipped: Counter = Counter()
    chunks: list[Chunk] = []
    for i in range(0, len(records), config.batch_size):
        got, _ = encode_chunks(tok, records[i : i + config.batch_size], seed=seed, config=config, encoder=encoder,
                               skipped=skipped)
        chunks.extend(got)
    forced = None
    if config.eval_fraction > 0 and chunks and not any(c.split == "eval" for c in chunks):
        group_tokens: Counter = Counter()
        for c in chunks:
            group_tokens[c.group] += chunk_tokens(int(c.ids.shape[0]), config.add_bos)
        ranked = min((group_rank(seed, g), g) for g in group_tokens)
        forced = fallback_eval_group(seed, config.eval_fraction,
                                     dict(group_tokens) if len(group_tokens) <= FALLBACK_GROUPS else None, ranked)
    available = tokens_by_domain(c for c in chunks if c.group != forced)
    plan = plan_mixture(available, config.mixture, total_tokens=config.total_tokens,
                        max_repeat=config.max_repeat, keep_shares=config.keep_shares)
    table = chunks_to_table(chunks)
    # Range counts from the planned token totals: what the tasks of the stage know before packing.
    expected = {"train": plan_tokens(plan, available), "eval": sum(chunk_tokens(int(c.ids.shape[0]), config.add_bos) for c in chunks if c.split == "eval" or c.group == forced)}
    n_ranges = {s: n_ranges_for(t, config.range_tokens, config.min_ranges, config.min_range_tokens) for s, t in expected.items()}
    copies, _ = expand_copies(table, plan, seed, n_ranges, forced)
    summaries = []
    for split, base in (("train", 0), ("eval", n_ranges["train"])):
        for r in range(n_ranges[split]):
            rows = copies.filter(pc.equal(copies.column("bucket"), base + r))
            summaries.append(pack_bucket(rows, split, r, tok, config, seed,
                                         lambda name, data: _write_local(out, name, data), encoder=encoder))
    tok_text = Path(tok.path).read_bytes() if tok.path is not None else (tok.json_text or tok.tokenizer.to_str()).encode("utf-8")
    _write_local(out, "tokenizer.json", tok_text)
    manifest = assemble_manifest(summaries, tok, _sha256(tok_text), seed=seed, config=config, plan=plan, extra={"skipped_documents": dict(skipped), **dict(extra or {})})
    _write_local(out, "manifest.json", (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return manifest


def plan_tokens(plan: MixturePlan, available: Mapping[str, int]) -> int:
    """Train tokens the plan is expected to produce (rates x available): sets the range count."""
    return int(sum(plan.rates.get(d, 0.0) * n for d, n in sorted(available.items())))  # fixed float order
