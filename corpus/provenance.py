"""What the shards' provenance files say about a document (see tokenizer/provenance.py for the rows).

`doc_info` turns a document record into the columns every chunk carries to pack (the source commit or
archive where ingest recorded one); the readers below find the rows of given repositories or files in a
finished run's `OUT/shards/__provenance/*.parquet`, reading only the columns they need.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa

from corpus import storage
from corpus.layout import MANIFEST, PROVENANCE_DIR


def provenance_name(file_prefix: str, range_index: int) -> str:
    """The provenance file of one pack range, relative to the shards folder."""
    return f"{PROVENANCE_DIR}/{file_prefix}-{range_index:05d}.parquet"


def _meta(raw: Any) -> dict:
    if isinstance(raw, dict):
        return raw
    try:
        meta = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def doc_info(record: Mapping[str, Any]) -> dict[str, Any]:
    """repo, path, license and, where ingest recorded them, the source commit (a GitHub repository's
    `commit_sha`) and archive (a web page's WARC file and record id, a Parquet input's file and row)."""
    meta = _meta(record.get("meta"))
    github = meta.get("github") if isinstance(meta.get("github"), dict) else {}
    commit = github.get("commit_sha") or meta.get("commit") or None
    archive = None
    if meta.get("warc_file"):
        archive = f"{meta['warc_file']}#{meta.get('warc_record_id') or ''}"
    elif meta.get("parquet_file"):
        archive = f"{meta['parquet_file']}#{meta.get('row', '')}"
    return {"repo": record.get("repo"), "path": record.get("path"), "license": record.get("license"),
            "commit": str(commit) if commit else None, "archive": archive}


def provenance_files(shards_uri: str) -> list[str]:
    """The provenance files a finished shards stage lists in its manifest, as URIs."""
    manifest = storage.read_json(storage.join(shards_uri, MANIFEST))
    return [storage.join(shards_uri, *e["path"].split("/")) for e in manifest.get("provenance", [])]


def iter_provenance(shards_uri: str, columns: list[str] | None = None) -> Iterator[tuple[str, pa.Table]]:
    """(file, table) of each provenance file of a finished run, one at a time."""
    for uri in provenance_files(shards_uri):
        yield uri, storage.read_table(uri, columns=columns)
