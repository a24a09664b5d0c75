"""Reading scan inputs as records: directories (crawled like a repository), Parquet, JSONL, single files.

Inside a directory, Parquet files are read as records (a folder of pipeline output parts works as input);
every other file, JSONL included, is one text document of the crawled repository, walked and read by the
code ingest uses (corpus.ingest.walk, corpus.ingest.repos): the same folders skipped, links never followed,
and the same files refused for the same reasons (binary, bad_encoding, too_large, hostile_path, ...).

Inputs are split into chunks (a group of files, a Parquet row group, a JSONL file) that are read
independently, so each chunk can be one Ray task. Unreadable inputs become skip records with a reason.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from corpus.ingest.files import printable_path
from corpus.ingest.repos import SKIP_DIRS, path_drop, read_local_file
from corpus.ingest.walk import walk
from corpus.records import Drop, doc_id  # the CLI's records carry the pipeline's ids
from corpus.storage import open_uri

PARQUET_EXT = (".parquet", ".pq")
JSONL_EXT = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".ndjson", ".jsonl.bz2")


@dataclass
class Chunk:
    kind: str  # "files" | "parquet" | "jsonl"
    path: str  # root directory, Parquet file or JSONL file
    items: list[Any] = field(default_factory=list)  # relative file paths, or row-group numbers
    source: str = "local"
    bytes: int = 0


def _is_parquet(p: str) -> bool:
    return p.lower().endswith(PARQUET_EXT)


def _is_jsonl(p: str) -> bool:
    return p.lower().endswith(JSONL_EXT)


def plan_inputs(paths: list[str], chunk_bytes: int = 32 << 20, max_files: int = 2000) -> tuple[list[Chunk], list[str]]:
    """Split inputs into chunks; returns (chunks, problems) where problems name inputs that do not exist."""
    chunks: list[Chunk] = []
    problems: list[str] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found, unlisted = _plan_dir(p, chunk_bytes, max_files)
            chunks.extend(found)
            problems.extend(unlisted)
        elif p.is_file() and _is_parquet(raw):
            chunks.extend(_plan_parquet(p))
        elif p.is_file() and _is_jsonl(raw):
            chunks.append(Chunk("jsonl", str(p), source=_source_name(p), bytes=p.stat().st_size))
        elif p.is_file():
            chunks.append(Chunk("files", str(p.parent), [p.name], source=_source_name(p.parent), bytes=p.stat().st_size))
        else:
            problems.append(f"{raw}: no such file or directory")
    return chunks, problems


def _source_name(p: Path) -> str:
    return p.resolve().name or "local"


def _plan_dir(root: Path, chunk_bytes: int, max_files: int) -> tuple[list[Chunk], list[str]]:
    """Chunks of the files under root (as ingest walks a repository: VCS folders skipped, links to folders
    kept as entries that reading refuses), and a problem per folder that cannot be listed."""
    source = _source_name(root)
    out: list[Chunk] = []
    errors: list[OSError] = []
    cur = Chunk("files", str(root), [], source=source)
    for dirpath, dirnames, filenames in walk(root, onerror=errors.append):
        links = sorted(d for d in dirnames if d not in SKIP_DIRS and os.path.islink(os.path.join(dirpath, d)))
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and d not in links)
        for name in sorted([*filenames, *links]):
            full = Path(dirpath) / name
            if _is_parquet(name) and name not in links:  # a Parquet part (e.g. a pipeline output folder): its records
                out.extend(_plan_parquet(full))
                continue
            try:
                size = full.lstat().st_size
            except OSError:
                size = 0
            cur.items.append(full.relative_to(root).as_posix())
            cur.bytes += size
            if cur.bytes >= chunk_bytes or len(cur.items) >= max_files:
                out.append(cur)
                cur = Chunk("files", str(root), [], source=source)
    if cur.items:
        out.append(cur)
    problems = [f"{printable_path(str(e.filename or root))}: folder cannot be listed ({e.strerror or e})" for e in errors]
    return out, problems


def _plan_parquet(p: Path) -> list[Chunk]:
    try:
        meta = pq.ParquetFile(str(p)).metadata
    except Exception as exc:  # not Parquet after all: read as one bad chunk that reports the reason
        return [Chunk("parquet", str(p), [f"error: {type(exc).__name__}: {exc}"], source=_source_name(p.parent))]
    return [
        Chunk("parquet", str(p), [rg], source=_source_name(p.parent), bytes=meta.row_group(rg).total_byte_size)
        for rg in range(meta.num_row_groups)
    ]


def guess_language(path: str, data: bytes = b"") -> str | None:
    """One of the 338 languages by the project's registry (name, extension, shebang, content rules)."""
    from lang_registry import detect  # deferred: the registry's import costs seconds; only file inputs need it

    return detect(path, data).language


