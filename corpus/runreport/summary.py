"""Every figure of the run report, gathered from a finished output folder into one dict (summary.json).

It reads what the run already wrote: reports/*.json, each stage's `_SUCCESS.json`, the shard manifest,
and a few small columns of the parts (language, size, repo, source, path, id; the quarantine's
`detail`) and the decont stage's hit files. It never reads a `text` column or opens a shard, so it
costs a small fraction of the run (`make bench`, section `report`). It holds O(languages + sources +
parts) state, plus one Arrow row per dedup cluster (~50 bytes), 8 bytes per distinct web host and one
counter per contaminated benchmark item.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from corpus import storage
from corpus.layout import (
    DROPPED_DIR,
    MANIFEST,
    REPORTS_DIR,
    RUN_REPORT,
    STAGE_ORDER,
    STATS_REPORT,
    SUCCESS,
    SUMMARY_REPORT,
)

FORMAT = "coder-corpus-report/1"

# Run order of the default graph: used only for an output whose stats.json predates its `order` key.
# From this stage on, a row is a repository sample (its files concatenated), not a file.
REPO_SAMPLES = "repo_samples"
DUPLICATE_PREFIX = "duplicate of "  # dedup's drop detail: "duplicate of <id of the copy kept>"
EXAMPLE_CLUSTERS = 3
EXAMPLE_MEMBERS = 5
NO_LANGUAGE = "(none)"
TOP_ITEMS = 50  # benchmark items listed with their hits (all are in decontamination.json)


def build_summary(out_uri: str) -> dict[str, Any]:
    """The report's figures for the run in `out_uri` (local folder or object-store URI)."""
    started = time.perf_counter()
    out_uri = storage.normalize(out_uri)
    reports = storage.join(out_uri, REPORTS_DIR)
    stats = _read_json(storage.join(reports, STATS_REPORT)) or {"stages": {}}
    order = stats.get("order") or [n for n in STAGE_ORDER if n in stats["stages"]] + sorted(
        set(stats["stages"]) - set(STAGE_ORDER))
    names = [name for name in order if name in stats["stages"]]
    # Each stage's parts as its _SUCCESS.json names them: no folder listing (a million parts is a
    # thousand LIST requests on an object store), and kept out of summary.json (O(parts)).
    done = {name: _read_json(storage.join(out_uri, name, SUCCESS)) or {} for name in names}
    parts = {name: [storage.join(out_uri, name, p) for p in done[name].get("parts", []) if p.endswith(".parquet")] for name in names}
    stages = [_stage_row(name, stats["stages"][name], done[name]) for name in names]
    doc_stages = [name for name in names if parts[name] and _has_columns(parts[name][0], ("language", "size"))]
    manifest = _read_json(storage.join(out_uri, "shards", MANIFEST))
    summary: dict[str, Any] = {
        "format": FORMAT,
        "output": out_uri,
        "run": _read_json(storage.join(reports, RUN_REPORT)) or {},
        "stages": stages,
        "languages": _languages(parts, doc_stages, manifest),
        "inputs": _inputs(parts, doc_stages),
        # Secrets and personal data replaced by the redact stage, by kind (docs/safety.md).
        "redaction": dict(stats["stages"].get("redact", {}).get("counts", {})),
        "licenses": _licenses(parts, [n for n in doc_stages if n != REPO_SAMPLES and names.index(n) < names.index(REPO_SAMPLES)]
                              if REPO_SAMPLES in names else [n for n in doc_stages if n != "shards"]),
        "dedup": {s["name"]: _dedup(out_uri, s, parts[s["name"]]) for s in stages if s["name"].startswith("dedup")},
        "decont": _decont(reports),
        "recall": _recall(reports),
        # repo_samples `order: dependency` (docs/treesitter.md): per language, imports resolved and in order
        "dependency_order": (_read_json(storage.join(out_uri, "repo_samples", "imports.json")) or {}).get("languages", {}),
        "mixture": (manifest or {}).get("mixture", {}),
        "shards": _shards(out_uri, manifest) if manifest else {},
        "warnings": list((manifest or {}).get("warnings", [])),
    }
    summary["build_seconds"] = round(time.perf_counter() - started, 3)
    return summary


