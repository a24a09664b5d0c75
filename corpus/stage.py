"""The one step abstraction. A stage reads a Parquet dataset and writes one; three shapes cover the pipeline.

- SourceStage: turns external inputs (repos, archives, WARC, Parquet) into document parts.
- MapStage:    transforms each input part on its own (one Ray task per part, same part index out).
- GlobalStage: needs to see all parts (dedup, grouping, tokenizer training); drives Ray itself through
               the RunContext helpers.

Stages know nothing about executors: the engine (corpus.engine) decides where and when they run.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterator

import pyarrow as pa

from corpus.records import DOC_SCHEMA, Doc, Drop

if TYPE_CHECKING:
    from corpus.engine import RunContext
    from corpus.stats import StageStats


def _file_sha(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "missing"


@dataclass(frozen=True)
class Resources:
    """What one task of the stage asks Ray for."""

    num_cpus: float = 1.0
    memory_mb: int | None = None


@dataclass
class MapResult:
    kept: pa.Table  # rows of the stage's output schema
    dropped: pa.Table  # rows of records.DROP_SCHEMA, one per refused input row


class Stage(ABC):
    name: ClassVar[str]
    version: ClassVar[str] = "1"  # bump when the logic changes output, so --resume recomputes
    resources: ClassVar[Resources] = Resources()
    output_schema: ClassVar[pa.Schema] = DOC_SCHEMA

    def __init__(self, config: Any = None) -> None:
        self.config = config
        # Scratch space inside the output folder, set by the engine before the stage runs.
        self.work_dir: Path | None = None

    def config_json(self) -> dict[str, Any]:
        cfg = self.config
        if cfg is None:
            return {}
        if hasattr(cfg, "model_dump"):
            return cfg.model_dump(mode="json")
        return dict(cfg)

    def content_files(self) -> list[str]:
        """Files whose contents (not just names) change the stage's output, e.g. a rule table."""
        return []

    def fingerprint(self) -> str:
        contents = {p: _file_sha(p) for p in self.content_files()}
        blob = json.dumps({"stage": self.name, "version": self.version, "config": self.config_json(), "files": contents}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def preflight(self) -> None:
        """Fail fast, before any work starts, on inputs or settings the stage cannot use."""


class MapStage(Stage):
    batch_rows: ClassVar[int] = 2048

    def setup(self) -> None:
        """Called once per worker process before the first batch (load models, indexes...)."""

    @abstractmethod
    def process(self, table: pa.Table) -> MapResult:
        """Every input row must come back either kept or dropped (the engine checks)."""


class SourceStage(Stage):
    @abstractmethod
    def plan(self) -> list[Any]:
        """Work units (repos, archives, files) in a stable order; runs on the driver."""

    @abstractmethod
    def read(self, units: list[Any]) -> Iterator[Doc | Drop]:
        """Yield a Doc for every record read and a Drop for every record refused."""

    def units_per_part(self) -> int:
        return 1

    def input_fingerprint(self, units: list[Any]) -> str:
        return hashlib.sha256(json.dumps([repr(u) for u in units]).encode()).hexdigest()[:16]


class GlobalStage(Stage):
    @abstractmethod
    def run(self, ctx: "RunContext", inputs: list[str]) -> "StageStats":
        """Read all input parts, write outputs under ctx.stage_dir, return the stage's accounting."""
