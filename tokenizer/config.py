"""The one config of the token shards: what they hold (row length, FIM, BOS, eval split, mixture, pack ranges).

A pydantic dataclass, so it validates itself from a mapping and rejects unknown keys; the pipeline's
`stages.shards` section is this class (plus the stage's run settings: corpus/stages/shards.py), and the
library functions (encode_documents, encode_chunks, materialize, pack_bucket, assemble_manifest,
build_shards) take it as it is. Its `fim` property is the FIM settings as one small value.
"""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass

from .fim import FimConfig, FimMode
from .mixture import DEEPSEEK_CODER_V2_MIXTURE


@pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class ShardConfig:
    """What the shards hold. Every field is a key of `stages.shards` (README, docs/tokenizer.md)."""

    seq_len: int = Field(4097, gt=1, description="tokens per packed row (4096 + 1 for shifted labels)")
    chunk_tokens: int | None = Field(None, gt=16, description="longest training document in tokens (default seq_len)")
    rows_per_shard: int = Field(1024, gt=0, description="rows per shard file (1024 x 4097 x 4 B = 16.8 MB of ids)")
    row_group_rows: int = Field(64, gt=0, description="rows per Parquet row group (~1 MB of ids: a streaming reader holds little)")
    compression_level: int = Field(3, ge=1, le=22, description="zstd level of the shard files")
    batch_size: int = Field(256, gt=0, description="documents per encode / FIM batch (output unchanged)")
    fim_rate: float = Field(0.5, ge=0, le=1, description="share of FIM-domain chunk copies turned into FIM examples")
    fim_mode: FimMode = Field("psm", description="psm (DeepSeek) or spm")
    fim_spm_rate: float = Field(0.0, ge=0, le=1, description="mode psm: share of FIM examples in SPM order instead")
    fim_domains: list[str] = Field(default_factory=lambda: ["code"], description="domains whose chunks get FIM")
    # DeepSeek's tokenizer has add_bos_token = true, so inference prompts (FIM prompts too) start with BOS;
    # training documents then look the same.
    add_bos: bool = Field(True, description="prepend BOS to every document")
    eval_fraction: float = Field(0.01, ge=0, lt=1, description="share of repositories / web hosts held out whole")
    mixture: dict[str, float] = Field(default_factory=lambda: dict(DEEPSEEK_CODER_V2_MIXTURE),
                                      description="target token share per domain")
    max_repeat: float = Field(4.0, gt=0, description="upper bound on how often a document of a scarce domain repeats")
    keep_shares: bool | Literal["strict"] = Field(False, description="false: keep every document once and up-sample "
                                                  "scarce domains; strict (or true): hold the shares by down-sampling")
    total_tokens: int | None = Field(None, gt=0, description="strict mode: train tokens wanted")
    range_tokens: int = Field(50_000_000, gt=0, description="tokens per pack task (its memory is ~4 B per token)")
    min_ranges: int = Field(16, ge=1, description="pack ranges (parallel pack tasks) wanted when the data allows, "
                            "each of >= min_range_tokens; never from the worker count, so output stays deterministic")
    min_range_tokens: int = Field(2_000_000, gt=0, description="smallest range min_ranges may cut (its last row is padded)")

    @model_validator(mode="after")
    def _fits(self) -> ShardConfig:
        if self.chunk_tokens is not None and self.chunk_tokens > self.seq_len:
            raise ValueError(f"chunk_tokens {self.chunk_tokens} exceeds seq_len {self.seq_len}")
        if self.rows_per_shard * self.seq_len >= 2**31:
            raise ValueError("rows_per_shard * seq_len must stay below 2**31 (int32 list offsets)")
        return self

    @functools.cached_property
    def fim(self) -> FimConfig:
        return FimConfig(self.fim_rate, self.fim_mode, self.fim_spm_rate, tuple(self.fim_domains))

    @property
    def chunk_len(self) -> int:
        """Tokens a chunk may take in its final form (chunks are cut to this; rows hold seq_len)."""
        return self.chunk_tokens or self.seq_len