# ----------------------------------------------------------------------------------------- stages


def _read_json(uri: str) -> Any:
    return storage.read_json(uri) if storage.exists(uri) else None


def _stage_row(name: str, st: dict[str, Any], done: dict[str, Any]) -> dict[str, Any]:
    """One row of the funnel: records and bytes in / kept / dropped by reason, time and CPU."""
    b = st.get("bytes", {})
    return {
        "name": name,
        "in": st["in"], "kept": st["kept"], "out": st.get("out", st["kept"]),
        "dropped": dict(st.get("dropped", {})),
        "bytes_in": b.get("in", 0), "bytes_kept": b.get("kept", 0), "bytes_dropped": dict(b.get("dropped", {})),
        "seconds": done.get("seconds"), "task_cpu_seconds": done.get("task_cpu_seconds"),
        **({"counts": dict(st["counts"])} if st.get("counts") else {}),
    }


def _licenses(parts: dict[str, list[str]], file_stages: list[str]) -> dict[str, Any]:
    """Files and bytes by licence (SPDX expression; "(none)" when none was found) in the last stage whose rows
    are still files, repository files only; reads the `license`, `repo` and `size` columns."""
    stage = next((n for n in reversed(file_stages) if parts[n] and _has_columns(parts[n][0], ("license", "repo", "size"))), None)
    if stage is None:
        return {}
    files: dict[str, int] = {}
    size: dict[str, int] = {}
    for t in _columns(parts[stage], ["license", "repo", "size"]):
        t = t.filter(pc.is_valid(t.column("repo")))
        for lic, n, b in zip(t.column("license").to_pylist(), [1] * t.num_rows, t.column("size").to_pylist()):
            key = lic or NO_LANGUAGE
            files[key] = files.get(key, 0) + n
            size[key] = size.get(key, 0) + (b or 0)
    return {"stage": stage, "files": dict(sorted(files.items(), key=lambda kv: -kv[1])), "bytes": size}


def _has_columns(part: str, columns: Iterable[str]) -> bool:
    names = set(storage.parquet_file(part).schema_arrow.names)
    return all(c in names for c in columns)


def _columns(parts: list[str], columns: list[str]) -> Iterable[pa.Table]:
    """The named columns of each part, one part at a time (never the text)."""
    for uri in parts:
        yield storage.parquet_file(uri).read(columns=columns)


def _language_counts(parts: list[str]) -> dict[str, dict[str, int]]:
    """{language: {"files", "bytes"}} over the parts, aggregated in Arrow one part at a time."""
    out: dict[str, dict[str, int]] = {}
    for t in _columns(parts, ["language", "size"]):
        lang = pc.fill_null(t["language"], NO_LANGUAGE)
        agg = pa.table({"language": lang, "size": t["size"]}).group_by("language").aggregate([("size", "sum"), ("size", "count")])
        for row in agg.to_pylist():
            slot = out.setdefault(row["language"], {"files": 0, "bytes": 0})
            slot["files"] += row["size_count"]
            slot["bytes"] += row["size_sum"] or 0
    return out


def _languages(parts: dict[str, list[str]], doc_stages: list[str], manifest: dict | None) -> dict[str, Any]:
    """Files and bytes per language after language detection and at the last stage whose rows are
    files (before repo_samples), the difference as dropped, and shard tokens per language (the
    manifest counts each file once, also inside repository samples)."""
    if not doc_stages:
        return {}
    first = "langid" if "langid" in doc_stages else doc_stages[0]
    # The last stage whose rows are still files: after repo_samples a row is a whole repository.
    file_stages = doc_stages[: doc_stages.index(REPO_SAMPLES)] if REPO_SAMPLES in doc_stages else doc_stages
    last = file_stages[-1] if file_stages else doc_stages[-1]
    detected = _language_counts(parts[first])
    kept = _language_counts(parts[last])
    tokens = (manifest or {}).get("file_language_tokens", {})
    rows = {}
    for lang in sorted(set(detected) | set(kept), key=lambda x: -detected.get(x, kept.get(x, {})).get("bytes", 0)):
        d, k = detected.get(lang, {"files": 0, "bytes": 0}), kept.get(lang, {"files": 0, "bytes": 0})
        rows[lang] = {"files_detected": d["files"], "bytes_detected": d["bytes"], "files_kept": k["files"],
                      "bytes_kept": k["bytes"], "files_dropped": max(0, d["files"] - k["files"]),
                      "bytes_dropped": max(0, d["bytes"] - k["bytes"]),
                      "tokens": tokens.get(lang if lang != NO_LANGUAGE else "", 0)}
    return {"detected_at": first, "kept_at": last, "by_language": rows,
            "kept_languages": sum(1 for lang, r in rows.items() if r["files_kept"] and lang != NO_LANGUAGE),
            "in_shards": sum(1 for lang, r in rows.items() if r["tokens"] and lang != NO_LANGUAGE)}


