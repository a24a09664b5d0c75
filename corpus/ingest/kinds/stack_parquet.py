"""kind: stack_parquet — The-Stack-style Parquet files (a content column plus repository and path)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from corpus.ingest.kinds.base import FileInput, ReadContext, Unit
from corpus.ingest.stack_parquet import read_stack_parquet
from corpus.records import Doc, Drop


class StackParquetInput(FileInput):
    kind: Literal["stack_parquet"]

    def read(self, unit: Unit, ctx: ReadContext) -> Iterator[Doc | Drop]:
        yield from read_stack_parquet(unit.uri, max_bytes=ctx.limits.max_file_bytes,
                                      max_row_group_bytes=ctx.limits.max_parquet_row_group_bytes, **self.common())
