"""Pure scanning: records in, hits and counts out. The CLI and the pipeline's Ray stage both call this.

A record is any mapping with a `text` (str) and optionally id, path, source, repo, language (the
document schema of docs/contracts.md, a repo document or a web page all fit). Counts are plain dicts
so that per-worker results merge with `merge_counts` and serialise to JSON unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from decont.index import DecontIndex

if TYPE_CHECKING:
    import pyarrow as pa


def new_counts() -> dict[str, Any]:
    return {
        "documents": {"scanned": 0, "contaminated": 0, "bytes": 0, "skipped": 0},
        "skipped": {},  # reason -> count
        "by_source": {},  # source -> {scanned, contaminated, bytes}
        "by_language": {},
        "by_benchmark": {},  # benchmark -> {documents, hits, items: [ids]}
    }


def _bump(table: dict[str, dict[str, int]], key: str, contaminated: bool, size: int) -> None:
    row = table.setdefault(key, {"scanned": 0, "contaminated": 0, "bytes": 0})
    row["scanned"] += 1
    row["bytes"] += size
    row["contaminated"] += int(contaminated)


def skip(counts: dict[str, Any], reason: str) -> None:
    """Count a record that could not be scanned (binary file, no text, unreadable...)."""
    counts["documents"]["skipped"] += 1
    counts["skipped"][reason] = counts["skipped"].get(reason, 0) + 1


def doc_name(record: Mapping[str, Any]) -> str:
    """How a document is named in hits: its path (with repo) when known, else its id."""
    path = record.get("path")
    repo = record.get("repo")
    if path:
        return f"{repo}/{path}" if repo else str(path)
    return str(record.get("id") or "")


def scan_record(index: DecontIndex, record: Mapping[str, Any], counts: dict[str, Any],
                normalized: DecontIndex | None = None) -> list[dict[str, Any]]:
    """Scan one record, update `counts` in place, return its hits (one per benchmark item matched).
    With `normalized` (decont.normalize), a file the word rule leaves clean is also tested on its
    normalised code; such hits have field `normalized` and count in documents.normalized_only."""
    text = record.get("text")
    if not isinstance(text, str):
        skip(counts, record.get("skip_reason") or "no text")
        return []
    found = index.match(text)
    if not found and normalized is not None:
        from decont.normalize import normalized_hits  # deferred: off `corpus --help`

        found = normalized_hits(normalized, record)
        counts["documents"]["normalized_only"] = counts["documents"].get("normalized_only", 0) + int(bool(found))
    size = len(text.encode("utf-8", "surrogatepass"))
    docs = counts["documents"]
    docs["scanned"] += 1
    docs["bytes"] += size
    docs["contaminated"] += int(bool(found))
    _bump(counts["by_source"], str(record.get("source") or "unknown"), bool(found), size)
    _bump(counts["by_language"], str(record.get("language") or "unknown"), bool(found), size)
    out: list[dict[str, Any]] = []
    seen_bench: set[str] = set()
    for h in found:
        b = counts["by_benchmark"].setdefault(h.benchmark, {"documents": 0, "hits": 0, "items": []})
        b["hits"] += 1
        b["items"].append(h.item)
        if h.benchmark not in seen_bench:
            b["documents"] += 1
            seen_bench.add(h.benchmark)
        row = {
            "doc": doc_name(record),
            "id": record.get("id"),
            "source": record.get("source"),
            "repo": record.get("repo"),
            "path": record.get("path"),
            "language": record.get("language"),
        }
        row.update(h.to_dict())
        out.append(row)
    return out


def scan_records(index: DecontIndex, records: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Scan records; returns (hits, counts). Pure apart from the CPU it uses."""
    counts = new_counts()
    hits: list[dict[str, Any]] = []
    for rec in records:
        hits.extend(scan_record(index, rec, counts))
    return hits, compact(counts)


def compact(counts: dict[str, Any]) -> dict[str, Any]:
    for b in counts["by_benchmark"].values():
        b["items"] = sorted(set(b["items"]))
    return counts


def merge_counts(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Merge two count dicts (returns a new dict)."""
    out = new_counts()
    for src in (a, b):
        for k, v in src["documents"].items():
            out["documents"][k] = out["documents"].get(k, 0) + v
        for k, v in src["skipped"].items():
            out["skipped"][k] = out["skipped"].get(k, 0) + v
        for table in ("by_source", "by_language"):
            for key, row in src[table].items():
                dst = out[table].setdefault(key, {"scanned": 0, "contaminated": 0, "bytes": 0})
                for k, v in row.items():
                    dst[k] = dst.get(k, 0) + v
        for name, row in src["by_benchmark"].items():
            dst = out["by_benchmark"].setdefault(name, {"documents": 0, "hits": 0, "items": []})
            dst["documents"] += row["documents"]
            dst["hits"] += row["hits"]
            dst["items"] = sorted(set(dst["items"]) | set(row["items"]))
    return out


def filter_table(index: DecontIndex, table: pa.Table, flag_only: bool = False) -> tuple[pa.Table, list[dict[str, Any]], dict[str, Any]]:
    """For a pipeline stage over document-schema batches (Ray Data `map_batches(batch_format="pyarrow")`).

    Returns (table, hits, counts). By default contaminated rows are removed; with `flag_only` every row
    is kept and contaminated rows get `"decont": [{benchmark, item, field, ngram}, ...]` in their `meta`
    JSON (the column is added as "{}" when the table has none).
    """
    import json

    import pyarrow as pa

    counts = new_counts()
    hits: list[dict[str, Any]] = []
    rows = table.to_pylist()
    keep: list[bool] = []
    metas: list[str] = []
    for row in rows:
        found = scan_record(index, row, counts)
        hits.extend(found)
        keep.append(not found)
        if flag_only:
            meta = row.get("meta") or "{}"
            if found:
                try:
                    obj = json.loads(meta)
                except (TypeError, ValueError):
                    obj = {"meta_unparsed": meta}
                if not isinstance(obj, dict):
                    obj = {"meta_unparsed": obj}
                obj["decont"] = [{k: h[k] for k in ("benchmark", "item", "field", "ngram")} for h in found]
                meta = json.dumps(obj, ensure_ascii=False)
            metas.append(meta)
    if flag_only:
        col = pa.array(metas, type=pa.string())
        if "meta" in table.column_names:
            table = table.set_column(table.column_names.index("meta"), table.schema.field("meta"), col)
        else:
            table = table.append_column("meta", col)
        return table, hits, compact(counts)
    return table.filter(pa.array(keep, type=pa.bool_())), hits, compact(counts)
