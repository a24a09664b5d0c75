"""`corpus optout OUT --list FILE`: remove opted-out repositories and web hosts from a finished run's shards.

The list has ingest's opt-out format (corpus/ingest/optout.py: `owner/name`, `owner/*`, web hosts) and is
matched by the same `OptOut` class against the `repo` and `path` columns of the shards' provenance files
(`OUT/shards/__provenance/*.parquet`). Only the shard files holding a piece of a listed document are
rewritten; every other shard file keeps its bytes.

A rewritten file drops the listed documents' segments and packs the rest again, in their order, with the
packer of the shards stage: every token of every other document is kept (a FIM example stays whole in
one row, a plain chunk split over rows is joined and cut again), and only the file's last row gets
padding. Dropping whole rows instead would lose the other documents that share a row with a listed one
(repository samples fill rows with pieces of several chunks); no token of a listed document is left,
since every segment of every row has a provenance row.

Crash safety: the new shard and provenance files and the new manifest are first written under
`OUT/shards/_optout/` with a plan naming them; then they are copied into place, the manifest last, and
the folder removed. A killed command finishes that plan on its next start before anything else.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus import storage
from corpus.ingest.optout import OptOut
from corpus.layout import MANIFEST, REPORTS_DIR
from tokenizer.config import ShardConfig
from tokenizer.provenance import provenance_bytes, repack_without
from tokenizer.shards import shard_bytes, shard_entry

STAGING = "_optout"
PLAN = "plan.json"
SHARDS_REPORT = "shards.json"
OPTOUT_REPORT = "optout.json"
MATCH_COLUMNS = ["shard", "row", "segment", "chunk_id", "rep", "doc_id", "source", "domain", "repo", "path"]


def _matches(optout: OptOut, repos: list[str | None], paths: list[str | None]) -> tuple[np.ndarray, list[str | None]]:
    """Per provenance row: listed or not, and the list entry that matched."""
    entries = [optout.entry(r, p or "") for r, p in zip(repos, paths)]
    return np.array([e is not None for e in entries], dtype=bool), entries


def _finish(shards_uri: str) -> bool:
    """Complete a plan a killed command left: copy each staged file into place, the manifest last."""
    staging = storage.join(shards_uri, STAGING)
    plan_uri = storage.join(staging, PLAN)
    if not storage.exists(plan_uri):
        if storage.exists(staging):
            storage.remove(staging, recursive=True)  # killed before its plan was complete: nothing was moved
        return False
    plan = storage.read_json(plan_uri)
    for name in plan["files"]:
        storage.copy(storage.join(staging, *name.split("/")), storage.join(shards_uri, *name.split("/")))
    for name in plan["reports"]:
        storage.copy(storage.join(staging, "reports", name), storage.join(plan["reports_uri"], name))
    storage.copy(storage.join(staging, MANIFEST), storage.join(shards_uri, MANIFEST))
    for name in plan.get("delete", []):  # after the manifest stops listing them
        storage.remove(storage.join(shards_uri, name))
    storage.remove(staging, recursive=True)
    return True


def optout_run(out: str, optout: OptOut) -> dict[str, Any]:
    """Remove the listed repositories and hosts from OUT's shards; returns the report (also written to
    OUT/reports/optout.json)."""
    started = time.time()
    out = storage.normalize(out)
    shards_uri = storage.join(out, "shards")
    reports_uri = storage.join(out, REPORTS_DIR)
    _finish(shards_uri)
    manifest = storage.read_json(storage.join(shards_uri, MANIFEST))
    if "provenance" not in manifest:
        raise ValueError(f"{shards_uri}: the manifest lists no provenance files (shards written before provenance); rerun the shards stage")
    seq_len, pad = int(manifest["seq_len"]), int(manifest["special_tokens"]["pad"])
    config = ShardConfig(seq_len=seq_len, rows_per_shard=max(1, max((e["rows"] for e in manifest["shards"]), default=1)),
                         row_group_rows=int(manifest.get("row_group_rows", 64)))
    entries = {e["path"]: i for i, e in enumerate(manifest["shards"])}
    prov_entries = {e["path"]: i for i, e in enumerate(manifest["provenance"])}
    staging = storage.join(shards_uri, STAGING)
    staged: list[str] = []
    removed_docs: dict[str, set] = defaultdict(set)  # list entry -> document ids
    removed_copies: Counter = Counter()  # (split)_documents / (split)_fim_documents removed
    removed_tokens: Counter = Counter()
    pad_change = 0
    rewritten: list[str] = []
    deleted: list[str] = []
    scanned = 0
    for prov_name in [e["path"] for e in manifest["provenance"]]:
        uri = storage.join(shards_uri, *prov_name.split("/"))
        head = storage.read_table(uri, columns=MATCH_COLUMNS)
        scanned += head.num_rows
        hit, which = _matches(optout, head.column("repo").to_pylist(), head.column("path").to_pylist())
        if not hit.any():
            continue
        prov = storage.read_table(uri)
        doc_ids = head.column("doc_id").to_pylist()
        for i in np.flatnonzero(hit):
            removed_docs[which[i]].add(doc_ids[i])
        shard_names = prov.column("shard").to_pylist()
        touched = sorted({shard_names[i] for i in np.flatnonzero(hit)})
        kept_tables = []
        for name in dict.fromkeys(shard_names):  # the file's shards in their order
            mask = pc.equal(prov.column("shard"), name)
            part = prov.filter(mask)
            if name not in touched:
                kept_tables.append(part)
                continue
            part_hit = hit[np.asarray(mask)]
            old_entry = manifest["shards"][entries[name]]
            split = old_entry["split"]
            shard = storage.read_table(storage.join(shards_uri, name))
            rows, new_prov = repack_without(shard, part, part_hit, seq_len, pad)
            if rows:
                data = shard_bytes(rows, config)
                storage.write_bytes(storage.join(staging, name), data)
                staged.append(name)
                rewritten.append(name)
                new_entry = shard_entry(name, split, rows, seq_len, storage_sha(data))
            else:  # every segment was a listed document's: the file goes (readers take the list from the manifest)
                deleted.append(name)
                new_entry = {**shard_entry(name, split, rows, seq_len, ""), "deleted": True}
            removed_tokens[split] += old_entry["tokens"] - new_entry["tokens"]
            pad_change += (len(rows) * seq_len - new_entry["tokens"]) - (old_entry["rows"] * seq_len - old_entry["tokens"])
            # A copy is counted once however many rows it spans: its first segment (start 0).
            gone = part.filter(pa.array(part_hit)).to_pydict()
            for start, fim in zip(gone["start"], gone["fim"]):
                if start == 0:
                    removed_copies[f"{split}_documents"] += 1
                    removed_copies[f"{split}_fim_documents"] += fim != "none"
            manifest["shards"][entries[name]] = new_entry
            kept_tables.append(new_prov)
        data = provenance_bytes(pa.concat_tables(kept_tables))
        storage.write_bytes(storage.join(staging, *prov_name.split("/")), data)
        staged.append(prov_name)
        entry = manifest["provenance"][prov_entries[prov_name]]
        entry.update(rows=sum(t.num_rows for t in kept_tables), sha256=storage_sha(data))
    report = {"list_entries": len(optout), "matched": {e: len(d) for e, d in sorted(removed_docs.items())},
              "documents_removed": sum(len(d) for d in removed_docs.values()), "copies_removed": dict(sorted(removed_copies.items())),
              "tokens_removed": dict(sorted(removed_tokens.items())), "files_rewritten": rewritten, "files_deleted": deleted,
              "files_kept": len(manifest["shards"]) - len(rewritten) - len(deleted), "provenance_rows_scanned": scanned}
    manifest["shards"] = [e for e in manifest["shards"] if not e.get("deleted")]
    if not rewritten and not deleted:
        report["seconds"] = round(time.time() - started, 3)
        return report
    _update_totals(manifest, removed_copies, pad_change, report)
    storage.write_json(storage.join(staging, MANIFEST), manifest)
    shards_report_uri = storage.join(reports_uri, SHARDS_REPORT)
    reports = []
    if storage.exists(shards_report_uri):
        shards_report = storage.read_json(shards_report_uri)
        shards_report.update(totals=manifest["totals"], optout=manifest["optout"])
        storage.write_json(storage.join(staging, "reports", SHARDS_REPORT), shards_report)
        reports.append(SHARDS_REPORT)
    storage.write_json(storage.join(staging, "reports", OPTOUT_REPORT), report)
    reports.append(OPTOUT_REPORT)
    storage.write_json(storage.join(staging, PLAN), {"files": staged, "delete": deleted, "reports": reports, "reports_uri": reports_uri})
    _finish(shards_uri)
    report["seconds"] = round(time.time() - started, 3)
    return report


def storage_sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _update_totals(manifest: dict[str, Any], removed_copies: Counter, pad_change: int, report: dict[str, Any]) -> None:
    """The manifest's totals from its shard entries (rows, tokens, per split and language), the document
    counts less the copies removed, and an `optout` record of what was removed (appended per command)."""
    shards = manifest["shards"]
    totals = manifest["totals"]
    by_language: Counter = Counter()
    for e in shards:
        if e["split"] == "train":
            by_language.update(e["tokens_by_language"])
    totals.update(rows=sum(e["rows"] for e in shards), tokens=sum(e["tokens"] for e in shards),
                  train_tokens=sum(e["tokens"] for e in shards if e["split"] == "train"),
                  eval_tokens=sum(e["tokens"] for e in shards if e["split"] != "train"),
                  padded_tokens=totals.get("padded_tokens", 0) + pad_change,
                  train_tokens_by_language=dict(sorted((k, v) for k, v in by_language.items() if v)))
    docs = totals.get("documents", {})
    for k, n in removed_copies.items():
        if k in docs:
            docs[k] -= n
    record = {k: report[k] for k in ("matched", "documents_removed", "copies_removed", "tokens_removed", "files_rewritten", "files_deleted")}
    manifest.setdefault("optout", []).append(record)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("optout", help="remove opted-out repositories and hosts from a finished run's shards "
                                             "(rewrites only the shard files that held them)")
    p.add_argument("out", metavar="OUT", help="a finished run's output folder (or s3://...)")
    p.add_argument("--list", required=True, dest="list_", metavar="FILE",
                   help="opt-out list, ingest's format: owner/name, owner/*, web hosts; one per line (a path or URI)")
    p.set_defaults(func=run_optout)


def run_optout(args: argparse.Namespace) -> int:
    out = storage.normalize(args.out)
    if not storage.exists(storage.join(out, "shards", MANIFEST)):
        print(f"error: {args.out}: no finished shards stage (no shards/{MANIFEST})", file=sys.stderr)
        return 2
    try:
        optout = OptOut.load(args.list_)
    except (OSError, FileNotFoundError) as exc:
        print(f"error: --list {args.list_}: {exc}", file=sys.stderr)
        return 2
    try:
        report = optout_run(out, optout)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, ensure_ascii=False))
    return 0
