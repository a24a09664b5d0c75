"""The pipeline config file (YAML), validated so that an error names the key and the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from corpus.errors import PreflightError
from corpus.ingest.kinds import KINDS
from corpus.ingest.kinds.base import resolve_uri
from corpus.stages.decont import DecontStageConfig
from corpus.stages.dedup import ExactDedupConfig, NearDedupConfig
from corpus.stages.filter import FilterConfig
from corpus.stages.ingest import IngestSettings, InputSpec, LicensesConfig, OptOutConfig
from corpus.stages.langid import LangIdConfig
from corpus.stages.recall import RecallConfig
from corpus.stages.redact import RedactConfig
from corpus.stages.repo_samples import RepoSamplesConfig
from corpus.stages.shards import ShardsConfig


class StagesSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ingest: IngestSettings = IngestSettings()
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
KIND_NAMES = {k.model_fields["kind"].annotation.__args__[0] for k in KINDS}


def _format_error(source: str, exc: ValidationError) -> str:
    lines = [f"invalid config {source}:"]
    for err in exc.errors():
        parts = [str(p) for p in err["loc"]]
        # Inside `inputs`, pydantic names the kind it tried (inputs.0.warc.paths): show the config's path.
        parts = [p for i, p in enumerate(parts) if not (i >= 2 and parts[0] == "inputs" and i == 2 and p in KIND_NAMES)]
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            parts.append("kind")
        loc = ".".join(parts) or "(top level)"
        lines.append(f"  {loc}: {err['msg']}")
    return "\n".join(lines)


def load_config(path: str | None = None) -> PipelineConfig:
    source = path or DEFAULT_CONFIG
    try:
        text = Path(resolve_uri(source)).read_text()
    except (OSError, ImportError, ValueError) as exc:
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
