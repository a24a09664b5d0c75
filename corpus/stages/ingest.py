"""ingest: external inputs -> DOC_SCHEMA parts. One work unit per repository, archive or file.

The stage knows no input kind: each configured input is a kind from corpus/ingest/kinds/ that plans its
units, sizes and fingerprints them, and reads them. The stage cuts units into parts and accounts.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Iterator

from pydantic import Field

from corpus.errors import EmptyOutputError, PreflightError
from corpus.ingest.kinds import InputKind, InputSpec, PlanContext, ReadContext, Unit
from corpus.ingest.kinds.base import read_refused
from corpus.ingest.limits import Limits
from corpus.records import Doc, Drop
from corpus.engine.stage import SourceStage

log = logging.getLogger("corpus")


class IngestSettings(Limits):
    """`stages.ingest` of the pipeline config: the limits of every input (Limits) and how parts are cut."""

    units_per_part: int = Field(256, gt=0, description="at most this many repositories / files per output part")
    extract_timeout_s: float = Field(10.0, gt=0, description="HTML-to-text time per page before the page is dropped as timeout")
    part_bytes: int = Field(64_000_000, gt=0, description="a part closes once its units hold this many input bytes "
                            "(where a unit's size is known when planning: local files, installed distributions)")
    min_parts: int = Field(8, gt=0, description="when unit sizes are known, parts close at min(part_bytes, total / min_parts) "
                           "so a small input still gives the CPUs several parts (the same parts on any cluster)")


class IngestConfig(IngestSettings):
    """The ingest stage's whole config: the settings plus the inputs (the pipeline's top-level `inputs`)."""

    inputs: list[InputSpec] = Field(min_length=1)
    allow_empty: bool = Field(False, description="an input that yields no document is a warning, not an error")


class IngestStage(SourceStage):
    name = "ingest"
    code_modules = ("corpus.ingest", "corpus.records")
    config: IngestConfig

    # Test hook: keyword arguments for the GitHub client (a fake sleep/clock); not config, not hashed.
    github_client_kwargs: dict[str, Any] = {}
    _out_uri: str | None = None
    _resume: bool = False

    def bind_output(self, out_uri: str, resume: bool) -> None:
        """kind=github: discovery writes OUT/github/repos.parquet and reuses it on --resume."""
        self._out_uri, self._resume = out_uri, resume

    def _input(self, unit: Unit) -> InputKind:
        return self.config.inputs[unit.input_index]

    def units_per_part(self) -> int:
        return self.config.units_per_part

    def part_groups(self, units: list[Unit]) -> list[list[Unit]]:
        """Units of a kind whose every unit is a part (a crawl's row group of repositories) stand alone."""
        groups: list[list[Unit]] = []
        run: list[Unit] = []
        for unit in units:
            if self._input(unit).unit_is_part:
                groups += super().part_groups(run) if run else []
                groups.append([unit])
                run = []
            else:
                run.append(unit)
        return groups + (super().part_groups(run) if run else [])

    def part_bytes(self) -> int | None:
        return self.config.part_bytes

    def min_parts(self) -> int:
        return self.config.min_parts

    def unit_bytes(self, unit: Unit) -> int | None:
        """Sizes known without reading (a local file's size, a distribution's RECORD sizes), or measured
        while fingerprinting (a local folder's files)."""
        measured = getattr(self, "_measured", {}).get(unit.uri)
        return measured if measured is not None else self._input(unit).unit_bytes(unit)

    def plan(self) -> list[Unit]:
        return self._plan(discover=True)

    def _plan(self, discover: bool) -> list[Unit]:
        ctx = PlanContext(self._out_uri, self._resume, discover, self.config.allow_empty, self.github_client_kwargs)
        units = [u for i, spec in enumerate(self.config.inputs) for u in spec.plan(i, ctx)]
        self.discovery = ctx.notes
        if not units:
            raise PreflightError("ingest: the configured inputs name no repositories or files")
        return units

    def preflight(self) -> None:
        self._plan(discover=False)  # missing inputs fail here, before Ray starts (github: the token only)

    def check_yield(self, docs_by_source: dict[str, int], stats) -> None:
        """Every configured input must give documents: git URLs that all fail to clone, a WARC of
        non-HTML records or a folder of binaries would otherwise make a run that silently holds none."""
        empty = [spec.name for spec in self.config.inputs if not docs_by_source.get(spec.name)]
        if not empty:
            return
        reasons = ", ".join(f"{r}={n}" for r, n in stats.dropped.most_common(5)) or "nothing was read"
        message = f"input(s) {empty} yielded no documents (records dropped: {reasons}; see ingest/_dropped/)"
        if not self.config.allow_empty:
            raise EmptyOutputError(message + "; set allow_empty: true to accept an empty input")
        log.warning(message)

    def input_fingerprint(self, units: list[Unit]) -> str:
        """Names plus what says their content changed (each kind decides: sizes and mtimes of local
        files and folders, a distribution's version; remote objects: their names only)."""
        h = hashlib.sha256()
        self._measured: dict[str, int] = {}
        for u in units:
            h.update(repr(u).encode())
            if u.kind != "refused":
                measured = self._input(u).fingerprint(u, h)
                if measured is not None:
                    self._measured[u.uri] = measured  # part_groups() reuses what the walk paid for
        return h.hexdigest()[:16]

    def read(self, units: list[Unit]) -> Iterator[Doc | Drop]:
        ctx = ReadContext(self.config, self.config.extract_timeout_s, self.github_client_kwargs)
        for unit in units:
            spec = self._input(unit)
            if unit.kind == "refused":
                yield read_refused(unit, spec.name)
            else:
                yield from spec.read(unit, ctx)