def _inputs(parts: dict[str, list[str]], doc_stages: list[str]) -> dict[str, Any]:
    """Repositories, web pages and web hosts met at ingest and kept at the last document stage.
    A repository's files sit in one part after repo_samples, so per-part distinct counts add up there;
    at ingest a repository split over parts counts once per part (said by `repositories_exact`)."""
    out: dict[str, Any] = {}
    for label, stage in (("ingested", doc_stages[0] if doc_stages else None), ("kept", doc_stages[-1] if doc_stages else None)):
        if stage is None:
            continue
        repos = web = 0
        host_keys: list[np.ndarray] = []  # 64-bit hashes of each part's distinct hosts: 8 bytes a host
        by_source: Counter = Counter()
        for t in _columns(parts[stage], ["repo", "source", "path"]):
            repos += pc.count_distinct(t["repo"], mode="only_valid").as_py()
            pages = t.filter(pc.is_null(t["repo"]))
            web += pages.num_rows
            found = pc.extract_regex(pages["path"].combine_chunks(), r"^[a-zA-Z]+://(?P<host>[^/:?#]+)")
            hosts = [h for h in pc.unique(found.field("host")).to_pylist() if h]
            host_keys.append(np.fromiter((xxhash.xxh64_intdigest(h) for h in hosts), dtype=np.uint64, count=len(hosts)))
            for row in t.group_by("source").aggregate([("source", "count")]).to_pylist():
                by_source[row["source"]] += row["source_count"]
        n_hosts = len(np.unique(np.concatenate(host_keys))) if host_keys else 0
        out[label] = {"stage": stage, "repositories": repos, "web_pages": web, "web_hosts": n_hosts,
                      "documents_by_source": dict(by_source)}
    if "kept" in out:
        out["kept"]["repositories_exact"] = REPO_SAMPLES in doc_stages[: doc_stages.index(out["kept"]["stage"]) + 1]
    return out


# ------------------------------------------------------------------------------------------ dedup


def _dedup(out_uri: str, stage: dict[str, Any], parts: list[str]) -> dict[str, Any]:
    """Duplicate rate, cluster-size histogram and the biggest clusters, from the quarantine's
    "duplicate of <id>" details (one row per dropped copy; the kept copy is the cluster's id).
    Each part is reduced to (keeper, count) before anything is combined, so what stays in memory is
    one row per cluster, never one per dropped copy; the example members are a second, filtered pass."""
    dropped = sum(stage["dropped"].values())
    result: dict[str, Any] = {"in": stage["in"], "dropped": dropped, "duplicate_rate": round(dropped / stage["in"], 6) if stage["in"] else 0.0,
                              "dropped_by_reason": stage["dropped"], "bytes_dropped": sum(stage["bytes_dropped"].values())}
    drop_uris = [storage.join(out_uri, stage["name"], DROPPED_DIR, p)
                 for p in storage.find(storage.join(out_uri, stage["name"], DROPPED_DIR)) if p.endswith(".parquet")]
    counts = []
    for t in _columns(drop_uris, ["detail"]):
        keeper = _keepers(t)
        if len(keeper):
            counts.append(pa.table({"keeper": keeper}).group_by("keeper").aggregate([("keeper", "count")]))
    if not counts:
        return {**result, "clusters": 0, "cluster_sizes": {}, "examples": []}
    per_keeper = pa.concat_tables(counts).group_by("keeper").aggregate([("keeper_count", "sum")])
    sizes = Counter(n + 1 for n in per_keeper["keeper_count_sum"].to_pylist())  # + the kept copy
    top = per_keeper.sort_by([("keeper_count_sum", "descending"), ("keeper", "ascending")]).slice(0, EXAMPLE_CLUSTERS).to_pylist()
    top_ids = [r["keeper"] for r in top]
    members: dict[str, list[dict[str, Any]]] = {k: [] for k in top_ids}
    wanted = pa.array(top_ids, type=pa.string())
    for t in _columns(drop_uris, ["detail", "repo", "path"]):
        t = t.append_column("keeper", _keepers(t, keep_all=True))
        for row in t.filter(pc.is_in(t["keeper"], value_set=wanted)).to_pylist():
            if len(members[row["keeper"]]) < EXAMPLE_MEMBERS:
                members[row["keeper"]].append({"repo": row["repo"], "path": row["path"]})
    where = _find_docs(parts, top_ids)
    examples = [{"size": r["keeper_count_sum"] + 1, "kept": where.get(r["keeper"], {"id": r["keeper"]}), "dropped": members[r["keeper"]]}
                for r in top]
    return {**result, "clusters": per_keeper.num_rows,
            "cluster_sizes": {str(k): v for k, v in sorted(sizes.items())}, "examples": examples}


