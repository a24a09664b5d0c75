"""shards: tokenizer (trained or given) -> chunks that fit the context -> mixture -> packed Parquet shards.

The driver holds O(parts + ranges) state; every document is touched only inside tasks. Four steps, each
saved with ctx.save_step so a killed driver resumes at the step it was in, with identical output:

1. tokenizer: tasks draw a document-hash sample of each part (the same sample whatever the partitioning)
   into scratch; one task trains the BPE on it (HF tokenizers' trainer is a single-process library call),
   checks the tiktoken fast encoder on the first 5 MB of the sample, and writes tokenizer.json and
   tokenizer_config.json to OUT/shards/.
2. encode:    one task per part encodes each document once and cuts it into chunks of at most
              `chunk_tokens` tokens (file boundaries, else line boundaries; tokenizer/chunks.py) -> scratch.
3. mix:       the driver plans the mixture from per-part token counts; one task per part expands each
              document into its copies, gives every copy an order key hash(seed, chunk, copy) and scatters
              them to one scratch file per part, one row group per pack range (a fixed slice of the key
              space, so ranges never depend on the partitioning).
4. pack:      one task per range reads its row groups from every scatter file, sorts them, draws FIM per
              copy, packs (a FIM example is never cut across rows) and writes its own shard files.
The driver then merges the per-range summaries into manifest.json and OUT/reports/shards.json.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from dataclasses import asdict
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, model_validator

from corpus import storage
from corpus.errors import EmptyOutputError, PreflightError
from corpus.engine.parts import dropped_uri, part_name
from corpus.records import DROP_SCHEMA, Drop, drops_to_table
from corpus.engine.stage import GlobalStage
from corpus.stats import StageStats

log = logging.getLogger("corpus")

_TOKENIZERS: dict[str, Any] = {}
ENCODER_CHECK_BYTES = 5_000_000
SAMPLE_PIECE_CHARS = 16_384
READ_COLUMNS = ["id", "text", "source", "domain", "language", "size", "repo", "path", "meta"]


class EmptyCorpusError(EmptyOutputError):
    """The shards would hold no code token (`corpus run` exits 4, as for any EmptyOutputError)."""


class ShardsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokenizer: str | None = Field(None, description="an existing tokenizer.json (e.g. DeepSeek-V2's); default: train one")
    vocab_size: int = Field(32000, gt=256, description="learned tokens when training (DeepSeek: 100000)")
    total_vocab_size: int | None = Field(None, description="pad with reserved specials to this size (DeepSeek: 102400)")
    train_bytes: int = Field(20_000_000, gt=0, description="text sampled (16 KB pieces, by hash) to train the tokenizer; "
                             "more gives slightly better compression (measured +0.4% at 50 MB, 2.3x the time)")
    seq_len: int = Field(4097, gt=1, description="tokens per packed row (4096 + 1 for shifted labels)")
    chunk_tokens: int | None = Field(None, gt=16, description="longest training document in tokens (default seq_len)")
    rows_per_shard: int = Field(1024, gt=0)
    range_tokens: int = Field(50_000_000, gt=0, description="tokens per pack task (its memory is ~4 B per token)")
    fim_rate: float = Field(0.5, ge=0, le=1)
    fim_mode: str = Field("psm", pattern="^(psm|spm)$")
    fim_spm_rate: float = Field(0.0, ge=0, le=1)
    fim_domains: list[str] = Field(default_factory=lambda: ["code"])
    add_bos: bool = True
    eval_fraction: float = Field(0.01, ge=0, lt=1, description="share of repositories / web hosts held out whole")
    mixture: dict[str, float] = Field(default_factory=lambda: {"code": 0.6, "math": 0.1, "text": 0.3})
    max_repeat: float = Field(4.0, gt=0, description="upper bound on how often a document of a scarce domain repeats")
    keep_shares: bool | Literal["strict"] = Field(False, description="false: keep every document once and up-sample "
                                                  "scarce domains; strict (or true): hold the shares by down-sampling")
    total_tokens: int | None = Field(None, gt=0, description="strict mode: train tokens wanted")
    allow_empty: bool = Field(False, description="accept shards without a single code token")
    fast_encoder: bool = Field(True, description="use the tiktoken encoder of the same BPE when its ids match")

    @model_validator(mode="after")
    def _chunk_fits(self) -> "ShardsConfig":
        if self.chunk_tokens is not None and self.chunk_tokens > self.seq_len:
            raise ValueError(f"chunk_tokens {self.chunk_tokens} exceeds seq_len {self.seq_len}")
        return self


# ------------------------------------------------------------------------------------- helpers


def _encode_config(cfg: ShardsConfig):
    from tokenizer.encode import EncodeConfig
    from tokenizer.fim import FimConfig

    fim = FimConfig(rate=cfg.fim_rate, mode=cfg.fim_mode, spm_rate=cfg.fim_spm_rate, domains=tuple(cfg.fim_domains))
    return EncodeConfig(fim=fim, add_bos=cfg.add_bos, eval_fraction=cfg.eval_fraction)


def _shard_config(cfg: ShardsConfig):
    from tokenizer.shards import ShardConfig

    return ShardConfig(seq_len=cfg.seq_len, rows_per_shard=cfg.rows_per_shard, mixture=cfg.mixture,
                       mixture_total_tokens=cfg.total_tokens, max_repeat=cfg.max_repeat,
                       keep_shares=cfg.keep_shares, range_tokens=cfg.range_tokens)


def _load(tok_uri: str, sha: str, fast: bool):
    """Tokenizer, its byte lengths and (checked) fast encoder, once per worker process and file version."""
    key = f"{tok_uri}:{sha}:{fast}"
    if key not in _TOKENIZERS:
        from tokenizer.bpe import from_json
        from tokenizer.chunks import token_byte_lengths

        raw = storage.read_bytes(tok_uri)
        tok = from_json(raw.decode("utf-8"), path=None, sha256=hashlib.sha256(raw).hexdigest())
        encoder = None
        if fast:
            from tokenizer.fast_encode import FastEncoder, build_fast_encoder

            enc = build_fast_encoder(tok)
            encoder = FastEncoder(enc) if enc is not None else None
        _TOKENIZERS[key] = (tok, token_byte_lengths(tok), encoder)
    return _TOKENIZERS[key]


def _unit(seed: int, doc_id: str) -> float:
    return int.from_bytes(hashlib.blake2b(f"{seed}\0bpe\0{doc_id}".encode(), digest_size=8).digest(), "little") / 2**64


# --------------------------------------------------------------------------------- step 1 tasks


def part_text_bytes(in_uri: str) -> int:
    return int(pc.sum(storage.read_table(in_uri, columns=["size"]).column("size")).as_py() or 0)


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


def train_tokenizer(sample_uris: list[str], stage_uri: str, cfg: ShardsConfig) -> dict:
    """Train (or load the given) tokenizer on the sample, check the fast encoder on the sample's first
    5 MB, write tokenizer.json + tokenizer_config.json. The sample is taken in hash order, so the
    result does not depend on how the input was partitioned."""
    from tokenizer.bpe import BOS, EOS, from_json, train_bpe
    from tokenizer.fast_encode import choose_encoder

    tables = [storage.read_table(u) for u in sample_uris]
    table = pa.concat_tables(tables) if tables else pa.table({"u": [], "id": [], "text": []})
    table = table.sort_by([("u", "ascending"), ("id", "ascending")]) if table.num_rows else table
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


def encode_part(tok_uri: str, sha: str, fast: bool, in_uri: str, enc_uri: str, drops_uri: str, groups_uri: str,
                cfg: ShardsConfig, seed: int) -> dict:
    """Encode and chunk one part; quarantine rows for what cannot be encoded. Returns O(1) counts."""
    from tokenizer.chunks import FALLBACK_GROUPS, chunks_to_table, group_rank
    from tokenizer.shards import chunk_tokens, encode_chunks

    tok, lens, encoder = _load(tok_uri, sha, fast)
    ecfg = _encode_config(cfg)
    table = storage.read_table(in_uri, columns=READ_COLUMNS)
    skipped: Counter = Counter()
    languages: Counter = Counter()
    chunks, done = [], set()
    batch = 256
    for start in range(0, table.num_rows, batch):
        records = table.slice(start, batch).to_pylist()
        got, ok = encode_chunks(tok, records, seed=seed, encode_config=ecfg, seq_len=cfg.chunk_tokens or cfg.seq_len,
                                encoder=encoder, lens=lens, skipped=skipped, language_tokens=languages)
        chunks.extend(got)
        done.update(ok)
    storage.write_table(enc_uri, chunks_to_table(chunks))
    meta = table.select(["id", "source", "repo", "path", "size", "text"]).to_pylist()
    drops = [_encode_drop(r) for r in meta if r["id"] not in done]
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
    # the group of smallest hash, whose tokens are exactly the sum of the parts that report it.
    best = min(by_group, key=lambda g: (group_rank(seed, g), g)) if by_group else None
    if len(by_group) <= FALLBACK_GROUPS:  # read by the driver only if the eval draw holds out nothing
        storage.write_json(groups_uri, {g: dict(c) for g, c in sorted(by_group.items())})
    size = {r["id"]: r["size"] or 0 for r in meta}
    return {
        "n_in": table.num_rows,
        "in_bytes": sum(size.values()),
        "n_encoded": len(done),
        "encoded_bytes": sum(size[i] for i in done),
        "drops": {d.reason: [n, b] for d, n, b in _count_drops(drops)},
        "train_tokens": dict(sorted(train.items())),
        "eval_tokens": dict(sorted(eval_tokens.items())),
        "eval_chunks": sum(c.split == "eval" for c in chunks),
        "chunks": len(chunks),
        "groups": len(by_group),
        "min_group": [str(group_rank(seed, best)), best, dict(by_group[best])] if best else None,
        "language_tokens": dict(sorted(languages.items())),
    }


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


def mix_part(enc_uri: str, in_uri: str, drops_uri: str, scatter_uri: str, dropped_out: str, plan_data: dict,
             seed: int, n_ranges: dict, forced: str | None) -> dict:
    """Copies of one part's chunks per the plan, scattered by pack range (one row group per range)."""
    from tokenizer.mixture import MixturePlan
    from tokenizer.shards import expand_copies

    plan = MixturePlan(**plan_data)
    rows, dropped = expand_copies(storage.read_table(enc_uri), plan, seed, n_ranges, forced)
    buckets = rows.column("bucket").to_numpy()
    with storage.PartWriter(scatter_uri, rows.schema, row_group_rows=1 << 30) as w:
        start = 0
        while start < rows.num_rows:  # rows are sorted by bucket: one row group per bucket
            end = int(buckets.searchsorted(buckets[start], side="right"))
            w.write(rows.slice(start, end - start))
            start = end
    meta = storage.read_table(in_uri, columns=["id", "source", "repo", "path", "size"]).to_pylist()
    left = [Drop("mixture_downsampled", r["path"], r["source"], r["repo"], r["size"], "left out by the mixture plan (keep_shares: strict)", id=r["id"])
            for r in meta if r["id"] in dropped]
    with storage.PartWriter(dropped_out, DROP_SCHEMA) as w:
        w.write(storage.read_table(drops_uri))
        w.write(drops_to_table(left))
    return {"downsampled": len(left), "downsampled_bytes": sum(d.size or 0 for d in left), "copies": rows.num_rows}


