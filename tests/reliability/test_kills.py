"""Kills: a driver SIGKILLed inside a global stage resumes with --resume to the same output as an
undisturbed run, and a worker process killed mid-task is retried by the runner with the same result."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from corpus import storage
from pipelines.graph import STAGE_ORDER


def _config(root: Path) -> Path:
    for r in range(4):
        repo = root / "repos" / f"r{r}"
        repo.mkdir(parents=True)
        for i in range(6):
            body = "\n".join(f"def f_{r}_{i}_{j}(value):\n    return value * {j} + {i} - {r}\n" for j in range(15))
            (repo / f"m{i}.py").write_text(body)
    cfg = {
        "inputs": [
            {"name": "github", "kind": "repos", "paths": [str(root / "repos")], "each_subdir": True},
            {"name": "web", "kind": "warc", "domain": "text", "paths": ["pkg:corpus/samples/web_sample.warc.gz"]},
        ],
        "stages": {
            "ingest": {"units_per_part": 1},
            "recall": {"fasttext": {"lr": 0.5, "epoch": 10}},
            "dedup_near": {"num_perm": 64, "bands": 16},
            "shards": {"vocab_size": 600, "seq_len": 129, "rows_per_shard": 8},
        },
    }
    path = root / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _cmd(cfg: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "corpus.cli", "run", str(cfg), "--output", str(out), "--num-cpus", "2", *extra]


def _fingerprint(out: Path) -> dict[str, str]:
    """Every stage's rows (order-free) and every shard file's bytes."""
    prints = {}
    for stage in STAGE_ORDER:
        done = storage.read_json(str(out / stage / "_SUCCESS.json"))
        if stage == "shards":
            for name in sorted(p.name for p in (out / stage).glob("*.parquet")):
                prints[f"shards/{name}"] = hashlib.sha256((out / stage / name).read_bytes()).hexdigest()
            continue
        rows = storage.read_tables([str(out / stage / p) for p in done["parts"]]).to_pylist()
        blob = "\n".join(sorted(json.dumps(r, sort_keys=True) for r in rows))
        prints[stage] = hashlib.sha256(blob.encode()).hexdigest()
    return prints


def test_driver_killed_inside_a_global_stage_resumes_to_identical_output(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    clean = subprocess.run(_cmd(cfg, tmp_path / "clean"), capture_output=True, text=True, timeout=900)
    assert clean.returncode == 0, clean.stderr[-2000:]

    out = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(cfg, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    steps = out / "recall" / "_steps"
    deadline = time.time() + 600
    # Kill the driver and every process it started (its Ray instance) once recall has saved a step.
    while time.time() < deadline and proc.poll() is None:
        if steps.is_dir() and any(p.name != "_key.json" for p in steps.iterdir()):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before the kill point"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (out / "recall" / "_SUCCESS.json").exists()

    resumed = subprocess.run(_cmd(cfg, out, "--resume"), capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "finished earlier" in (out / "logs" / "run.log").read_text()  # ingest..dedup_exact were reused
    assert _fingerprint(out) == _fingerprint(tmp_path / "clean")


def test_a_worker_killed_mid_task_is_retried_with_the_same_result(tmp_path: Path, ray_runner) -> None:
    def _dies_once(marker_dir: str, i: int) -> int:
        """A task whose first attempt kills its own worker process (SIGKILL: no cleanup, no exception).
        Defined here so it travels by value: workers cannot import test modules."""
        marker = Path(marker_dir) / f"{i}.started"
        if not marker.exists():
            marker.write_text("1")
            os.kill(os.getpid(), signal.SIGKILL)
        return i * i

    results = ray_runner.map(_dies_once, [(str(tmp_path), i) for i in range(6)])
    assert results == [i * i for i in range(6)]
    assert len(list(tmp_path.glob("*.started"))) == 6  # every task's first attempt died
