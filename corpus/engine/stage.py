"""The one step abstraction. A stage reads a Parquet dataset and writes one; three shapes cover the pipeline.

- SourceStage: turns external inputs (repos, archives, WARC, Parquet) into document parts.
- MapStage:    transforms each input part on its own (one Ray task per part, same part index out).
- GlobalStage: needs to see all parts (dedup, grouping, tokenizer training); spreads its own work
               through the RunContext (ctx.map / ctx.share) and saves finished steps (ctx.save_step)
               so a killed run resumes at the step it was in.

Stages know nothing about executors or Ray: the engine (corpus.engine.executor) and a runner (corpus.engine.runner)
decide where and when they run. Every byte they read or write goes through corpus.storage.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from corpus.records import DOC_SCHEMA, Doc, Drop

if TYPE_CHECKING:
    from corpus.engine.context import RunContext
    from corpus.stats import StageStats


def _file_sha(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "missing"


# What a stage's code is made of: its modules' source and the data files packaged beside them (rule
# tables, registries, seed files). Any edit changes the stage key, so --resume never reuses stale output.
CODE_SUFFIXES = (".py", ".yaml", ".yml", ".json", ".jsonl", ".txt")


@functools.cache
def module_files(module: str) -> tuple[str, ...]:
    """The files of a module, or of a package and everything under it, that make up its code."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ValueError(f"no module {module!r}")
    origin = Path(spec.origin)
    if origin.name != "__init__.py":
        return (str(origin),)
    return tuple(sorted(str(f) for f in origin.parent.rglob("*") if f.suffix in CODE_SUFFIXES and "__pycache__" not in f.parts))


@functools.cache
def code_digest(modules: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for module in modules:
        for path in module_files(module):
            h.update(Path(path).name.encode() + b"\0" + _file_sha(path).encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Resources:
    """What one task of the stage asks Ray for."""

    num_cpus: float = 1.0
    memory_mb: int | None = None


@dataclass
class MapResult:
    kept: pa.Table  # rows of the stage's output schema
    dropped: pa.Table  # rows of records.DROP_SCHEMA, one per refused input row
    counts: dict[str, int] | None = None  # named counts for the stage's stats (StageStats.counts)


class Stage(ABC):
    name: ClassVar[str]
    version: ClassVar[str] = "1"  # bump when the logic changes output, so --resume recomputes
    # Modules or packages besides the stage's own module whose code or packaged tables shape its output.
    code_modules: ClassVar[tuple[str, ...]] = ()
    resources: ClassVar[Resources] = Resources()
    output_schema: ClassVar[pa.Schema] = DOC_SCHEMA

    def __init__(self, config: Any = None) -> None:
        self.config = config

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

    def code(self) -> tuple[str, ...]:
        """The modules whose source (and packaged data files) is part of the stage key."""
        return (type(self).__module__, *self.code_modules)

    def key_files(self) -> list[str]:
        """Every file whose contents are in the stage key: configured files and the stage's code."""
        return sorted({*self.content_files(), *(f for m in self.code() for f in module_files(m))})

    def fingerprint(self) -> str:
        contents = {p: _file_sha(p) for p in self.content_files()}
        blob = json.dumps({"stage": self.name, "version": self.version, "config": self.config_json(), "files": contents,
                           "code": code_digest(self.code())}, sort_keys=True)
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
    def bind_output(self, out_uri: str, resume: bool) -> None:
        """Called by the executor before plan(): where the run writes and whether it resumes (a source
        that keeps planning state in OUT, such as a GitHub crawl's repository table, needs both)."""

    @abstractmethod
    def plan(self) -> list[Any]:
        """Work units (repos, archives, files) in a stable order; runs on the driver."""

    @abstractmethod
    def read(self, units: list[Any]) -> Iterator[Doc | Drop]:
        """Yield a Doc for every record read and a Drop for every record refused."""

    def units_per_part(self) -> int:
        """Upper bound on units per part (a part also closes once it reaches part_bytes())."""
        return 1

    def part_bytes(self) -> int | None:
        """Target input bytes per part; None groups by units_per_part() alone."""
        return None

    def unit_bytes(self, unit: Any) -> int | None:
        """Input bytes of a unit if cheaply known at planning time (a file size from a listing)."""
        return None

    def min_parts(self) -> int:
        """Parts wanted at least when unit sizes are known: a small input is cut finer than part_bytes()
        so the CPUs share it (a config value, not the cluster size: the same parts on any cluster)."""
        return 1

    def part_groups(self, units: list[Any]) -> list[list[Any]]:
        """Units grouped into parts, in order: a part closes at units_per_part() units or once its
        units hold part_bytes() bytes (at most total / min_parts()), so part sizes follow the data, not
        the repository count. Groups are consecutive runs of units: (part, row) order is input order."""
        cap, target = max(1, self.units_per_part()), self.part_bytes()
        sizes = [(self.unit_bytes(u) or 0) for u in units] if target else [0] * len(units)
        if target and self.min_parts() > 1 and sum(sizes):
            target = max(1, min(target, sum(sizes) // self.min_parts()))
        groups: list[list[Any]] = []
        current: list[Any] = []
        current_bytes = 0
        for unit, size in zip(units, sizes):
            current.append(unit)
            current_bytes += size
            if len(current) >= cap or (target and current_bytes >= target):
                groups.append(current)
                current, current_bytes = [], 0
        if current:
            groups.append(current)
        return groups

    def check_yield(self, docs_by_source: dict[str, int], stats: StageStats) -> None:
        """Called once all parts are read, with the documents each input yielded: raise
        corpus.errors.EmptyOutputError for an input that should have yielded some."""

    def input_fingerprint(self, units: list[Any]) -> str:
        return hashlib.sha256(json.dumps([repr(u) for u in units]).encode()).hexdigest()[:16]


class GlobalStage(Stage):
    @abstractmethod
    def run(self, ctx: RunContext, inputs: list[str]) -> StageStats:
        """Read all input parts, write outputs under ctx.stage_uri, return the stage's accounting."""
