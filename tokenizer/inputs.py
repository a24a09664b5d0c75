"""Read training text / document records from Parquet parts, JSONL (optionally .gz) or a folder of text files.

Bad files and lines are skipped with a logged reason, never raised.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

log = logging.getLogger(__name__)

RECORD_COLUMNS = ("id", "text", "source", "domain", "language")


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(path)
    def wanted(p: Path) -> bool:
        parts = p.relative_to(path).parts
        return p.is_file() and not any(x.startswith(".") or x == "__pycache__" for x in parts)

    return sorted(p for p in path.rglob("*") if wanted(p))


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        return "jsonl"
    return "text"


def iter_records(path: str | Path, text_column: str = "text") -> Iterator[dict[str, Any]]:
    """Records with at least `text`; Parquet/JSONL rows keep their other fields, text files get an id."""
    root = Path(path)
    for f in _files(root):
        kind = _kind(f)
        try:
            if kind == "parquet":
                yield from _parquet_records(f, text_column)
            elif kind == "jsonl":
                yield from _jsonl_records(f, text_column)
            else:
                raw = f.read_bytes()
                if b"\0" in raw[:8192]:
                    log.debug("skip %s: binary", f)
                    continue
                rel = f.relative_to(root).as_posix() if root.is_dir() else f.name
                yield {"id": rel, "text": raw.decode("utf-8"), "path": rel}
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            log.warning("skip %s: %s", f, exc)


def _parquet_records(path: Path, text_column: str) -> Iterator[dict[str, Any]]:
    pf = pq.ParquetFile(path)
    names = set(pf.schema_arrow.names)
    if text_column not in names:
        log.warning("skip %s: no %r column", path, text_column)
        return
    cols = [c for c in RECORD_COLUMNS if c in names and c != "text"] + [text_column]
    for batch in pf.iter_batches(batch_size=1024, columns=cols):
        for row in batch.to_pylist():
            row["text"] = row.pop(text_column)
            yield row


def _jsonl_records(path: Path, text_column: str) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                log.info("skip %s line %d: not JSON", path, n + 1)
                continue
            if isinstance(obj, dict) and isinstance(obj.get(text_column), str):
                obj["text"] = obj.pop(text_column)
                obj.setdefault("id", f"{path.name}:{n}")
                yield obj


def iter_texts(path: str | Path, text_column: str = "text", max_bytes: int | None = None) -> Iterator[str]:
    """Texts for tokenizer training, stopping after about `max_bytes` UTF-8 bytes."""
    seen = 0
    for rec in iter_records(path, text_column):
        text = rec.get("text")
        if not isinstance(text, str) or not text:
            continue
        yield text
        seen += len(text.encode("utf-8", "surrogatepass"))
        if max_bytes is not None and seen >= max_bytes:
            return
