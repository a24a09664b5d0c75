"""`make bench` figures for docs/safety.md: redaction quality and cost, licence detection accuracy and cost."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from corpus.ingest import licenses as lic
from corpus.ingest.optout import OptOut
from corpus.layout import REPORTS_DIR, RUN_REPORT, SUCCESS
from pipelines.peak_rss import peak_rss_mb
from redact import Redactor
from redact.labelled import build, measure

# The default run's distributions (pipelines/default.yaml): real repositories whose metadata declares a licence.
DEFAULT_DISTS = ["numpy", "pyarrow", "lxml", "tokenizers", "pip", "jinja2", "pygments", "tqdm", "warcio", "smart_open",
                 "datasketch", "beautifulsoup4", "PyYAML", "rich", "nltk"]


def bench_redact(input_path: str) -> dict[str, Any]:
    """Precision/recall by kind on the labelled set (real files of the fixed input with planted secrets and
    look-alikes), and the redact stage's MB/s per core on the fixed input (CPU time of one process)."""
    import pyarrow.parquet as pq

    from corpus.stages.redact import RedactStage  # deferred: heavy bench section (+17 MB)

    table = pq.read_table(input_path)
    rows = table.select(["path", "text"]).to_pylist()
    files = [(r["path"], r["text"]) for r in rows if r["path"].endswith((".py", ".c", ".h", ".cpp", ".pyx", ".js", ".yaml", ".cfg"))]
    samples = build(files[::4][:400], seed=7, per_file=2)
    quality = measure(Redactor(), samples)
    stage = RedactStage()
    stage.setup()
    t0 = time.process_time()
    result = stage.process(table)
    cpu = time.process_time() - t0
    mb = sum(table.column("size").to_pylist()) / 1e6
    return {"labelled_set": quality, "stage": {"docs": table.num_rows, "mb": round(mb, 2), "cpu_seconds": round(cpu, 3),
                                               "mb_per_s_per_core": round(mb / cpu, 2) if cpu else None, "counts": result.counts}}


def redact_share(run_dir: str) -> dict[str, Any]:
    """The redact stage's share of a finished pipeline run: its tasks' CPU against all tasks' CPU, and its
    wall seconds against the run's (the runner's start left out, as run.json does)."""
    run = json.loads(Path(run_dir, REPORTS_DIR, RUN_REPORT).read_text())
    done = json.loads(Path(run_dir, "redact", SUCCESS).read_text())
    return {"run": str(run_dir), "text_mb": run.get("text_mb"),
            "redact_task_cpu_seconds": done.get("task_cpu_seconds"), "run_task_cpu_seconds": run.get("task_cpu_seconds"),
            "cpu_share": round(done["task_cpu_seconds"] / run["task_cpu_seconds"], 4) if run.get("task_cpu_seconds") else None,
            "redact_wall_seconds": done.get("seconds"), "run_wall_seconds": run.get("wall_seconds"),
            "wall_share": round(done["seconds"] / run["wall_seconds"], 4) if run.get("wall_seconds") else None,
            "counts": done.get("stats", {}).get("counts", {})}


def bench_licenses(dists: list[str] | None = None) -> dict[str, Any]:
    """Licence detection on the default run's distributions: ScanCode on their licence files alone against
    what their METADATA declares (the known licence), and the cost (index load, per repository, memory)."""
    t0 = time.perf_counter()
    lic._index()
    load = time.perf_counter() - t0
    rows, exact, primary, known = [], 0, 0, 0
    seconds = []
    for name in dists or DEFAULT_DISTS:
        evidence = lic.distribution_evidence(name)
        metadata_text = next((t for p, t in evidence if p.endswith("/METADATA")), "")
        truth = lic.from_metadata("x.dist-info/METADATA", metadata_text) if metadata_text else None
        ev = lic.Evidence()
        for path, text in evidence:
            if not path.endswith("/METADATA"):
                ev.see(path, text)
        t = time.perf_counter()
        found = ev.files_expression()
        seconds.append(time.perf_counter() - t)
        row = {"repo": f"pypi/{name}", "declared": truth, "detected_from_files": found,
               "licence_files": [p for p, _ in evidence if not p.endswith("/METADATA")]}
        if truth:
            known += 1
            keys = lic._spdx().license_keys(found) if found else []
            row["exact"] = lic.symbols(found) == lic.symbols(truth)
            row["primary"] = bool(keys) and keys[0] in lic.symbols(truth)
            exact += row["exact"]
            primary += row["primary"]
        rows.append(row)
    return {"repos": len(rows), "with_declared_licence": known,
            "exact_accuracy": round(exact / known, 4) if known else None,
            "primary_accuracy": round(primary / known, 4) if known else None,
            "index_load_seconds": round(load, 2), "detect_seconds_per_repo": round(sum(seconds) / len(seconds), 3),
            "detect_seconds_max": round(max(seconds), 3),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "licensedcode_installed_mb": _package_mb("licensedcode"), "rows": rows}


def _package_mb(name: str) -> float:
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return 0.0
    root = Path(next(iter(spec.submodule_search_locations)))
    return round(sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6, 1)


def bench_optout(run_dir: str, n_repos: int = 2) -> dict[str, Any]:
    """`corpus optout` on a copy of a finished run's shards, removing the `n_repos` repositories with the
    most provenance rows, against what the run itself spent on its shards stage and in all (the
    `seconds`/task CPU its _SUCCESS.json and run.json recorded): the cost of withdrawing by a rerun."""
    import shutil
    import tempfile
    from collections import Counter

    import pyarrow.parquet as pq

    from corpus.commands.optout import optout_run  # deferred: heavy bench section (HF tokenizers)

    src = Path(run_dir)
    manifest = json.loads((src / "shards" / "manifest.json").read_text())
    if "provenance" not in manifest:
        return {"error": f"{run_dir}: shards without provenance"}
    rows: Counter = Counter()
    for e in manifest["provenance"]:
        rows.update(r for r in pq.read_table(src / "shards" / e["path"], columns=["repo"]).column("repo").to_pylist() if r)
    repos = sorted(rows, key=lambda r: (-rows[r], r))[:n_repos]
    with tempfile.TemporaryDirectory(prefix="bench-optout-") as tmp:
        out = Path(tmp) / "out"
        shutil.copytree(src / "shards", out / "shards", ignore=shutil.ignore_patterns("_tmp", "_steps", "_dropped"))
        shutil.copytree(src / REPORTS_DIR, out / REPORTS_DIR)
        t0, c0 = time.perf_counter(), time.process_time()
        report = optout_run(str(out), OptOut.parse("\n".join(repos)))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    shards = json.loads((src / "shards" / SUCCESS).read_text())
    run = json.loads((src / REPORTS_DIR / RUN_REPORT).read_text())
    return {"run": str(run_dir), "repositories": repos, "documents_removed": report["documents_removed"],
            "files_rewritten": len(report["files_rewritten"]), "files_kept": report["files_kept"],
            "tokens_removed": report["tokens_removed"], "optout_wall_seconds": round(wall, 3), "optout_cpu_seconds": round(cpu, 3),
            "shards_stage_wall_seconds": shards.get("seconds"), "shards_stage_task_cpu_seconds": shards.get("task_cpu_seconds"),
            "run_wall_seconds": run.get("wall_seconds"),
            "speedup_vs_shards_stage": round(shards["seconds"] / wall, 1) if shards.get("seconds") and wall else None,
            "speedup_vs_run": round(run["wall_seconds"] / wall, 1) if run.get("wall_seconds") and wall else None}
