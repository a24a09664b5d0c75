"""Fixtures of the reliability suite: run the real ingest stage (plan, part task, commit record) on a
hostile input and hand back its accounting, its documents and its drop rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from corpus import storage
from corpus.engine.executor import run_source_part
from corpus.engine.parts import dropped_uri
from corpus.ingest.kinds import make_input
from corpus.stages.ingest import IngestConfig, IngestStage
from corpus.stats import StageStats


@dataclass
class IngestResult:
    stats: StageStats
    docs: pa.Table
    drops: pa.Table

    def reasons(self) -> dict[str, int]:
        return dict(self.stats.dropped)

    def details(self, reason: str) -> list[str]:
        return [d for d, r in zip(self.drops.column("detail").to_pylist(), self.drops.column("reason").to_pylist()) if r == reason]

    def check_counts(self) -> None:
        """in = kept + dropped, and the part files hold exactly what the accounting says."""
        assert self.stats.in_records == self.stats.kept + sum(self.stats.dropped.values())
        assert self.docs.num_rows == self.stats.kept
        assert self.drops.num_rows == sum(self.stats.dropped.values())
        ids = self.docs.column("id").to_pylist()
        assert len(ids) == len(set(ids)), "document ids are unique"


@pytest.fixture
def run_ingest(tmp_path: Path) -> Callable[..., IngestResult]:
    def run(inputs: list[dict[str, Any]], **config: Any) -> IngestResult:
        stage = IngestStage(IngestConfig(inputs=[make_input(**i) for i in inputs], **config))
        units = stage.plan()
        out = str(tmp_path / "out" / "ingest" / "part-00000.parquet")
        record = run_source_part(stage, units, out, "k")
        stats = StageStats.from_json(record["stats"])
        docs = storage.read_table(out) if storage.exists(out) else pa.table({"id": pa.array([], pa.string())})
        drops = storage.read_table(dropped_uri(out))
        result = IngestResult(stats, docs, drops)
        result.check_counts()
        return result

    return run
