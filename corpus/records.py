"""Record schemas shared by the stages (see docs/contracts.md).

Every stage between ingest and decontamination reads and writes Parquet parts of DOC_SCHEMA, so any
stage can be dropped, reordered or rerun without adapters.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)

DOC_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("domain", pa.string(), nullable=False),
        pa.field("repo", pa.string()),
        pa.field("path", pa.string(), nullable=False),
        pa.field("text", pa.large_string(), nullable=False),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("language", pa.string()),
        pa.field("lang_method", pa.string()),
        pa.field("vendored", pa.bool_(), nullable=False),
        pa.field("generated", pa.bool_(), nullable=False),
        pa.field("meta", pa.string(), nullable=False),
        # The repository's licence as an SPDX expression (corpus/ingest/licenses.py), null when none was found.
        pa.field("license", pa.string()),
    ]
)

# Quarantine rows: what a stage dropped and why, without the text (the input part still has it).
DROP_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("source", pa.string()),
        pa.field("repo", pa.string()),
        pa.field("path", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
    ]
)

DOMAINS = ("code", "text", "math")


def doc_id(source: str, repo: str | None, path: str) -> str:
    """Stable id of a document: the same input always gets the same id, on any worker."""
    key = f"{source}\0{repo or ''}\0{path}".encode("utf-8", "surrogatepass")
    return hashlib.sha1(key).hexdigest()[:32]


@dataclass
class Doc:
    """One document as a Python object; `to_table` turns a list of them into a DOC_SCHEMA table."""

    source: str
    domain: str
    path: str
    text: str
    repo: str | None = None
    language: str | None = None
    lang_method: str | None = None
    vendored: bool = False
    generated: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    license: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            self.id = doc_id(self.source, self.repo, self.path)

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "domain": self.domain,
            "repo": self.repo,
            "path": self.path,
            "text": self.text,
            "size": len(self.text.encode("utf-8", "surrogatepass")),
            "language": self.language,
            "lang_method": self.lang_method,
            "vendored": self.vendored,
            "generated": self.generated,
            "meta": json.dumps(self.meta, sort_keys=True, ensure_ascii=False),
            "license": self.license,
        }


@dataclass
class Drop:
    """A record a stage refused, with the reason the stats count and a detail that names the file."""

    reason: str
    path: str
    source: str = ""
    repo: str | None = None
    size: int = 0
    detail: str = ""
    id: str | None = None

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "repo": self.repo,
            "path": self.path,
            "size": self.size,
            "reason": self.reason,
            "detail": self.detail,
        }


def table_bytes(table: pa.Table) -> int:
    """Sum of the `size` column (UTF-8 bytes of the documents)."""
    if "size" not in table.column_names or not table.num_rows:
        return 0
    return int(pa.compute.sum(table.column("size")).as_py() or 0)


def docs_to_table(docs: Iterable[Doc]) -> pa.Table:
    return pa.Table.from_pylist([d.row() for d in docs], schema=DOC_SCHEMA)


def drops_to_table(drops: Iterable[Drop]) -> pa.Table:
    return pa.Table.from_pylist([d.row() for d in drops], schema=DROP_SCHEMA)


def drop_rows(table: pa.Table, mask: list[bool] | pa.Array, reasons: list[str | None], details: list[str] | None = None) -> pa.Table:
    """Quarantine rows of a DOC_SCHEMA table: `mask[i]` true means row i is dropped with `reasons[i]`."""
    rows = []
    ids, sources, repos, paths, sizes = (table.column(c).to_pylist() for c in ("id", "source", "repo", "path", "size"))
    for i, dropped in enumerate(mask):
        if dropped:
            rows.append(
                {
                    "id": ids[i],
                    "source": sources[i],
                    "repo": repos[i],
                    "path": paths[i],
                    "size": sizes[i],
                    "reason": reasons[i],
                    "detail": details[i] if details else "",
                }
            )
    return pa.Table.from_pylist(rows, schema=DROP_SCHEMA)
