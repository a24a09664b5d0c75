"""ingest: external inputs -> DOC_SCHEMA parts. One work unit per repository, archive or file.

The stage knows no input kind: each configured input is a kind from corpus/ingest/kinds/ that plans its
units, sizes and fingerprints them, and reads them. The stage cuts units into parts and accounts.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from corpus.engine.stage import SourceStage
from corpus.errors import EmptyOutputError, PreflightError
from corpus.ingest.files import printable_path
from corpus.ingest.kinds import InputKind, InputSpec, PlanContext, ReadContext, Unit
from corpus.ingest.kinds.base import read_refused, resolve_uri
from corpus.ingest.licenses import Evidence, allowed, distribution_evidence
from corpus.ingest.limits import Limits
from corpus.ingest.optout import OptOut
from corpus.per_item import describe, is_environment_error
from corpus.records import Doc, Drop

log = logging.getLogger("corpus")


class IngestSettings(Limits):
    """`stages.ingest` of the pipeline config: the limits of every input (Limits) and how parts are cut."""

    units_per_part: int = Field(256, gt=0, description="at most this many repositories / files per output part")
    extract_timeout_s: float = Field(10.0, gt=0, description="HTML-to-text time per page before the page is dropped as timeout")
    part_bytes: int = Field(64_000_000, gt=0, description="a part closes once its units hold this many input bytes "
                            "(where a unit's size is known when planning: local files, installed distributions)")
    min_parts: int = Field(8, gt=0, description="when unit sizes are known, parts close at min(part_bytes, total / min_parts) "
                           "so a small input still gives the CPUs several parts (the same parts on any cluster)")


class OptOutConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    list_: str = Field(alias="list", description="path or URI of the opt-out list: repository names, owner/*, web hosts "
                       "(corpus/ingest/optout.py)")


class LicensesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    detect: bool = Field(True, description="detect each repository's licence (SPDX) into the `license` column")
    allow: list[str | None] | None = Field(None, description="SPDX ids a repository's licence may name (every id of its "
                                           "expression must be listed; null keeps repositories without one); None: all")
    deny: list[str] = Field(default_factory=list, description="SPDX ids refused wherever they appear in an expression")
    scan: Literal["always", "fallback"] = Field("always", description="always: ScanCode on every repository's licence files "
                                                "(disagreements with GitHub/metadata recorded); fallback: only where "
                                                "neither names a licence (saves ScanCode's ~1.4 GB index per worker)")


class IngestConfig(IngestSettings):
    """The ingest stage's whole config: the settings plus the inputs (the pipeline's top-level `inputs`)."""

    inputs: list[InputSpec] = Field(min_length=1)
    optout: OptOutConfig | None = Field(None, description="repositories and hosts left out at ingest (drop reason opted_out)")
    licenses: LicensesConfig = Field(default_factory=LicensesConfig, description="licence detection and allow/deny lists, "
                                     "for every input kind (web pages have no repository and no licence: never refused)")
    allow_empty: bool = Field(False, description="an input that yields no document is a warning, not an error")


class IngestStage(SourceStage):
    name = "ingest"
    code_modules = ("corpus.ingest", "corpus.records")
    version = "2"  # 2: `license` column and meta["license"], licence allow/deny and opt-out for every input kind
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

    def content_files(self) -> list[str]:
        """The opt-out list's contents are in the stage key (a remote list: its name only)."""
        return [self.config.optout.list_] if self.config.optout else []

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
        optout = OptOut.load(resolve_uri(self.config.optout.list_)) if self.config.optout else None
        lic = self.config.licenses
        ctx = ReadContext(self.config, self.config.extract_timeout_s, self.github_client_kwargs, optout)
        for unit in units:
            spec = self._input(unit)
            entry = optout.repo_entry(unit.repo) if optout and unit.kind in REPO_UNITS else None
            if entry:
                # Refused before anything is read, cloned or downloaded: one drop for the repository.
                yield Drop("opted_out", unit.repo or unit.uri, spec.name, unit.repo, 0, f"{unit.repo}: opted out (list entry {entry!r})")
                continue
            # An installed distribution's licence is in its .dist-info folder, which is not read as documents.
            extra = distribution_evidence(unit.uri) if unit.kind == "python_dist" and lic.detect else []
            items = read_refused_iter(unit, spec.name) if unit.kind == "refused" else spec.read(unit, ctx)
            # A kind whose every unit is a part (a GitHub row group of repositories) handles its own errors:
            # an API failure must fail the task (and be retried), not drop 32 repositories.
            if not spec.unit_is_part:
                items = _contained(items, unit, spec.name)
            yield from apply_policy(items, optout, lic.detect, lic.allow, lic.deny, extra, lic.scan)


