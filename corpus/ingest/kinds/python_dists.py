"""kind: python_dists — installed Python distributions, each read as one repository (its RECORD files)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from importlib import metadata
from typing import Literal

from pydantic import Field

from corpus.ingest.kinds.base import InputKind, PlanContext, ReadContext, Unit
from corpus.ingest.repos import read_python_distribution
from corpus.records import Doc, Drop


class PythonDistsInput(InputKind):
    kind: Literal["python_dists"]
    distributions: list[str] = Field(default_factory=list, description="installed distribution names")

    def plan(self, i: int, ctx: PlanContext) -> list[Unit]:
        return [Unit(i, "python_dist", d, f"pypi/{d}") for d in self.distributions]

    def unit_bytes(self, unit: Unit) -> int | None:
        try:
            return sum(f.size or 0 for f in metadata.files(unit.uri) or [])
        except metadata.PackageNotFoundError:
            return None

    def fingerprint(self, unit: Unit, h: hashlib._Hash) -> int | None:
        try:
            h.update(metadata.version(unit.uri).encode())
        except metadata.PackageNotFoundError:
            h.update(b"missing")
        return None

    def read(self, unit: Unit, ctx: ReadContext) -> Iterator[Doc | Drop]:
        yield from read_python_distribution(unit.uri, max_bytes=ctx.limits.max_file_bytes, **self.common())
