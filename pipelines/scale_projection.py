"""The README's 60 TB arithmetic, computed from measured costs instead of written by hand.

Every stage's cost (task CPU seconds, storage requests, tasks) is modelled as

    cost = per_mb * MB of ingested text + per_part * ingest parts + fixed

and the three terms come from four runs that `make bench` makes anyway:
- the parts model: the same input with few and with many parts -> per_part (the text is the same, so
  the difference is what more parts cost: task start, Parquet footers, commit records, requests);
- the ~1x and ~4x runs: more text (and a few more parts) -> per_mb, after taking out what their extra
  parts cost at the per_part rate;
- fixed: what is left of the ~1x run (tokenizer and fastText training, Ray's task start per step).

A term measured below zero (noise: timings here move 10-40% between runs) is taken as zero and named
in `clamped`. The largest requests of one task come from the many-parts run as measured: what the
design bounds, so it is not extrapolated. Wall time on N cores assumes the run keeps the cores as busy
as the ~4x run kept this machine's, and adds Ray's start as measured.
"""

from __future__ import annotations

from typing import Any

TARGET_TEXT_MB = 6e7  # 60 TB, all taken as text: an upper bound (binaries are dropped at ingest for ~nothing)
PART_BYTES = 64_000_000  # stages.ingest.part_bytes default
CORES = 1000


def stage_costs(steps: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per stage, from a run's step table (`bench_scale.step_table`: steps are named `stage` or
    `stage:step`): task CPU seconds, requests, tasks and the largest task's requests."""
    out: dict[str, dict[str, float]] = {}
    for step, row in steps.items():
        stage = out.setdefault(step.split(":")[0], {"cpu_s": 0.0, "requests": 0.0, "tasks": 0.0, "max_requests_per_task": 0.0})
        stage["cpu_s"] += float(row.get("task_cpu_s") or 0.0)
        stage["requests"] += float(row["requests"])
        stage["tasks"] += float(row["tasks"])
        stage["max_requests_per_task"] = max(stage["max_requests_per_task"], float(row["max_requests_per_task"]))
    return out


def _terms(few: dict, many: dict, small: dict, big: dict, parts: tuple[float, float, float, float],
           mb: tuple[float, float], key: str) -> tuple[dict[str, float], list[str]]:
    """per_part, per_mb and fixed of one cost; parts = (few, many, small, big) ingest parts."""
    p_few, p_many, p_small, p_big = parts
    mb_small, mb_big = mb
    clamped = []
    per_part = (many[key] - few[key]) / max(1.0, p_many - p_few)
    if per_part < 0:
        per_part, clamped = 0.0, [*clamped, "per_part"]
    per_mb = ((big[key] - small[key]) - per_part * (p_big - p_small)) / max(1e-9, mb_big - mb_small)
    if per_mb < 0:
        per_mb, clamped = 0.0, [*clamped, "per_mb"]
    fixed = max(0.0, small[key] - per_mb * mb_small - per_part * p_small)
    return {"per_mb": per_mb, "per_part": per_part, "fixed": fixed}, clamped


def project(scale: dict[str, Any], parts_model: dict[str, Any], text_mb: float = TARGET_TEXT_MB,
            part_bytes: int = PART_BYTES, cores: int = CORES) -> dict[str, Any]:
    """The costs of a run of `text_mb` MB of text cut into parts of `part_bytes`, per stage and in all,
    from `bench_scale()` (~1x, ~4x) and `bench_parts_model()` results."""
    runs = parts_model["runs"]
    few_key, many_key = min(runs, key=int), max(runs, key=int)
    few, many = runs[few_key], runs[many_key]
    small, big = scale["runs"]["1x"], scale["runs"]["4x"]
    costs = {name: stage_costs(r["steps"]) for name, r in (("few", few), ("many", many), ("small", small), ("big", big))}
    parts = (few["ingest_parts"], many["ingest_parts"], small["ingest_parts"], big["ingest_parts"])
    mb = (small["text_mb"], big["text_mb"])
    target_parts = text_mb * 1e6 / part_bytes
    stages: dict[str, Any] = {}
    totals = {"cpu_s": 0.0, "requests": 0.0, "tasks": 0.0}
    for name in costs["big"]:
        if not all(name in c for c in costs.values()):
            continue
        row: dict[str, Any] = {"max_requests_per_task": costs["many"][name]["max_requests_per_task"]}
        for key in totals:
            terms, clamped = _terms(costs["few"][name], costs["many"][name], costs["small"][name], costs["big"][name],
                                    parts, mb, key)
            value = terms["per_mb"] * text_mb + terms["per_part"] * target_parts + terms["fixed"]
            totals[key] += value
            row[key] = {**{k: round(v, 6) for k, v in terms.items()}, "at_target": round(value)}
            if clamped:
                row[key]["clamped"] = clamped
        stages[name] = row
    use = big.get("cpu_utilisation") or 1.0
    start = big.get("runner_start_seconds") or 0.0
    # The driver's CPU per extra task between the two part counts: its fixed start (imports, planning) cancels.
    extra_tasks = sum(c["tasks"] for c in costs["many"].values()) - sum(c["tasks"] for c in costs["few"].values())
    driver_s_per_task = max(0.0, (many.get("driver_cpu_seconds") or 0.0) - (few.get("driver_cpu_seconds") or 0.0)) / max(1.0, extra_tasks)
    wall = totals["cpu_s"] / (cores * use) + start
    return {
        "assumptions": {"text_mb": text_mb, "part_bytes": part_bytes, "ingest_parts": round(target_parts), "cores": cores,
                        "cpu_utilisation": use, "runner_start_seconds": start,
                        "measured_on": {"parts_model": {k: runs[k]["ingest_parts"] for k in (few_key, many_key)},
                                        "scale_text_mb": {"1x": mb[0], "4x": mb[1]}}},
        "stages": stages,
        "total": {
            "task_cpu_s": round(totals["cpu_s"]),
            "core_hours": round(totals["cpu_s"] / 3600),
            "wall_hours_on_cores": round(wall / 3600, 2),
            "requests": round(totals["requests"]),
            "tasks": round(totals["tasks"]),
            "max_requests_per_task": max((s["max_requests_per_task"] for s in stages.values()), default=0),
            # the driver's serial work per task (marginal, from the parts model): all of it, spread over the run
            "driver_cpu_s_per_task": round(driver_s_per_task, 6),
            "driver_cpu_hours": round(driver_s_per_task * totals["tasks"] / 3600, 2),
        },
        "rates_4x": {"mb_per_s_per_core": big.get("mb_per_s_per_core"),
                     "mb_per_s_per_core_with_start": big.get("mb_per_s_per_core_with_start"),
                     "kept_mb_per_s_per_core": big.get("kept_mb_per_s_per_core"),
                     "kept_text_mb": big.get("kept_text_mb"), "text_mb": big.get("text_mb")},
    }