# --------------------------------------------------------------------------------- step 4 task


def _bucket_rows(uri: str, bucket: int) -> pa.Table | None:
    pf = storage.parquet_file(uri)
    col = pf.schema_arrow.get_field_index("bucket")
    groups = []
    for i in range(pf.metadata.num_row_groups):
        st = pf.metadata.row_group(i).column(col).statistics
        if st is not None and st.has_min_max and st.min == bucket == st.max:
            groups.append(i)
    return pf.read_row_groups(groups) if groups else None


def pack_range(tok_uri: str, sha: str, fast: bool, scatter_uris: list[str], bucket: int, split: str, r: int,
               stage_uri: str, summary_uri: str, cfg: ShardsConfig, seed: int) -> dict:
    """Pack one range into its shard files; the summary is kept in scratch so a rerun skips the range."""
    if storage.exists(summary_uri):
        return storage.read_json(summary_uri)
    from tokenizer.chunks import CHUNK_SCHEMA, DocFormat
    from tokenizer.shards import pack_bucket

    tok, lens, encoder = _load(tok_uri, sha, fast)
    parts = [t for u in scatter_uris if (t := _bucket_rows(u, bucket)) is not None]
    table = pa.concat_tables(parts) if parts else CHUNK_SCHEMA.empty_table()
    ecfg = _encode_config(cfg)
    fmt = DocFormat(cfg.seq_len, ecfg.fim, ecfg.add_bos)
    summary = pack_bucket(table, split, r, tok, fmt, seed, _shard_config(cfg),
                          lambda name, data: storage.write_bytes(storage.join(stage_uri, name), data), encoder=encoder, lens=lens)
    storage.write_json(summary_uri, summary)
    return summary