def _keepers(t: pa.Table, keep_all: bool = False) -> pa.Array:
    """The kept copy's id of each "duplicate of <id>" detail; other rows are left out (keep_all: null)."""
    detail = pc.fill_null(t["detail"].combine_chunks(), "")
    is_dup = pc.starts_with(detail, DUPLICATE_PREFIX)
    ids = pc.utf8_slice_codeunits(detail, len(DUPLICATE_PREFIX))
    return pc.if_else(is_dup, ids, pa.scalar(None, pa.string())) if keep_all else ids.filter(is_dup)


def _find_docs(parts: list[str], ids: list[str]) -> dict[str, dict[str, Any]]:
    """repo/path of a few documents by id, reading only the id/repo/path columns."""
    found: dict[str, dict[str, Any]] = {}
    if not ids:
        return found
    wanted = pa.array(ids, type=pa.string())
    for t in _columns(parts, ["id", "repo", "path"]):
        for row in t.filter(pc.is_in(t["id"], value_set=wanted)).to_pylist():
            found[row["id"]] = row
        if len(found) == len(ids):
            break
    return found


# --------------------------------------------------------------------------- decont, recall, shards


def _decont(reports: str) -> dict[str, Any]:
    r = _read_json(storage.join(reports, "decontamination.json"))
    if not r:
        return {}
    benchmarks = {name: {k: b.get(k, 0) for k in ("items", "items_indexed", "items_matched", "documents", "hits")}
                  | {"matched_items": list(b.get("matched_items", []))[:50]} for name, b in r.get("benchmarks", {}).items()}
    items, complete = _hits_per_item(reports, r)
    return {"benchmarks": benchmarks, "items": items[:TOP_ITEMS], "items_total": len(items), "items_complete": complete,
            "missing": r.get("missing", []), "documents": r.get("documents", {}),
            "report": "decontamination.html", "markdown": "decontamination.md"}


