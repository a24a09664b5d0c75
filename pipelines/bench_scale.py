"""`make bench`, scale section: the whole pipeline on ~1x and ~4x real input, and the scheduler on
10k and 100k tiny tasks.

For each input size the default stage graph runs through `corpus run` in a fresh process (its own local
Ray instance), and we read back OUT/reports/run.json (wall, driver peak RSS and CPU, MB/s per core) and
each stage's `_SUCCESS.json` (wall and driver CPU seconds). The ratios between sizes show what grows
with the data: per-stage time should grow ~4x, the driver's memory should not (ratio <= 1.3).
"""

from __future__ import annotations

import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from corpus import storage

# Real code every `make setup` installs (pinned versions, so the input is fixed): ~1x is ~90 MB of
# source-like files (Python, C/C++, Fortran, Cython, data files), ~4x adds the rest of the large trees.
ONE_X = ["sympy", "pandas", "scipy", "numpy"]
FOUR_X = ONE_X + ["torch", "transformers", "ray", "pyarrow", "networkx", "nltk", "botocore", "pip", "pygments", "polars",
                  "huggingface_hub", "setuptools", "datasets", "mpmath", "pydantic", "lxml", "pytest", "rich", "pybind11"]
SOURCE_SUFFIXES = (".py", ".pyi", ".h", ".hpp", ".hh", ".c", ".cc", ".cpp", ".cxx", ".cu", ".cuh", ".pyx", ".pxd", ".md", ".rst",
                   ".txt", ".json", ".yaml", ".yml", ".toml", ".f", ".f90", ".js", ".ts", ".html", ".css", ".sh", ".cfg", ".ini",
                   ".xml", ".xsl", ".cmake", ".proto", ".jinja", ".tex")


def source_bytes(distributions: list[str]) -> int:
    """Bytes of source-like files the distributions install (from their RECORD, without reading them)."""
    total = 0
    for name in distributions:
        try:
            total += sum(f.size or 0 for f in metadata.files(name) or [] if str(f).lower().endswith(SOURCE_SUFFIXES))
        except metadata.PackageNotFoundError:
            pass
    return total


def all_distributions() -> list[str]:
    """Every distribution installed next to this project (FOUR_X first), each once."""
    names = sorted({d.metadata["Name"] for d in metadata.distributions() if d.metadata["Name"]}, key=str.lower)
    return FOUR_X + [n for n in names if n not in FOUR_X and n.lower() != "coder-corpus"]


def stdlib_repos(work: Path) -> Path:
    """The interpreter's standard library as repositories (one per top-level package, the loose
    modules as one more), source-like files only: ~30 MB more real code for the largest run."""
    import shutil
    import sysconfig

    root, out = Path(sysconfig.get_paths()["stdlib"]), work / "stdlib-repos"
    if out.exists():
        return out
    skip = {"site-packages", "__pycache__", "lib-dynload"}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in skip or part.startswith("config-") for part in rel.parts) or not path.is_file() or path.is_symlink():
            continue
        if not path.name.lower().endswith(SOURCE_SUFFIXES):
            continue
        dest = out / (rel.parts[0] if len(rel.parts) > 1 else "_modules") / (Path(*rel.parts[1:]) if len(rel.parts) > 1 else rel)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    return out


def scale_config(distributions: list[str], repos: Path | None = None) -> dict[str, Any]:
    from importlib import resources

    cfg = yaml.safe_load(resources.files("pipelines").joinpath("default.yaml").read_text())
    for spec in cfg["inputs"]:
        if spec["kind"] == "python_dists":
            spec["distributions"] = distributions
    if repos is not None:
        cfg["inputs"].append({"name": "stdlib", "kind": "repos", "domain": "code", "paths": [str(repos)], "each_subdir": True})
    return cfg


