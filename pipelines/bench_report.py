"""`make bench`, section `report`: the run report's build time on the default run and on a run ten
times larger.

The larger run is the default input ten times over: every repository of the default run copied under
ten names (source-like files only, as the bench's other scale runs). Ten copies give ten times the rows
of every file-level stage up to exact dedup, and the worst case of the report's dedup section (every
kept file heads a cluster of ten). The report must follow rows and parts, never text bytes: it reads
no text column (tests/corpus/runreport/test_run_report.py pins that), so its time should grow far less than 10x.
"""

from __future__ import annotations

import shutil
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from corpus.runreport import write_run_report
from pipelines.bench_scale import SOURCE_SUFFIXES, run_pipeline

COPIES = 10


def default_config() -> dict[str, Any]:
    from importlib import resources

    return yaml.safe_load(resources.files("pipelines").joinpath("default.yaml").read_text())


def copied_repos(distributions: list[str], work: Path, copies: int = COPIES) -> Path:
    """The distributions' source-like files as `copies` repositories each: copy-K-<name>/<path>."""
    out = work / f"report-{copies}x-repos"
    if out.exists():
        return out
    for name in distributions:
        try:
            files = [f for f in metadata.files(name) or [] if str(f).lower().endswith(SOURCE_SUFFIXES)]
        except metadata.PackageNotFoundError:
            continue
        for f in files:
            src = Path(f.locate())
            if ".." in f.parts or not src.is_file() or src.is_symlink():
                continue
            for k in range(copies):
                dest = out / f"copy{k:02d}-{name}" / Path(*f.parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
    return out


def timed_report(out: Path) -> dict[str, Any]:
    started = time.perf_counter()
    written = write_run_report(str(out))
    summary = yaml.safe_load(Path(written["summary"]).read_text())  # JSON is YAML
    return {"seconds": round(time.perf_counter() - started, 3), "summary_seconds": summary["build_seconds"],
            "html_mb": round(Path(written["html"]).stat().st_size / 1e6, 2),
            "langid_files": sum(v["files_detected"] for v in summary["languages"]["by_language"].values()),
            "dedup_exact_clusters": summary["dedup"].get("dedup_exact", {}).get("clusters", 0)}


def bench_report(work: Path, num_cpus: int = 2) -> dict[str, Any]:
    cfg = default_config()
    runs: dict[str, Any] = {}
    print("bench: report on the default run ...", flush=True)
    one = run_pipeline(cfg, work / "report-1x", num_cpus)
    runs["1x"] = {"text_mb": one["text_mb"], **timed_report(work / "report-1x")}
    dists = next(s["distributions"] for s in cfg["inputs"] if s["kind"] == "python_dists")
    big = default_config()
    big["inputs"] = [{"name": "github", "kind": "repos", "domain": "code", "each_subdir": True,
                      "paths": [str(copied_repos(dists, work))]}] + [s for s in cfg["inputs"] if s["kind"] != "python_dists"]
    print(f"bench: report on a run of the default input x{COPIES} ...", flush=True)
    ten = run_pipeline(big, work / f"report-{COPIES}x", num_cpus)
    runs[f"{COPIES}x"] = {"text_mb": ten["text_mb"], **timed_report(work / f"report-{COPIES}x")}
    small, large = runs["1x"], runs[f"{COPIES}x"]
    return {"runs": runs, "ratios": {"text_mb": round(large["text_mb"] / small["text_mb"], 2),
                                     "langid_files": round(large["langid_files"] / small["langid_files"], 2),
                                     "seconds": round(large["seconds"] / small["seconds"], 2)}}
