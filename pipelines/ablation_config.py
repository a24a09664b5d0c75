"""The ablation file of `corpus ablate` (YAML), validated so that an error names the key and the problem.

    pipeline: pipelines/examples/ablation_pipeline.yaml
    train: {preset: tiny, steps: 150, seeds: [1, 2]}
    eval: {benchmarks: "humaneval=...,mbpp=..."}
    variants:
      full: {}
      no_filter: {skip: [filter]}
      small_vocab: {stages: {shards: {vocab_size: 8000}}}
      leaked: {contaminate: {benchmark: humaneval, copies: 8}, skip: [decont]}
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from corpus.errors import PreflightError
from pipelines.config import PipelineConfig, _format_error, load_config


class TrainSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preset: Literal["tiny", "small"] = "tiny"
    steps: int = Field(150, gt=0, description="optimizer steps, the same for every variant and seed")
    seeds: list[int] = Field([1, 2], min_length=1, description="every variant trains once per seed")
    device: str = Field("cpu", description="cpu or cuda")
    batch_size: int | None = Field(None, gt=0)
    seq_len: int | None = Field(None, gt=2, description="ids per training window (default: the preset's)")
    lr: float | None = Field(None, gt=0)
    warmup_steps: int | None = Field(None, ge=0)
    compile: bool = False


class EvalSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    benchmarks: str = Field("humaneval", description="name=PATH list as for the decont stage; scored by benchmark loss")
    max_problems: int = Field(200, gt=0, description="first N problems of each benchmark (file order)")
    fraction: float = Field(0.1, gt=0, lt=1, description="share of the full variant's bytes held out, whole repositories")
    max_docs_per_language: int = Field(64, gt=0, description="evaluation files per language (smallest ids first)")
    max_doc_tokens: int = Field(2048, gt=0, description="first N tokens of each evaluation file are scored")


class Contaminate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    benchmark: Literal["humaneval", "mbpp", "gsm8k", "math"]
    copies: int = Field(8, gt=0, description="repositories that each hold every problem once")
    per_file: int = Field(20, gt=0, description="problems planted per host file")
    rename: bool = Field(False, description="plant paraphrased code (identifiers renamed, comments dropped, reformatted)")


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skip: list[str] = Field(default_factory=list, description="stages left out of the graph")
    stages: dict[str, Any] = Field(default_factory=dict, description="deep-merged over the pipeline's `stages`")
    contaminate: Contaminate | None = None


class AblationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pipeline: str = Field(description="the pipeline config every variant starts from")
    train: TrainSection = TrainSection()
    eval: EvalSection = EvalSection()
    reference: str = Field("full", description="the variant with every stage: the evaluation set is drawn from it")
    variants: dict[str, Variant] = Field(min_length=1)

    @model_validator(mode="after")
    def _reference_is_complete(self) -> AblationConfig:
        ref = self.variants.get(self.reference)
        if ref is None:
            raise ValueError(f"reference variant {self.reference!r} is not among the variants {sorted(self.variants)}")
        if ref.skip or ref.contaminate:
            raise ValueError(f"reference variant {self.reference!r} must keep every stage and plant nothing")
        return self


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` merged into a copy of `base`: mappings recursively, anything else replaced."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else copy.deepcopy(value)
    return out


def load_ablation(path: str | Path) -> tuple[AblationConfig, PipelineConfig]:
    """The ablation file and the pipeline config it names (relative to the ablation file, else the cwd)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PreflightError(f"cannot read ablation config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise PreflightError(f"ablation config {path}: the top level must be a mapping")
    try:
        cfg = AblationConfig.model_validate(data)
    except ValidationError as exc:
        raise PreflightError(_format_error(str(path), exc)) from None
    pipeline = cfg.pipeline
    if not pipeline.startswith("pkg:") and not Path(pipeline).is_absolute() and not Path(pipeline).exists():
        pipeline = str(path.parent / pipeline)
    return cfg, load_config(pipeline)


def variant_pipeline(base: PipelineConfig, variant: Variant, name: str) -> PipelineConfig:
    """The variant's pipeline config: `stages` deep-merged, validated as any pipeline config."""
    data = base.model_dump(mode="json")
    data["stages"] = deep_merge(data["stages"], variant.stages)
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        raise PreflightError(_format_error(f"variant {name}", exc)) from None
