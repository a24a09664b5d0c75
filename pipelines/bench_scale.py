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
from corpus.engine.ray_runner import RayRunner
from corpus.layout import REPORTS_DIR, RUN_REPORT, SUCCESS
from corpus.runreport import write_run_report
from pipelines.scale_projection import project

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


def _finished(out: Path, cfg_text: str) -> bool:
    """OUT holds a complete run of exactly this config (so its measured figures can be read back)."""
    cfg_path = out.parent / f"{out.name}.yaml"
    run = out / REPORTS_DIR / RUN_REPORT
    return cfg_path.exists() and cfg_path.read_text() == cfg_text and run.exists() and storage.read_json(str(run)).get("complete", False)


def run_pipeline(cfg: dict[str, Any], out: Path, num_cpus: int, reuse: bool = False) -> dict[str, Any]:
    """`corpus run` in a fresh process; with `reuse`, a complete earlier run of the same config in OUT is
    read back instead (a long bench cut short, e.g. by Ray failing to start, goes on where it stopped)."""
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out.parent / f"{out.name}.yaml"
    cfg_text = yaml.safe_dump(cfg)
    t0 = time.perf_counter()
    if not (reuse and _finished(out, cfg_text)):
        cfg_path.write_text(cfg_text)
        proc = subprocess.run([sys.executable, "-m", "corpus.cli", "run", str(cfg_path), "--output", str(out), "--num-cpus", str(num_cpus)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"corpus run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    wall = time.perf_counter() - t0
    run = storage.read_json(str(out / REPORTS_DIR / RUN_REPORT))
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

    report = write_run_report(str(out))
    ingest_parts = len(storage.read_json(str(out / "ingest" / SUCCESS))["parts"])
    return {**run, "process_seconds": round(wall, 2), "stages": stages, "output_files": files, "report_seconds": report["seconds"],
            "ingest_parts": ingest_parts}


def bench_scale(work: Path, num_cpus: int = 2, reuse: bool = False) -> dict[str, Any]:
    """~1x: 4 distributions (~90 MB of text); ~4x: every installed distribution plus the standard
    library (~370 MB of text, the issue's ~400 MB run)."""
    runs: dict[str, Any] = {}
    for label, dists, repos in (("1x", ONE_X, None), ("4x", all_distributions(), stdlib_repos(work))):
        nbytes = source_bytes(dists) + (sum(p.stat().st_size for p in repos.rglob("*") if p.is_file()) if repos else 0)
        print(f"bench: scale {label}: {len(dists)} distributions{' + the standard library' if repos else ''}, "
              f"{nbytes / 1e6:.0f} MB of source files", flush=True)
        run = run_pipeline(scale_config(dists, repos), work / f"scale-{label}", num_cpus, reuse)
        runs[label] = {"distributions": len(dists), "stdlib": repos is not None, "source_file_mb": round(nbytes / 1e6, 1),
                       **run, "steps": step_table(run)}
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


# ------------------------------------------------------------------------------ the parts model

PARTS_MODEL_MAX_MB = 40.0  # source bytes of the model's input (the same at every part count)
FILES_PER_REPO = 1  # files per repository of the model's input: small repositories, so tiny parts are possible


def parts_repos(work: Path, max_mb: float = PARTS_MODEL_MAX_MB) -> tuple[Path, int]:
    """A fixed input of many small repositories (ingest never splits a repository, so ~1,000 parts need
    ~1,000 of them): the source-like files of ONE_X's distributions, by package folder, in runs of at
    most FILES_PER_REPO files, up to max_mb. Returns the folder and its byte count."""
    import shutil

    out = work / f"parts-repos-{max_mb:g}mb-{FILES_PER_REPO}"
    if out.exists():
        return out, sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    by_folder: dict[str, list[Path]] = {}
    for name in ONE_X:
        try:
            files = metadata.files(name) or []
        except metadata.PackageNotFoundError:
            continue
        for f in files:
            if str(f).lower().endswith(SOURCE_SUFFIXES) and f.size:
                by_folder.setdefault(f"{name}/{Path(str(f)).parent}", []).append(Path(f.locate()))
    total, limit = 0, int(max_mb * 1e6)
    for folder in sorted(by_folder):
        paths = sorted(by_folder[folder])
        for run, start in enumerate(range(0, len(paths), FILES_PER_REPO)):
            if total >= limit:
                break
            repo = out / f"{folder.replace('/', '__')}__{run}"
            repo.mkdir(parents=True, exist_ok=True)
            for path in paths[start:start + FILES_PER_REPO]:
                if path.is_file():
                    shutil.copyfile(path, repo / path.name)
                    total += path.stat().st_size
    return out, total


def step_table(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per step of every stage: tasks, total and max-per-task requests, task CPU seconds."""
    steps: dict[str, dict[str, Any]] = {}
    for stage in run["stages"].values():
        cpu = stage.get("task_cpu_by_step") or {}
        for step, req in (stage.get("requests_by_step") or {}).items():
            steps[step] = {"tasks": req["tasks"], "requests": req["total"], "max_requests_per_task": req["max_per_task"],
                           "task_cpu_s": cpu.get(step)}
    return dict(sorted(steps.items()))


def bench_parts_model(work: Path, parts: tuple[int, ...] = (10, 1000), max_mb: float = PARTS_MODEL_MAX_MB,
                      num_cpus: int = 2, reuse: bool = False) -> dict[str, Any]:
    """The same input run with few and with many parts (tiny `part_bytes`): per step the total and the
    largest per-task storage requests, task CPU, and the driver's peak RSS. What must hold: no task's
    requests grow with the parts, a step's total grows at most linearly, the driver's memory stays flat."""
    repos, nbytes = parts_repos(work, max_mb)
    runs: dict[str, Any] = {}
    for n in parts:
        cfg = scale_config([])
        cfg["inputs"] = [s for s in cfg["inputs"] if s["kind"] != "python_dists"]
        cfg["inputs"].append({"name": "github", "kind": "repos", "domain": "code", "paths": [str(repos)], "each_subdir": True})
        ingest = cfg.setdefault("stages", {}).setdefault("ingest", {})
        ingest.update({"part_bytes": max(1, nbytes // n), "min_parts": n, "units_per_part": 1_000_000})
        print(f"bench: parts model, {nbytes / 1e6:.1f} MB in ~{n} parts", flush=True)
        run = run_pipeline(cfg, work / f"parts-{n}", num_cpus, reuse)
        steps = step_table(run)
        runs[str(n)] = {"ingest_parts": run["ingest_parts"], "wall_seconds": run.get("wall_seconds"), "runner_start_seconds": run.get("runner_start_seconds"),
                        "task_cpu_seconds": run.get("task_cpu_seconds"), "driver_peak_rss_mb": run.get("driver_peak_rss_mb"),
                        "driver_cpu_seconds": run.get("driver_cpu_seconds"), "text_mb": run.get("text_mb"),
                        "kept_text_mb": run.get("kept_text_mb"), "wall_with_start_seconds": run.get("wall_with_start_seconds"),
                        "max_requests_per_task": max((s["max_requests_per_task"] for s in steps.values()), default=0),
                        "requests": sum(s["requests"] for s in steps.values()), "steps": steps}
    few, many = runs[str(parts[0])], runs[str(parts[-1])]
    grow = many["ingest_parts"] / max(1, few["ingest_parts"])
    ratios = {
        "parts": round(grow, 2),
        "driver_peak_rss": round(many["driver_peak_rss_mb"] / few["driver_peak_rss_mb"], 3),
        "requests": round(many["requests"] / max(1, few["requests"]), 2),
        # per step: how the largest task's requests moved (must stay ~1) and the total per part
        "max_requests_per_task": {s: round(many["steps"][s]["max_requests_per_task"] / max(1, few["steps"][s]["max_requests_per_task"]), 2)
                                  for s in few["steps"] if s in many["steps"]},
        "worst_max_requests_per_task": {"step": max(many["steps"], key=lambda s: many["steps"][s]["max_requests_per_task"], default=None),
                                        "requests": many["max_requests_per_task"]},
    }
    return {"source_mb": round(nbytes / 1e6, 1), "runs": runs, "ratios": ratios, "cpus": num_cpus}


PARTS_MODEL_JSON = "bench_parts_model.json"
SIZES_JSON = "bench_scale.json"
PROJECTION_JSON = "bench_projection.json"


def main(argv: list[str] | None = None) -> int:
    """The scale benches alone (what `make bench` runs last, without the rest): the parts model, the ~1x
    and ~4x runs, and the 60 TB projection from the two (reusing a JSON an earlier call wrote)."""
    import argparse
    import json


    parser = argparse.ArgumentParser(description="the scale benches alone")
    parser.add_argument("--parts-model", action="store_true", help="the same input with few and with many parts")
    parser.add_argument("--sizes", action="store_true", help="the whole default graph on ~1x and ~4x real input")
    parser.add_argument("--project", action="store_true", help="the 60 TB arithmetic from OUT's two JSONs of the above")
    parser.add_argument("--parts", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("--max-mb", type=float, default=PARTS_MODEL_MAX_MB, help="source MB of the parts model's input")
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--reuse", action="store_true", help="read back complete runs of the same config already in OUT/bench")
    parser.add_argument("--output", default="out", help="OUT folder: OUT/bench/... and OUT/bench_*.json")
    args = parser.parse_args(argv)
    if not (args.parts_model or args.sizes or args.project):
        parser.error("say which bench: --parts-model, --sizes and/or --project")
    out = Path(args.output)
    work = out / "bench"
    work.mkdir(parents=True, exist_ok=True)
    if args.parts_model:
        result = bench_parts_model(work, tuple(args.parts), args.max_mb, args.num_cpus, args.reuse)
        (out / PARTS_MODEL_JSON).write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))
    if args.sizes:
        result = bench_scale(work, args.num_cpus, args.reuse)
        (out / SIZES_JSON).write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result["ratios"], indent=2))
    if args.project:
        projection = project(json.loads((out / SIZES_JSON).read_text()), json.loads((out / PARTS_MODEL_JSON).read_text()))
        (out / PROJECTION_JSON).write_text(json.dumps(projection, indent=2) + "\n")
        print(json.dumps({k: v for k, v in projection.items() if k != "stages"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
