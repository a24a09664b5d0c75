"""The 60 TB arithmetic recovers the cost terms of runs that follow the model exactly."""

from __future__ import annotations

import pytest

from pipelines.scale_projection import project, stage_costs

# Invented per-stage terms (CPU s, requests) per MB, per part and fixed.
TERMS = {"ingest": {"cpu_s": (0.01, 0.002, 1.0), "requests": (0.0, 6.0, 3.0)},
         "shards": {"cpu_s": (0.1, 0.001, 8.0), "requests": (0.5, 4.0, 20.0)}}


def _run(mb: float, parts: int, max_per_task: int = 12) -> dict:
    steps = {}
    for stage, terms in TERMS.items():
        cpu, req = ((a * mb + b * parts + c) for a, b, c in (terms["cpu_s"], terms["requests"]))
        steps[f"{stage}:work"] = {"tasks": parts, "requests": req, "max_requests_per_task": max_per_task, "task_cpu_s": cpu}
    return {"ingest_parts": parts, "text_mb": mb, "steps": steps, "driver_cpu_seconds": 1.0 + 0.001 * parts * len(TERMS), "cpu_utilisation": 0.5,
            "runner_start_seconds": 4.0}


def test_projection_recovers_the_terms_and_scales_them() -> None:
    scale = {"runs": {"1x": _run(90, 8), "4x": _run(380, 12)}}
    parts_model = {"runs": {"10": _run(40, 10), "1000": _run(40, 990, max_per_task=250)}}
    got = project(scale, parts_model, text_mb=6e7, part_bytes=64_000_000, cores=1000)
    parts = 6e7 * 1e6 / 64_000_000
    for stage, terms in TERMS.items():
        for key, (per_mb, per_part, fixed) in terms.items():
            row = got["stages"][stage][key]
            assert row["per_mb"] == pytest.approx(per_mb, abs=1e-6)
            assert row["per_part"] == pytest.approx(per_part, abs=1e-6)
            assert row["fixed"] == pytest.approx(fixed, abs=1e-4)
            assert row["at_target"] == round(per_mb * 6e7 + per_part * parts + fixed)
        assert got["stages"][stage]["max_requests_per_task"] == 250  # measured on the many-parts run, not scaled
    cpu = sum(got["stages"][s]["cpu_s"]["at_target"] for s in TERMS)
    assert got["total"]["task_cpu_s"] == pytest.approx(cpu, abs=2)
    assert got["total"]["wall_hours_on_cores"] == pytest.approx((cpu / (1000 * 0.5) + 4.0) / 3600, abs=0.01)
    assert got["total"]["driver_cpu_s_per_task"] == pytest.approx(0.001)  # the driver's start (1 s) cancels


def test_noise_below_zero_is_clamped_and_named() -> None:
    scale = {"runs": {"1x": _run(90, 8), "4x": _run(380, 12)}}
    many = _run(40, 990)
    many["steps"]["ingest:work"]["task_cpu_s"] = 0.0  # more parts measured cheaper than fewer: noise
    got = project(scale, {"runs": {"10": _run(40, 10), "1000": many}})
    assert got["stages"]["ingest"]["cpu_s"]["per_part"] == 0.0
    assert got["stages"]["ingest"]["cpu_s"]["clamped"] == ["per_part"]


def test_stage_costs_group_steps_by_stage() -> None:
    steps = {"dedup:keys": {"tasks": 4, "requests": 16, "max_requests_per_task": 4, "task_cpu_s": 1.0},
             "dedup:apply": {"tasks": 4, "requests": 24, "max_requests_per_task": 6, "task_cpu_s": 0.5},
             "filter": {"tasks": 4, "requests": 44, "max_requests_per_task": 11, "task_cpu_s": None}}
    assert stage_costs(steps) == {"dedup": {"cpu_s": 1.5, "requests": 40.0, "tasks": 8.0, "max_requests_per_task": 6.0},
                                  "filter": {"cpu_s": 0.0, "requests": 44.0, "tasks": 4.0, "max_requests_per_task": 11.0}}
