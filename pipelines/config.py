"""The pipeline config file (YAML), validated so that an error names the key and the problem."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from corpus.errors import PreflightError
from corpus.stages.decont import DecontStageConfig
from corpus.stages.dedup import ExactDedupConfig, NearDedupConfig
from corpus.stages.filter import FilterConfig
from corpus.stages.ingest import InputSpec, LicensesConfig, OptOutConfig
from corpus.stages.langid import LangIdConfig
from corpus.stages.recall import RecallConfig
from corpus.stages.redact import RedactConfig
from corpus.stages.repo_samples import RepoSamplesConfig
from corpus.stages.shards import ShardsConfig


class IngestSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_file_bytes: int = Field(1_000_000, gt=0)
    units_per_part: int = Field(256, gt=0, description="at most this many repositories / files per part")
    part_bytes: int = Field(64_000_000, gt=0, description="a part closes once its inputs hold this many bytes")
    min_parts: int = Field(8, gt=0, description="with input sizes known, parts close at min(part_bytes, total / min_parts): "
                           "a small input still gives the CPUs several parts (the same parts on any cluster)")


class StagesSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ingest: IngestSection = IngestSection()
    langid: LangIdConfig = LangIdConfig()
    redact: RedactConfig = RedactConfig()
    filter: FilterConfig = FilterConfig()
    dedup_exact: ExactDedupConfig = ExactDedupConfig()
    recall: RecallConfig = RecallConfig()
    repo_samples: RepoSamplesConfig = RepoSamplesConfig()
    dedup_near: NearDedupConfig = NearDedupConfig()
    decont: DecontStageConfig = DecontStageConfig()
    shards: ShardsConfig = ShardsConfig()


class RayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str | None = Field(None, description="Ray cluster address; RAY_ADDRESS overrides; none = local instance")
    num_cpus: int | None = Field(None, gt=0, description="CPUs of the local instance (default: all)")
    dashboard: bool = Field(True, description="start the Ray dashboard with a local instance (its URL is logged); "
                            "`corpus run --no-dashboard` turns it off")


class PipelineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = 1234
    output: str = "out"
    ray: RayConfig = RayConfig()
    storage_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="fsspec options per protocol for OUT and object-store inputs, e.g. "
        "{s3: {client_kwargs: {endpoint_url: ...}}}; credentials normally come from the environment",
    )
    inputs: list[InputSpec] = Field(min_length=1)
    stages: StagesSection = StagesSection()
    # Applied at ingest to every input kind (docs/safety.md).
    optout: OptOutConfig | None = Field(None, description="{list: PATH_OR_URI}: repositories (owner/name, owner/*) and web hosts left out")
    licenses: LicensesConfig = Field(default_factory=LicensesConfig, description="{detect, allow, deny}: SPDX licence detection and lists")
    run: list[str] | None = Field(None, description="stage names to include, in pipeline order (default: all)")
    allow_empty: bool = Field(False, description="accept a run that yields nothing useful (an input with no "
                              "documents, shards without code) with a warning instead of failing")


DEFAULT_CONFIG = "pkg:pipelines/default.yaml"


def _format_error(source: str, exc: ValidationError) -> str:
    lines = [f"invalid config {source}:"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  {loc}: {err['msg']}")
    return "\n".join(lines)


def load_config(path: str | None = None) -> PipelineConfig:
    source = path or DEFAULT_CONFIG
    try:
        if source.startswith("pkg:"):
            package, _, rel = source[4:].partition("/")
            text = resources.files(package).joinpath(rel).read_text()
        else:
            text = Path(source).read_text()
    except OSError as exc:
        raise PreflightError(f"cannot read config {source}: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PreflightError(f"config {source} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PreflightError(f"config {source}: the top level must be a mapping")
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        raise PreflightError(_format_error(source, exc)) from None
