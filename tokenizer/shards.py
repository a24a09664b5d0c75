"""Packed token shards in Parquet plus `manifest.json` (format fixed in docs/contracts.md).

Train and eval documents are packed into separate streams: the eval split is held out per document
(EncodeConfig.eval_fraction, by hash), so no document is cut between a train and an eval row and no eval
document is repeated by the mixture. Fallback: if no document was drawn for eval but the train stream
filled at least two shards, its last shard becomes the eval shard (the contract wants one eval shard then).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .bpe import CorpusTokenizer
from .encode import EncodeConfig, EncodedDoc, encode_documents
from .mixture import DEEPSEEK_CODER_V2_MIXTURE, MixturePlan, plan_mixture
from .packing import Packer, Row, sort_docs

log = logging.getLogger(__name__)

FORMAT = "coder-corpus-shards/1"

SHARD_SCHEMA = pa.schema(
    [
        pa.field("input_ids", pa.list_(pa.int32())),
        pa.field("doc_offsets", pa.list_(pa.int32())),
        pa.field("doc_sources", pa.list_(pa.string())),
        pa.field("doc_languages", pa.list_(pa.string())),
        pa.field("n_pad", pa.int32()),
    ]
)


@dataclass(frozen=True)
class ShardConfig:
    seq_len: int = 4097  # 4096 + 1: inputs and shifted labels from one row
    rows_per_shard: int = 1024  # 1024 x 4097 x 4 B = 16.8 MB of ids before compression
    row_group_rows: int = 64  # ~1 MB of ids per row group: a streaming reader holds little
    compression_level: int = 3
    mixture: Mapping[str, float] = field(default_factory=lambda: dict(DEEPSEEK_CODER_V2_MIXTURE))
    mixture_total_tokens: int | None = None
    max_repeat: float = 4.0
    keep_shares: bool = True
    batch_size: int = 256  # documents per encode batch in build_shards

    def __post_init__(self) -> None:
        if self.rows_per_shard * self.seq_len >= 2**31:
            raise ValueError("rows_per_shard * seq_len must stay below 2**31 (int32 list offsets)")
        if self.rows_per_shard < 1 or self.row_group_rows < 1:
            raise ValueError("rows_per_shard and row_group_rows must be positive")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _SplitWriter:
    """Collects rows of one split and writes numbered shards (temp name, then rename)."""

    def __init__(self, out_dir: Path, split: str, config: ShardConfig) -> None:
        self.out_dir, self.split, self.config = out_dir, split, config
        self.rows: list[Row] = []
        self.entries: list[dict[str, Any]] = []

    def add(self, row: Row) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.config.rows_per_shard:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        rows, self.rows = self.rows, []
        name = f"{self.split}-{len(self.entries):05d}.parquet"
        path = self.out_dir / name
        tmp = self.out_dir / f".{name}.tmp"
        pq.write_table(
            _rows_table(rows, self.config.seq_len),
            tmp,
            row_group_size=self.config.row_group_rows,
            compression="zstd",
            compression_level=self.config.compression_level,
        )
        os.replace(tmp, path)
        self.entries.append(_shard_entry(name, self.split, rows, self.config.seq_len, _sha256(path)))


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


def _shard_entry(name: str, split: str, rows: Sequence[Row], seq_len: int, sha: str) -> dict[str, Any]:
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


def _clean(out_dir: Path) -> None:
    """Remove our own files from an earlier run so the manifest never mixes runs."""
    for pattern in ("train-*.parquet", "eval-*.parquet", ".*.parquet.tmp", "manifest.json"):
        for p in out_dir.glob(pattern):
            p.unlink()


def write_shards(
    docs: Iterable[EncodedDoc],
    out_dir: str | Path,
    tok: CorpusTokenizer,
    *,
    seed: int,
    encode_config: EncodeConfig,
    config: ShardConfig = ShardConfig(),
    mixture_report: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Pack documents, already in their final order, into shards; write tokenizer.json and manifest.json.

    Returns the manifest. Same docs in the same order -> byte-identical files.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _clean(out)
    writers = {s: _SplitWriter(out, s, config) for s in ("train", "eval")}
    packers = {s: Packer(config.seq_len, tok.specials.pad) for s in writers}
    counts: Counter = Counter()
    # One streaming pass: memory holds at most one shard of rows per split.
    for doc in docs:
        split = doc.split if doc.split in writers else "train"
        counts[f"{split}_documents"] += 1
        counts[f"{split}_fim_documents"] += doc.fim != "none"
        for row in packers[split].add(doc):
            writers[split].add(row)
    for split, writer in writers.items():
        last = packers[split].finish()
        if last is not None:
            writer.add(last)
        writer.flush()
    train, evals = writers["train"].entries, writers["eval"].entries
    eval_unit = "document"
    if not evals and len(train) >= 2:
        # Fallback (no document drawn for eval): hold out the last train shard. Mixture and document
        # counts above still describe the documents as drawn; the manifest says which rule applied.
        eval_unit = "last_train_shard"
        last = train.pop()
        new = "eval-00000.parquet"
        os.replace(out / last["path"], out / new)
        evals.append({**last, "path": new, "split": "eval"})

    tok_path = out / "tokenizer.json"
    tmp = out / ".tokenizer.json.tmp"
    if tok.path is not None:
        tmp.write_bytes(Path(tok.path).read_bytes())
    else:
        tmp.write_text(tok.json_text or tok.tokenizer.to_str(), encoding="utf-8")
    os.replace(tmp, tok_path)

    shards = train + evals
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "seq_len": config.seq_len,
        "dtype": "int32",
        "vocab_size": tok.vocab_size,
        "tokenizer": {"path": "tokenizer.json", "sha256": _sha256(tok_path)},
        "special_tokens": tok.specials.as_dict(),
        "fim": encode_config.fim.manifest(),
        "seed": seed,
        "mixture": dict(mixture_report or {}),
        "shards": shards,
        "totals": {
            "rows": sum(s["rows"] for s in shards),
            "tokens": sum(s["tokens"] for s in shards),
            "train_tokens": sum(s["tokens"] for s in train),
            "eval_tokens": sum(s["tokens"] for s in evals),
            "documents": {
                k: counts[k]
                for k in ("train_documents", "train_fim_documents", "eval_documents", "eval_fim_documents")
            },
        },
        "document_format": {"add_bos": encode_config.add_bos, "eos_after_each_document": True},
        "eval": {"fraction": encode_config.eval_fraction, "unit": eval_unit},
        "row_group_rows": config.row_group_rows,
    }
    if extra:
        manifest.update({k: v for k, v in extra.items() if k not in manifest})
    tmp = out / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, out / "manifest.json")
    return manifest


def tokens_by_domain(docs: Iterable[EncodedDoc], split: str = "train") -> dict[str, int]:
    counts: Counter = Counter()
    for d in docs:
        if d.split == split:
            counts[d.domain] += d.n_tokens
    return dict(sorted(counts.items()))


def apply_mixture(
    tok: CorpusTokenizer,
    encoded: Sequence[EncodedDoc],
    records_by_id: Mapping[str, Mapping[str, Any]],
    plan: MixturePlan,
    *,
    seed: int,
    encode_config: EncodeConfig,
    encoder: Any = None,
    batch_size: int = 256,
) -> list[EncodedDoc]:
    """Drop or repeat train documents per the plan. Copy k >= 1 is re-encoded with its own FIM draw."""
    out: list[EncodedDoc] = []
    again: list[Mapping[str, Any]] = []
    for doc in encoded:
        if doc.split != "train":
            out.append(doc)
            continue
        n = plan.copies(seed, doc.doc_id, doc.domain)
        if n >= 1:
            out.append(doc)
        rec = records_by_id.get(doc.doc_id) if n >= 2 else None
        if rec is not None:
            again.extend({**rec, "rep": k} for k in range(1, n))
        elif n >= 2:
            log.warning("no record for %s: kept once instead of %d times", doc.doc_id, n)
    for i in range(0, len(again), batch_size):
        out.extend(encode_documents(tok, again[i : i + batch_size], encode_config, seed, encoder=encoder))
    return out


def build_shards(
    records: Sequence[Mapping[str, Any]],
    tok: CorpusTokenizer,
    out_dir: str | Path,
    *,
    seed: int = 1234,
    encode_config: EncodeConfig = EncodeConfig(),
    config: ShardConfig = ShardConfig(),
    encoder: Any = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Single-process reference pipeline: encode -> mixture -> seeded order -> pack -> shards + manifest.

    The Ray stage does the same with encode_documents/apply_mixture per partition and one write_shards.
    """
    skipped: Counter = Counter()
    encoded: list[EncodedDoc] = []
    for i in range(0, len(records), config.batch_size):
        batch = records[i : i + config.batch_size]
        encoded.extend(encode_documents(tok, batch, encode_config, seed, encoder=encoder, skipped=skipped))
    plan = plan_mixture(
        tokens_by_domain(encoded),
        config.mixture,
        total_tokens=config.mixture_total_tokens,
        max_repeat=config.max_repeat,
        keep_shares=config.keep_shares,
    )
    by_id = {r["id"]: r for r in records if isinstance(r.get("id"), str)}
    mixed = apply_mixture(
        tok, encoded, by_id, plan, seed=seed, encode_config=encode_config, encoder=encoder,
        batch_size=config.batch_size,
    )
    ordered = sort_docs(mixed, seed)
    report = plan.report(tokens_by_domain(ordered))
    return write_shards(
        ordered, out_dir, tok, seed=seed, encode_config=encode_config, config=config,
        mixture_report=report, extra={"skipped_documents": dict(skipped), **dict(extra or {})},
    )