# ------------------------------------------------------------------------------------------ stage


class ShardsStage(GlobalStage):
    name = "shards"
    code_modules = ("tokenizer",)
    version = "4"  # 4: eval files named validation-*.parquet (3: tokenizer sample of 16 KB pieces)
    config: ShardsConfig

    def __init__(self, config: ShardsConfig | None = None) -> None:
        super().__init__(config or ShardsConfig())

    def content_files(self) -> list[str]:
        return [self.config.tokenizer] if self.config.tokenizer and not storage.is_remote(self.config.tokenizer) else []

    def preflight(self) -> None:
        if self.config.tokenizer and not storage.exists(self.config.tokenizer):
            raise PreflightError(f"stages.shards.tokenizer: {self.config.tokenizer} does not exist")
        if self.config.rows_per_shard * self.config.seq_len >= 2**31:
            raise PreflightError("stages.shards: rows_per_shard * seq_len must stay below 2**31")

    # -- steps ----------------------------------------------------------------------------------
    def _tokenizer_step(self, ctx, inputs: list[str]) -> dict:
        cfg = self.config
        want = ENCODER_CHECK_BYTES if cfg.tokenizer else max(cfg.train_bytes, ENCODER_CHECK_BYTES)
        sizes = ctx.map(part_text_bytes, [(u,) for u in inputs], desc="shards:sizes")
        keep = min(1.0, want / max(1, sum(sizes)))
        sample_uris = [ctx.scratch("bpe_sample", part_name(i)) for i in range(len(inputs))]
        ctx.map(sample_part, [(u, s, keep, ctx.seed) for u, s in zip(inputs, sample_uris)], desc="shards:sample", costs=ctx.part_sizes(inputs))
        return ctx.map(train_tokenizer, [(sample_uris, ctx.stage_uri, cfg)], desc="shards:tokenizer")[0]

    def _mix_plan(self, encoded: list[dict], groups_uris: list[str], seed: int) -> tuple[Any, str | None, dict[str, int]]:
        from tokenizer.chunks import FALLBACK_GROUPS, fallback_eval_group
        from tokenizer.mixture import plan_mixture
        from tokenizer.shards import n_ranges_for, plan_tokens

        cfg = self.config
        available: Counter = Counter()
        for e in encoded:
            available.update(e["train_tokens"])
        eval_tokens = sum(sum(e["eval_tokens"].values()) for e in encoded)
        forced = None
        candidates = [e["min_group"] for e in encoded if e["min_group"]]
        if cfg.eval_fraction > 0 and not sum(e["eval_chunks"] for e in encoded) and candidates:
            # Per-domain train tokens of every group while there are few (else None: one part alone has
            # too many), and of the group of smallest hash (summed over the parts that report it).
            groups: dict[str, Counter] | None = {}
            if any(e["groups"] > FALLBACK_GROUPS for e in encoded):
                groups = None
            else:
                for uri in groups_uris:
                    for g, tokens in storage.read_json(uri).items():
                        groups.setdefault(g, Counter()).update(tokens)
                        if len(groups) > FALLBACK_GROUPS:
                            break
            if groups is not None and len(groups) > FALLBACK_GROUPS:
                groups = None
            rank, name, _ = min(candidates, key=lambda c: (int(c[0]), c[1]))
            sizes = {g: sum(c.values()) for g, c in groups.items()} if groups is not None else None
            forced = fallback_eval_group(seed, cfg.eval_fraction, sizes, (int(rank), name))
            if forced is not None:
                if groups is not None:
                    held = groups[forced]
                else:
                    held = Counter()
                    for _, g, tokens in candidates:
                        if g == forced:
                            held.update(tokens)
                available.subtract(held)
                eval_tokens += sum(held.values())
                available = Counter({d: n for d, n in available.items() if n > 0})
        plan = plan_mixture(dict(sorted(available.items())), cfg.mixture, total_tokens=cfg.total_tokens,
                            max_repeat=cfg.max_repeat, keep_shares=cfg.keep_shares)
        n_ranges = {"train": n_ranges_for(plan_tokens(plan, available), cfg.range_tokens),
                    "eval": n_ranges_for(eval_tokens, cfg.range_tokens)}
        return plan, forced, n_ranges

    def run(self, ctx, inputs: list[str]) -> StageStats:
        from tokenizer.bpe import from_json
        from tokenizer.mixture import MixturePlan
        from tokenizer.shards import assemble_manifest

        cfg, seed = self.config, ctx.seed
        tok_uri = storage.join(ctx.stage_uri, "tokenizer.json")

        tok_step = ctx.load_step("tokenizer")
        if tok_step is None:
            started = time.time()
            tok_step = self._tokenizer_step(ctx, inputs)
            ctx.save_step("tokenizer", tok_step)
            log.info("shards: tokenizer step %.1fs (encoder: %s)", time.time() - started, tok_step["encoder"].get("name"))
        sha, fast = tok_step["sha256"], tok_step["fast"]

        enc_uris = [ctx.scratch("enc", part_name(i)) for i in range(len(inputs))]
        enc_drops = [ctx.scratch("enc_drops", part_name(i)) for i in range(len(inputs))]
        enc_groups = [ctx.scratch("enc_groups", f"part-{i:05d}.json") for i in range(len(inputs))]
        encoded = ctx.load_step("encode")
        if encoded is None:
            started = time.time()
            encoded = ctx.map(encode_part, [(tok_uri, sha, fast, u, e, d, g, cfg, seed)
                                            for u, e, d, g in zip(inputs, enc_uris, enc_drops, enc_groups)],
                              desc="shards:encode", costs=ctx.part_sizes(inputs))
            ctx.save_step("encode", encoded)
            log.info("shards: encode step %.1fs", time.time() - started)
        code_tokens = sum(e["train_tokens"].get("code", 0) + e["eval_tokens"].get("code", 0) for e in encoded)
        if code_tokens == 0 and not cfg.allow_empty:
            raise EmptyCorpusError(
                f"stage shards: the input ({sum(e['n_in'] for e in encoded)} documents) holds no encodable document of domain "
                "'code', so the shards would hold no code token; check the inputs and the filters "
                "(or set stages.shards.allow_empty: true)")

        scatter = [ctx.scratch("scatter", part_name(i)) for i in range(len(inputs))]
        mixed = ctx.load_step("mix")
        if mixed is None:
            started = time.time()
            plan, forced, n_ranges = self._mix_plan(encoded, enc_groups, seed)
            plan_data = asdict(plan)
            dropped = [dropped_uri(storage.join(ctx.stage_uri, part_name(i))) for i in range(len(inputs))]
            results = ctx.map(mix_part, [(e, u, d, s, o, plan_data, seed, n_ranges, forced)
                                         for e, u, d, s, o in zip(enc_uris, inputs, enc_drops, scatter, dropped)], desc="shards:mix",
                              costs=ctx.part_sizes(enc_uris))
            mixed = {"plan": plan_data, "forced_eval": forced, "n_ranges": n_ranges, "parts": results}
            ctx.save_step("mix", mixed)
            log.info("shards: mix step %.1fs (ranges %s)", time.time() - started, n_ranges)
        plan, n_ranges = MixturePlan(**mixed["plan"]), mixed["n_ranges"]

        summaries = ctx.load_step("pack")
        if summaries is None:
            started = time.time()
            jobs = [("train", r, r) for r in range(n_ranges["train"])] + [("eval", r, n_ranges["train"] + r) for r in range(n_ranges["eval"])]
            shared = ctx.share(scatter)
            summaries = ctx.map(pack_range, [(tok_uri, sha, fast, shared, b, split, r, ctx.stage_uri,
                                              ctx.scratch("ranges", f"{b:05d}.json"), cfg, seed) for split, r, b in jobs],
                                desc="shards:pack")
            ctx.save_step("pack", summaries)
            log.info("shards: pack step %.1fs", time.time() - started)

        tok = from_json(storage.read_text(tok_uri), path=None, sha256=sha)
        languages: Counter = Counter()
        for e in encoded:
            languages.update(e["language_tokens"])
        manifest = assemble_manifest(
            summaries, tok, sha, seed=seed, encode_config=_encode_config(cfg), config=_shard_config(cfg), plan=plan,
            eval_unit="repository or web host" + (" (one forced: the draw held out none)" if mixed["forced_eval"] else ""),
            extra={"encoder": tok_step["encoder"], "pack_ranges": n_ranges,
                   "skipped_documents": dict(sorted(Counter({r: v[0] for e in encoded for r, v in e["drops"].items()}).items())),
                   "file_language_tokens": dict(sorted(languages.items()))},
        )
        storage.write_json(storage.join(ctx.stage_uri, "manifest.json"), manifest)
        for w in manifest["warnings"]:
            log.warning("shards: %s", w)
        report = {k: manifest[k] for k in ("mixture", "fim_examples", "warnings", "totals", "pack_ranges", "encoder")}
        storage.write_json(storage.join(ctx.reports_uri, "shards.json"), report)
        return self._stats(encoded, mixed["parts"], manifest)

    @staticmethod
    def _stats(encoded: list[dict], mixed: list[dict], manifest: dict) -> StageStats:
        stats = StageStats()
        for e, m in zip(encoded, mixed):
            stats.add_in(e["n_in"], e["in_bytes"])
            for reason, (n, b) in e["drops"].items():
                stats.add_dropped(reason, n, b)
            if m["downsampled"]:
                stats.add_dropped("mixture_downsampled", m["downsampled"], m["downsampled_bytes"])
            stats.add_kept(e["n_encoded"] - m["downsampled"], e["encoded_bytes"] - m["downsampled_bytes"], out=0)
        stats.out_records = manifest["totals"]["rows"]
        return stats