def read_refused_iter(unit: Unit, source: str) -> Iterator[Drop]:
    yield read_refused(unit, source)


REPO_UNITS = ("local_repo", "git", "tarball", "python_dist")
# A repository's files are held until its licence is decided (its licence files may come last in an archive),
# at most this many characters: past them the licence is decided on the evidence seen so far.
LICENSE_BUFFER_CHARS = 128_000_000


def apply_policy(items: Iterator[Doc | Drop], optout: OptOut | None, detect: bool, allow: list[str | None] | None,
                 deny: list[str], extra: list[tuple[str, str]] | None = None, scan: str = "always") -> Iterator[Doc | Drop]:
    """Per document: the opt-out list (per file: Stack-style rows, web pages by host) and, per repository (its
    files arrive one after the other), the licence into `license` and `meta["license"]`, then allow/deny."""
    held: list[Doc] = []
    evidence = Evidence()
    held_chars = 0
    decided: tuple[str | None, dict] | None = None

    def release() -> Iterator[Doc | Drop]:
        nonlocal decided
        if decided is None:
            decided = evidence.decide(scan) if detect else (None, {})
        expression, record = decided
        refused = allowed(expression, allow, deny) if (allow is not None or deny) else None
        for doc in held:
            if refused:
                yield Drop(refused, doc.path, doc.source, doc.repo, len(doc.text.encode("utf-8", "surrogatepass")),
                           f"{doc.repo}/{doc.path}: licence {expression or 'none found'} ({record.get('source') or 'no evidence'})", doc.id)
                continue
            doc.license = expression
            if detect:
                doc.meta = {**doc.meta, "license": record}
            yield doc
        held.clear()

    current: str | None = None
    for item in items:
        if isinstance(item, Drop):
            yield item
            continue
        entry = optout.entry(item.repo, item.path) if optout else None
        if entry:
            yield Drop("opted_out", item.path, item.source, item.repo, len(item.text.encode("utf-8", "surrogatepass")),
                       f"{item.repo or item.path}: opted out (list entry {entry!r})", item.id)
            continue
        if item.repo is None:
            yield item  # a web page: no repository, no licence
            continue
        if item.repo != current:
            yield from release()
            current, evidence, held_chars, decided = item.repo, Evidence(), 0, None
            for path, text in extra or []:
                evidence.see(path, text)
        if decided is None and detect:
            evidence.see(item.path, item.text, item.meta)
        held.append(item)
        held_chars += len(item.text)
        if held_chars >= LICENSE_BUFFER_CHARS:
            yield from release()  # decides on what was seen; the rest of the repository gets the same answer
            held_chars = 0
    yield from release()


def _contained(items: Iterator[Doc | Drop], unit: Unit, source: str) -> Iterator[Doc | Drop]:
    """A unit's records; an exception a reader did not turn into a drop itself (a decoder or parser
    raising on hostile bytes) ends that unit with one `read_error` drop naming it and the cause, and
    the task goes on with the next unit. What was read before is kept. Failures of the machine (disk
    full, out of memory) still fail the task (corpus.per_item)."""
    try:
        yield from items
    except Exception as exc:
        if is_environment_error(exc) or isinstance(exc, PreflightError):
            raise
        shown = printable_path(unit.uri)[:300]
        yield Drop("read_error", shown, source, unit.repo, 0, f"{shown}: reading stopped: {describe(exc)}")
