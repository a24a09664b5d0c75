"""kind: warc and kind: wet — Common Crawl files (one reader: WET is a WARC of conversion records)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from corpus.ingest.kinds.base import FileInput, ReadContext, Unit
from corpus.ingest.web import read_warc
from corpus.records import Doc, Drop


class WarcInput(FileInput):
    kind: Literal["warc"]

    def read(self, unit: Unit, ctx: ReadContext) -> Iterator[Doc | Drop]:
        yield from read_warc(unit.uri, extractor=ctx.extractor, max_ratio=ctx.limits.max_compression_ratio,
                             ratio_min_bytes=ctx.limits.ratio_min_bytes, **self.common())


class WetInput(WarcInput):
    kind: Literal["wet"]  # type: ignore[assignment]