def run_pipeline(cfg: dict[str, Any], out: Path, num_cpus: int) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out.parent / f"{out.name}.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "corpus.cli", "run", str(cfg_path), "--output", str(out), "--num-cpus", str(num_cpus)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"corpus run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    run = storage.read_json(str(out / "reports" / "run.json"))
    stages = {}
    for success in sorted(out.glob("*/_SUCCESS.json")):
        done = storage.read_json(str(success))
        stages[done["stage"]] = {"seconds": done["seconds"], "driver_cpu_seconds": done.get("driver_cpu_seconds"),
                                 # the per-stage CPU profile: CPU seconds of the stage's tasks, by step
                                 "task_cpu_seconds": done.get("task_cpu_seconds"), "task_cpu_by_step": done.get("task_cpu_by_step"),
                                 # storage requests per step: tasks, total and the largest of one task
                                 "requests_by_step": done.get("requests_by_step"), "driver_requests": done.get("driver_requests")}
    files = sum(1 for _ in out.rglob("*") if _.is_file())
    # The run report again, alone: its cost must follow parts and languages, not the text size.
    from corpus.runreport import write_run_report

    report = write_run_report(str(out))
    return {**run, "process_seconds": round(wall, 2), "stages": stages, "output_files": files, "report_seconds": report["seconds"]}


def bench_scale(work: Path, num_cpus: int = 2) -> dict[str, Any]:
    """~1x: 4 distributions (~90 MB of text); ~4x: every installed distribution plus the standard
    library (~370 MB of text, the issue's ~400 MB run)."""
    runs: dict[str, Any] = {}
    for label, dists, repos in (("1x", ONE_X, None), ("4x", all_distributions(), stdlib_repos(work))):
        nbytes = source_bytes(dists) + (sum(p.stat().st_size for p in repos.rglob("*") if p.is_file()) if repos else 0)
        print(f"bench: scale {label}: {len(dists)} distributions{' + the standard library' if repos else ''}, "
              f"{nbytes / 1e6:.0f} MB of source files", flush=True)
        runs[label] = {"distributions": len(dists), "stdlib": repos is not None, "source_file_mb": round(nbytes / 1e6, 1),
                       **run_pipeline(scale_config(dists, repos), work / f"scale-{label}", num_cpus)}
    small, big = runs["1x"], runs["4x"]
    ratios = {
        "text_mb": round(big["text_mb"] / small["text_mb"], 2),
        "driver_peak_rss": round(big["driver_peak_rss_mb"] / small["driver_peak_rss_mb"], 3),
        "wall": round(big["wall_seconds"] / small["wall_seconds"], 2),
        "report_seconds": round(big["report_seconds"] / small["report_seconds"], 2),
        "stages": {s: round(big["stages"][s]["seconds"] / max(small["stages"][s]["seconds"], 1e-3), 2) for s in small["stages"] if s in big["stages"]},
    }
    # Marginal task CPU per MB of text between the sizes: what each stage costs per extra MB (fixed
    # costs such as Ray start, tokenizer training and recall's trainings cancel out).
    extra_mb = big["text_mb"] - small["text_mb"]
    ratios["marginal_task_cpu_s_per_mb"] = {
        s: round(((big["stages"][s].get("task_cpu_seconds") or 0) - (small["stages"][s].get("task_cpu_seconds") or 0)) / extra_mb, 4)
        for s in small["stages"] if s in big["stages"]} if extra_mb > 0 else {}
    return {"runs": runs, "ratios": ratios, "cpus": num_cpus}


def _tiny(i: int) -> int:
    return i


def bench_scheduler(counts: tuple[int, ...] = (10_000, 100_000), num_cpus: int = 2) -> dict[str, Any]:
    """Driver CPU time per task of a map of tiny tasks through the Ray runner; must not grow with the count."""
    from corpus.ray_runner import RayRunner

    runner = RayRunner(num_cpus=num_cpus)
    out: dict[str, Any] = {"max_in_flight": runner.max_in_flight}
    try:
        for n in counts:
            t0, c0 = time.perf_counter(), time.process_time()
            results = runner.map(_tiny, [(i,) for i in range(n)], desc=f"scheduler {n}")
            assert results == list(range(n))
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            out[str(n)] = {"wall_seconds": round(wall, 2), "driver_cpu_ms_per_task": round(cpu / n * 1e3, 4), "tasks_per_s": round(n / wall, 1)}
    finally:
        runner.shutdown()
    first, last = out[str(counts[0])], out[str(counts[-1])]
    out["driver_ms_per_task_ratio"] = round(last["driver_cpu_ms_per_task"] / first["driver_cpu_ms_per_task"], 3)
    return out
