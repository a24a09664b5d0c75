"""shards: tokenizer (trained or given) -> per-document FIM -> corpus mixture -> packed Parquet shards.

Three rounds, each deterministic whatever the number of workers:
1. encode:  one Ray task per part encodes its documents (FIM drawn per document from the seed and
            the document id) and caches them as Arrow;
2. mix:     the driver plans the mixture from the token counts of all parts; one task per part drops
            or repeats its documents by that plan (a repeat gets its own FIM draw);
3. pack:    the driver streams all documents in seeded order into shards + manifest (OUT/shards/).
The tokenizer library (tokenizer/) does the work; this module only distributes it.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa

import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from corpus.parts import part_name
from corpus.storage import PartWriter
from corpus.records import DROP_SCHEMA, Drop, drops_to_table
from corpus.stage import GlobalStage
from corpus.stats import StageStats

_TOKENIZERS: dict[str, Any] = {}
MERGE_ROW_GROUP = 32  # documents per row group of a sorted part (bounds the merge's memory per part)


class ShardsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokenizer: str | None = Field(None, description="an existing tokenizer.json (e.g. DeepSeek-V2's); default: train one")
    vocab_size: int = Field(32000, gt=256, description="learned tokens when training (DeepSeek: 100000)")
    total_vocab_size: int | None = Field(None, description="pad with reserved specials to this size (DeepSeek: 102400)")
    train_bytes: int = Field(50_000_000, gt=0, description="text sampled (by document hash) to train the tokenizer")
    seq_len: int = Field(4097, gt=1, description="tokens per packed row (4096 + 1 for shifted labels)")
    rows_per_shard: int = Field(1024, gt=0)
    fim_rate: float = Field(0.5, ge=0, le=1)
    fim_mode: str = Field("psm", pattern="^(psm|spm)$")
    fim_spm_rate: float = Field(0.0, ge=0, le=1)
    fim_domains: list[str] = Field(default_factory=lambda: ["code"])
    add_bos: bool = True
    eval_fraction: float = Field(0.01, ge=0, lt=1)
    mixture: dict[str, float] = Field(default_factory=lambda: {"code": 0.6, "math": 0.1, "text": 0.3})
    max_repeat: float = Field(4.0, gt=0, description="upper bound on how often a document of a scarce domain repeats")
    keep_shares: bool = Field(True, description="shrink the total so capped domains still get their share; "
                              "false keeps more data and reports the shares it reached")
    total_tokens: int | None = Field(None, gt=0, description="train tokens wanted (default: what the targeted domains have)")
    fast_encoder: bool = Field(True, description="use the tiktoken encoder of the same BPE when its ids match")


def _encode_config(cfg: ShardsConfig):
    from tokenizer.encode import EncodeConfig
    from tokenizer.fim import FimConfig

    fim = FimConfig(rate=cfg.fim_rate, mode=cfg.fim_mode, spm_rate=cfg.fim_spm_rate, domains=tuple(cfg.fim_domains))
    return EncodeConfig(fim=fim, add_bos=cfg.add_bos, eval_fraction=cfg.eval_fraction)


def _load(tok_path: str, fast: bool):
    """Tokenizer (and checked fast encoder) once per worker process, per version of the file."""
    st = Path(tok_path).stat()
    cache_key = f"{tok_path}:{st.st_size}:{st.st_mtime_ns}:{fast}"
    if cache_key not in _TOKENIZERS:
        from tokenizer.bpe import load_tokenizer

        tok = load_tokenizer(tok_path)
        encoder = None
        if fast:
            from tokenizer.fast_encode import FastEncoder, build_fast_encoder

            enc = build_fast_encoder(tok)
            encoder = FastEncoder(enc) if enc is not None else None
        _TOKENIZERS[cache_key] = (tok, encoder)
    return _TOKENIZERS[cache_key]


def _records(path: str) -> list[dict]:
    return pq.read_table(path, columns=["id", "text", "source", "domain", "language", "size", "repo", "path"]).to_pylist()


def _encode_drop(record: dict) -> Drop:
    """Why the encoder skipped a record (the same checks tokenizer.encode_documents makes)."""
    text = record["text"]
    if not text:
        reason = "encode_empty_text"
    else:
        try:
            text.encode("utf-8")
            reason = "encode_error"
        except UnicodeEncodeError:
            reason = "encode_invalid_unicode"
    return Drop(reason, record["path"], record["source"], record["repo"], record["size"], "not encodable", id=record["id"])


def _eval_rank(seed: int, doc_id: str) -> int:
    """Which document is held out for eval when the eval fraction draws none (smallest first)."""
    return int.from_bytes(hashlib.blake2b(f"{seed}\0eval-fallback\0{doc_id}".encode(), digest_size=8).digest(), "big")


def encode_part(tok_path: str, fast: bool, in_path: str, out_path: str, cfg: ShardsConfig, seed: int) -> dict:
    from tokenizer.encode import encode_documents
    from tokenizer.packing import encoded_to_table
    from tokenizer.shards import tokens_by_domain

    tok, encoder = _load(tok_path, fast)
    records = _records(in_path)
    skipped: Counter = Counter()
    encoded = []
    for i in range(0, len(records), 256):
        encoded += encode_documents(tok, records[i : i + 256], _encode_config(cfg), seed, encoder=encoder, skipped=skipped)
    pq.write_table(encoded_to_table(encoded, seed), out_path)
    size = {r["id"]: r["size"] for r in records}
    done = {d.doc_id for d in encoded}
    drops = [_encode_drop(r) for r in records if r["id"] not in done]
    train = [d for d in encoded if d.split == "train"]
    candidate = min(train, key=lambda d: _eval_rank(seed, d.doc_id)) if train else None
    return {
        "drops": [d.row() for d in drops],
        "n_eval": sum(d.split == "eval" for d in encoded),
        "eval_candidate": candidate.doc_id if candidate else None,
        "eval_candidate_tokens": (candidate.domain, candidate.n_tokens) if candidate else None,
        "n_in": len(records),
        "in_bytes": sum(size.values()),
        "n_encoded": len(encoded),
        "encoded_bytes": sum(size.get(d.doc_id, 0) for d in encoded),
        "skipped": dict(skipped),
        "tokens_by_domain": tokens_by_domain(encoded),
    }


def mix_part(tok_path: str, fast: bool, in_path: str, enc_path: str, out_path: str, plan: Any, cfg: ShardsConfig, seed: int,
             force_eval: str | None, dropped_path: str, encode_drops: list[dict]) -> dict:
    """Apply the mixture plan to one part; write its documents sorted in the final order (so the
    driver only merges) and quarantine rows for the documents the plan leaves out."""
    from tokenizer.packing import encoded_to_table, sort_docs, table_to_encoded
    from tokenizer.shards import apply_mixture

    tok, encoder = _load(tok_path, fast)
    encoded = list(table_to_encoded(pq.read_table(enc_path)))
    for d in encoded:
        if d.doc_id == force_eval:
            d.split = "eval"  # held out whole, never repeated by the mixture
    by_id = {r["id"]: r for r in _records(in_path)}
    dropped = [d.doc_id for d in encoded if d.split == "train" and plan.copies(seed, d.doc_id, d.domain) == 0]
    mixed = apply_mixture(tok, encoded, by_id, plan, seed=seed, encode_config=_encode_config(cfg), encoder=encoder)
    # Small row groups: the driver's merge streams every part at once, one row group each.
    pq.write_table(encoded_to_table(sort_docs(mixed, seed), seed), out_path, row_group_size=MERGE_ROW_GROUP)
    drops = [Drop("mixture_downsampled", by_id[i]["path"], by_id[i]["source"], by_id[i]["repo"], by_id[i]["size"], "left out by the mixture plan", id=i) for i in dropped]
    with PartWriter(dropped_path, DROP_SCHEMA) as w:
        w.write(pa.Table.from_pylist(encode_drops, schema=DROP_SCHEMA))
        w.write(drops_to_table(drops))
    return {"downsampled": len(dropped), "downsampled_bytes": sum(by_id[i]["size"] for i in dropped)}


def _merged(paths: list[str], seed: int) -> Iterator[Any]:
    """All parts' documents in the final order, streaming: one record batch per part in memory."""
    from tokenizer.packing import order_key, table_to_encoded

    def stream(path: str) -> Iterator[Any]:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=MERGE_ROW_GROUP):
            yield from table_to_encoded(pa.Table.from_batches([batch]))

    return heapq.merge(*(stream(p) for p in paths), key=lambda d: order_key(seed, d.doc_id, d.rep))


