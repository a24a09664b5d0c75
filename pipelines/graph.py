"""The DeepSeek-Coder-V2 stage graph: which stages, in which order, with which config."""

from __future__ import annotations

from dataclasses import replace

from corpus.engine.stage import Stage
from corpus.errors import PreflightError
from corpus.layout import STAGE_ORDER
from corpus.stages.decont import DecontStage
from corpus.stages.dedup import ExactDedupStage, NearDedupStage
from corpus.stages.filter import FilterStage
from corpus.stages.ingest import IngestConfig, IngestStage
from corpus.stages.langid import LangIdStage
from corpus.stages.recall import RecallStage
from corpus.stages.redact import RedactStage
from corpus.stages.repo_samples import RepoSamplesStage
from corpus.stages.shards import ShardsStage
from pipelines.config import PipelineConfig

# Exact dedup and recall come before the filters: recall learns from repositories' Markdown (which the
# filter drops: it is not among the 338 languages), and the web filter needs recall's domain to spare
# code and math pages the prose-only Gopher rules. Decontamination decides per file (per web page), as
# DeepSeek's rule does, so it runs before repository grouping: a contaminated file costs only itself.
# Redaction comes before anything hashes or tokenizes text (docs/safety.md).


def build_stages(cfg: PipelineConfig) -> list[Stage]:
    s = cfg.stages
    stages: dict[str, Stage] = {
        "ingest": IngestStage(IngestConfig(inputs=cfg.inputs, allow_empty=cfg.allow_empty, optout=cfg.optout,
                                           licenses=cfg.licenses, **s.ingest.model_dump())),
        "langid": LangIdStage(s.langid),
        "redact": RedactStage(s.redact),
        "filter": FilterStage(s.filter),
        # Exact dedup runs before the filter: it keeps, per cluster, a copy the filter will keep.
        "dedup_exact": ExactDedupStage(s.dedup_exact, s.filter),
        "recall": RecallStage(s.recall),
        # Path comments use the same language registry as detection unless told otherwise.
        "repo_samples": RepoSamplesStage(s.repo_samples if s.repo_samples.registry else s.repo_samples.model_copy(update={"registry": s.langid.registry})),
        "dedup_near": NearDedupStage(s.dedup_near),
        # A pipeline-level allow_empty covers the benchmarks too.
        "decont": DecontStage(s.decont.model_copy(update={"allow_empty": True}) if cfg.allow_empty else s.decont),
        "shards": ShardsStage(replace(s.shards, allow_empty=True) if cfg.allow_empty else s.shards),
    }
    names = cfg.run or list(STAGE_ORDER)
    unknown = [n for n in names if n not in stages]
    if unknown:
        raise PreflightError(f"config key 'run' names unknown stage(s) {unknown}; known: {STAGE_ORDER}")
    if names[0] != "ingest":
        raise PreflightError("config key 'run': the first stage must be 'ingest'")
    return [stages[n] for n in STAGE_ORDER if n in names]