def read_chunk(chunk: Chunk, max_file_bytes: int = 10 << 20, text_field: str = "text") -> Iterator[dict[str, Any]]:
    """Records of a chunk; records that cannot be scanned carry `text=None` and a `skip_reason`."""
    if chunk.kind == "files":
        yield from _read_files(chunk, max_file_bytes)
    elif chunk.kind == "parquet":
        yield from _read_parquet(chunk, text_field)
    elif chunk.kind == "jsonl":
        yield from _read_jsonl(chunk, text_field)
    else:
        yield {"text": None, "skip_reason": f"unknown chunk kind {chunk.kind}"}


def _read_files(chunk: Chunk, max_file_bytes: int) -> Iterator[dict[str, Any]]:
    """The files of a chunk, each read (or refused, with ingest's reason) as ingest reads a repository's files."""
    root = Path(chunk.path)
    repo = root.resolve().name
    for rel in chunk.items:
        full = root / rel
        item = path_drop(full, rel, source=chunk.source, repo=repo) or read_local_file(
            full, rel, source=chunk.source, domain="code", repo=repo, max_bytes=max_file_bytes)
        path = item.path if isinstance(item, Drop) else rel
        rec: dict[str, Any] = {"id": doc_id(chunk.source, repo, rel), "source": chunk.source, "repo": repo,
                               "path": path, "language": None, "text": None}
        if isinstance(item, Drop):
            rec["skip_reason"] = item.reason
        else:
            rec["text"] = item.text
            rec["language"] = guess_language(rel, item.text.encode("utf-8", "surrogatepass"))
        yield rec


def _read_parquet(chunk: Chunk, text_field: str) -> Iterator[dict[str, Any]]:
    if chunk.items and isinstance(chunk.items[0], str):
        yield {"text": None, "path": chunk.path, "skip_reason": "unreadable Parquet"}
        return
    try:
        pf = pq.ParquetFile(chunk.path)
        names = set(pf.schema_arrow.names)
        if text_field not in names:
            yield {"text": None, "path": chunk.path, "skip_reason": f"Parquet without a {text_field!r} column"}
            return
        cols = [c for c in ("id", "source", "repo", "path", "language") if c in names] + [text_field]
        table = pf.read_row_group(chunk.items[0], columns=cols)
    except Exception as exc:
        yield {"text": None, "path": chunk.path, "skip_reason": f"unreadable Parquet ({type(exc).__name__})"}
        return
    base = os.path.basename(chunk.path)
    for i, row in enumerate(table.to_pylist()):
        text = row.pop(text_field)
        row["text"] = text if isinstance(text, str) else None
        if row["text"] is None:
            row["skip_reason"] = "no text"
        row.setdefault("source", chunk.source)
        if not row.get("path") and not row.get("id"):
            row["path"] = f"{base}#rg{chunk.items[0]}:{i}"
        yield row


def _read_jsonl(chunk: Chunk, text_field: str) -> Iterator[dict[str, Any]]:
    base = os.path.basename(chunk.path)
    try:
        fh = io.TextIOWrapper(open_uri(chunk.path, "rb"), encoding="utf-8", errors="replace")
    except Exception as exc:
        yield {"text": None, "path": chunk.path, "skip_reason": f"unreadable JSONL ({type(exc).__name__})"}
        return
    with fh:
        try:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    yield {"text": None, "path": f"{base}:{lineno}", "skip_reason": "invalid JSON line"}
                    continue
                if not isinstance(obj, dict):
                    yield {"text": None, "path": f"{base}:{lineno}", "skip_reason": "JSON line is not an object"}
                    continue
                text = obj.get(text_field)
                rec = {k: obj.get(k) for k in ("id", "source", "repo", "path", "language") if obj.get(k) is not None}
                rec["text"] = text if isinstance(text, str) else None
                if rec["text"] is None:
                    rec["skip_reason"] = f"no {text_field!r} field"
                rec.setdefault("source", chunk.source)
                if "path" not in rec and "id" not in rec:
                    rec["path"] = f"{base}:{lineno}"
                yield rec
        except (OSError, EOFError) as exc:  # truncated compressed file
            yield {"text": None, "path": chunk.path, "skip_reason": f"truncated input ({type(exc).__name__})"}