def sample_training_text(inputs: list[str], max_bytes: int, seed: int) -> list[str]:
    """A document-hash sample of about max_bytes, the same whatever the partitioning."""
    total = sum(pq.read_table(p, columns=["size"]).column("size").to_numpy().sum() for p in inputs) or 1
    keep = min(1.0, max_bytes / total)
    texts = []
    for p in inputs:
        t = pq.read_table(p, columns=["id", "text"])
        for doc_id, text in zip(t.column("id").to_pylist(), t.column("text").to_pylist()):
            h = int.from_bytes(hashlib.blake2b(f"{seed}\0bpe\0{doc_id}".encode(), digest_size=8).digest(), "little") / 2**64
            if h < keep:
                texts.append(text)
    return texts


class ShardsStage(GlobalStage):
    name = "shards"
    config: ShardsConfig

    def __init__(self, config: ShardsConfig | None = None) -> None:
        super().__init__(config or ShardsConfig())

    def content_files(self) -> list[str]:
        return [self.config.tokenizer] if self.config.tokenizer else []

    def preflight(self) -> None:
        from corpus.errors import PreflightError

        if self.config.tokenizer and not Path(self.config.tokenizer).is_file():
            raise PreflightError(f"stages.shards.tokenizer: {self.config.tokenizer} does not exist")
        if self.config.rows_per_shard * self.config.seq_len >= 2**31:
            raise PreflightError("stages.shards: rows_per_shard * seq_len must stay below 2**31")

    def _tokenizer_path(self, ctx, inputs: list[str]) -> str:
        if self.config.tokenizer:
            return str(Path(self.config.tokenizer).resolve())
        from tokenizer.bpe import save_tokenizer, train_bpe

        texts = sample_training_text(inputs, self.config.train_bytes, ctx.seed)
        tok = train_bpe(texts, self.config.vocab_size, total_vocab_size=self.config.total_vocab_size)
        path = ctx.tmp_dir / "tokenizer.json"
        save_tokenizer(tok, path)
        return str(path)

    def run(self, ctx, inputs: list[str]) -> StageStats:
        from tokenizer.bpe import load_tokenizer
        from tokenizer.mixture import plan_mixture
        from tokenizer.shards import ShardConfig, write_shards

        cfg, seed = self.config, ctx.seed
        tok_path = self._tokenizer_path(ctx, inputs)
        fast, encoder_report = self._choose_encoder(tok_path, inputs) if cfg.fast_encoder else (False, {"name": "tokenizers", "reason": "disabled"})
        enc_paths = [str(ctx.tmp_dir / f"enc-{i:05d}.parquet") for i in range(len(inputs))]
        mix_paths = [str(ctx.tmp_dir / f"mix-{i:05d}.parquet") for i in range(len(inputs))]
        encoded = ctx.run_tasks(encode_part, [(tok_path, fast, p, e, cfg, seed) for p, e in zip(inputs, enc_paths)], desc="shards:encode")
        available: Counter = Counter()
        for r in encoded:
            available.update(r["tokens_by_domain"])
        # The eval split is drawn per document; when the draw gives none, hold out one whole document.
        candidates = [r["eval_candidate"] for r in encoded if r["eval_candidate"]]
        force_eval = None
        if cfg.eval_fraction > 0 and not sum(r["n_eval"] for r in encoded) and sum(r["n_encoded"] for r in encoded) > 1:
            force_eval = min(candidates, key=lambda i: _eval_rank(seed, i))
            domain, n_tokens = next(r["eval_candidate_tokens"] for r in encoded if r["eval_candidate"] == force_eval)
            available[domain] -= n_tokens  # held out: not train data for the mixture plan
        plan = plan_mixture(dict(available), cfg.mixture, total_tokens=cfg.total_tokens, max_repeat=cfg.max_repeat, keep_shares=cfg.keep_shares)
        drop_paths = [str(ctx.stage_dir / "_dropped" / part_name(i)) for i in range(len(inputs))]
        mixed = ctx.run_tasks(
            mix_part,
            [(tok_path, fast, p, e, m, plan, cfg, seed, force_eval, d, r["drops"]) for p, e, m, d, r in zip(inputs, enc_paths, mix_paths, drop_paths, encoded)],
            desc="shards:mix",
        )
        achieved: Counter = Counter()
        for d in _merged(mix_paths, seed):
            if d.split == "train":
                achieved[d.domain] += d.n_tokens
        tok = load_tokenizer(tok_path)
        shard_cfg = ShardConfig(
            seq_len=cfg.seq_len, rows_per_shard=cfg.rows_per_shard, mixture=cfg.mixture, max_repeat=cfg.max_repeat,
            keep_shares=cfg.keep_shares, mixture_total_tokens=cfg.total_tokens,
        )
        manifest = write_shards(
            _merged(mix_paths, seed), ctx.stage_dir, tok, seed=seed, encode_config=_encode_config(cfg), config=shard_cfg,
            mixture_report=plan.report(dict(sorted(achieved.items()))), extra={"encoder": encoder_report},
        )
        stats = StageStats()
        for e, m in zip(encoded, mixed):
            stats.add_in(e["n_in"], e["in_bytes"])
            for d in e["drops"]:
                stats.add_dropped(d["reason"], 1, d["size"] or 0)
            if m["downsampled"]:
                stats.add_dropped("mixture_downsampled", m["downsampled"], m["downsampled_bytes"])
            stats.add_kept(e["n_encoded"] - m["downsampled"], e["encoded_bytes"] - m["downsampled_bytes"], out=0)
        stats.out_records = manifest["totals"]["rows"]
        return stats

    def _choose_encoder(self, tok_path: str, inputs: list[str]) -> tuple[bool, dict]:
        """The tiktoken encoder of the same BPE, only if its ids equal tokenizer.json's on a sample
        spread over every part of this corpus (the manifest records the check)."""
        from tokenizer.bpe import load_tokenizer
        from tokenizer.fast_encode import choose_encoder

        per_part = max(1, 5_000_000 // max(1, len(inputs)))
        sample: list[str] = []
        for p in inputs:
            size = 0
            for text in pq.read_table(p, columns=["text"]).column("text").to_pylist():
                sample.append(text)
                size += len(text)
                if size >= per_part:
                    break
        encoder, report = choose_encoder(load_tokenizer(tok_path), sample)
        return encoder is not None, report
