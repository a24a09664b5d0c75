"""Hold out whole repositories (web hosts) from the training data: the fixed evaluation set of an ablation.

`corpus ablate` draws the evaluation repositories once, from the variant with every stage, and puts this
stage right before `shards` in every variant, so no variant trains on a document of an evaluation
repository (each is dropped with reason `eval_holdout`, counted like any other drop). The groups are the
eval split's units (tokenizer.chunks.eval_group): a repository of a source, or a web page's host.
"""

from __future__ import annotations

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from corpus.engine.stage import MapResult, MapStage
from corpus.records import drop_rows

REASON = "eval_holdout"


class HoldoutConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    groups: list[str] = Field(default_factory=list, description="eval groups (tokenizer.chunks.eval_group) to drop")


class HoldoutStage(MapStage):
    name = "holdout"
    version = "1"

    def __init__(self, config: HoldoutConfig) -> None:
        super().__init__(config)
        self._groups = frozenset(config.groups)

    def process(self, table: pa.Table) -> MapResult:
        from tokenizer.chunks import eval_group  # deferred: the tokenizer package loads HF tokenizers

        sources, repos, paths = (table.column(c).to_pylist() for c in ("source", "repo", "path"))
        mask = [eval_group(s, r, p) in self._groups for s, r, p in zip(sources, repos, paths)]
        kept = table.filter(pa.array([not m for m in mask], pa.bool_()))
        dropped = drop_rows(table, mask, [REASON if m else None for m in mask],
                            ["held out for the ablation's evaluation set" if m else "" for m in mask])
        return MapResult(kept=kept, dropped=dropped)