def _hits_per_item(reports: str, r: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """Hits and contaminated documents per benchmark item, the most hit first, and whether they are
    complete. decontamination.json lists at most 20,000 hits; the decont stage keeps all of them in
    OUT/decont/_hits/*.jsonl, read here line by line (state: one counter per item and its documents,
    which are few: a contaminated document is dropped)."""
    hits_dir = storage.join(storage.parent(reports), "decont", "_hits")
    files = sorted(p for p in storage.find(hits_dir) if p.endswith(".jsonl")) if storage.exists(hits_dir) else []
    lines: Iterable[dict[str, Any]]
    if files:
        lines = (json.loads(line) for p in files for line in storage.read_text(storage.join(hits_dir, p)).splitlines() if line)
    else:
        lines = r.get("hits", [])
    per_item: dict[tuple[str, str], list[Any]] = {}
    seen = 0
    for h in lines:
        slot = per_item.setdefault((h["benchmark"], str(h["item"])), [0, set()])
        slot[0] += 1
        slot[1].add(h.get("doc"))
        seen += 1
    total = sum(b.get("hits", 0) for b in r.get("benchmarks", {}).values())
    items = sorted(({"benchmark": b, "item": i, "hits": n, "documents": len(docs)} for (b, i), (n, docs) in per_item.items()),
                   key=lambda x: (-x["hits"], x["benchmark"], x["item"]))
    return items, seen >= total


def _recall(reports: str) -> dict[str, Any]:
    """Per iteration: pages recalled and their domains (hosts) new to that iteration, and the folds'
    held-out precision and balanced accuracy (mean over folds)."""
    r = _read_json(storage.join(reports, "recall.json"))
    if not r:
        return {}
    seen: dict[str, set] = {}
    rows = []
    for it in r.get("iterations", []):
        new_domains = {}
        for label, domains in it.get("domains", {}).items():
            before = seen.setdefault(label, set())
            new_domains[label] = len(set(domains) - before)
            before.update(domains)
        folds = [f.get("heldout", {}) for f in it.get("train", {}).values()]
        folds = [f for f in folds if f.get("examples")]
        precision: dict[str, float] = {}
        for label in sorted({k for f in folds for k in f.get("per_label_precision", {})}):
            vals = [f["per_label_precision"][label] for f in folds if label in f.get("per_label_precision", {})]
            precision[label] = round(sum(vals) / len(vals), 4)
        rows.append({"iteration": it.get("iteration"), "recalled_pages": it.get("recalled_pages", {}),
                     "recalled_tokens": it.get("recalled_tokens", {}), "new_domains": new_domains,
                     "domains": {k: len(v) for k, v in it.get("domains", {}).items()},
                     "heldout_precision": precision,
                     "heldout_balanced_accuracy": round(sum(f["balanced_accuracy"] for f in folds) / len(folds), 4) if folds else None,
                     "heldout_examples": sum(f["examples"] for f in folds)})
    pe = r.get("page_eval") or {}
    # Labelled real pages scored with the final model (corpus/stages/recall/page_eval.py): the classifier on
    # pages, next to the held-out seed passages above.
    pages = {k: pe[k] for k in ("pages", "threshold", "evidence", "per_class", "splits", "by_source", "missing") if k in pe} if pe else {}
    return {"iterations": rows, "final_domains": r.get("final_domains", {}), "web_pages": r.get("web_pages"), "page_eval": pages}


def _shards(out_uri: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """Tokens by domain, file language and source, and the FIM share: all from the manifest (each
    shard's entry counts its own tokens by source), so no shard is opened."""
    totals = manifest.get("totals", {})
    by_source: Counter = Counter()
    for shard in manifest.get("shards", []):
        by_source.update(shard.get("tokens_by_source", {}))
    fim = manifest.get("fim_examples", {})
    return {
        "tokens": totals.get("tokens", 0), "train_tokens": totals.get("train_tokens", 0),
        "eval_tokens": totals.get("eval_tokens", 0), "rows": totals.get("rows", 0), "shards": len(manifest.get("shards", [])),
        "seq_len": manifest.get("seq_len"), "padded_tokens": totals.get("padded_tokens", 0),
        "tokens_by_domain": manifest.get("mixture", {}).get("achieved_tokens", {}),
        "tokens_by_language": manifest.get("file_language_tokens", {}),
        "tokens_by_source": dict(by_source),
        "fim": {"rate": manifest.get("fim", {}).get("rate"), "mode": manifest.get("fim", {}).get("mode"),
                "examples": fim.get("made", 0), "code_chunks": fim.get("fim_domain_chunks", 0),
                "share_of_code_chunks": fim.get("share_of_fim_domain_chunks", 0.0),
                "whole_in_a_row": fim.get("complete_share", 0.0)},
    }


def write_summary(out_uri: str, summary: dict[str, Any]) -> str:
    uri = storage.join(storage.normalize(out_uri), REPORTS_DIR, SUMMARY_REPORT)
    storage.write_json(uri, summary)
    return uri


def dumps(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2, sort_keys=True)
