"""A fatal error is one line on stderr naming what failed and where (exit 5); the traceback is in
OUT/logs/run.log, or in a temporary file the line names when OUT cannot be written at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from corpus.engine.fatal import EXIT_FATAL, one_line

ROOT = Path(__file__).resolve().parents[2]


def _run(config: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus.cli", "run", str(config), "--in-process", *extra],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    repo = tmp_path / "repos" / "r"
    repo.mkdir(parents=True)
    (repo / "a.py").write_text("def f(x):\n    return x + 1\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"seed: 1\noutput: {tmp_path / 'out'}\ninputs:\n  - name: gh\n    kind: repos\n    paths: [{tmp_path / 'repos'}]\n"
                   "    each_subdir: true\nrun: [ingest]\n")
    return cfg


def _one_failure_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == EXIT_FATAL, proc.stderr
    assert "Traceback" not in proc.stderr
    failed = [line for line in proc.stderr.splitlines() if line.startswith("corpus run: failed:")]
    assert len(failed) == 1, proc.stderr
    return failed[0]


def test_output_that_cannot_be_written_mid_run(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "reports").write_text("a file where the reports folder goes")
    line = _one_failure_line(_run(config))
    assert str(out / "reports") in line and "File exists" in line
    log = (out / "logs" / "run.log").read_text()
    assert "Traceback" in log and "FileExistsError" in log
    assert not (out / "_RUN_LOCK.json").exists(), "the lock is released on failure"


def test_output_that_cannot_be_created(config: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "plain_file"
    blocker.write_text("x")
    line = _one_failure_line(_run(config, "--output", str(blocker / "out")))
    assert str(blocker / "out") in line and "not a folder" in line
    trace = Path(line.rsplit("(traceback: ", 1)[1].rstrip(")"))
    assert "NotADirectoryError" in trace.read_text()
    trace.unlink()


def test_a_dead_raylet_is_named_as_the_cluster() -> None:
    from ray.exceptions import LocalRayletDiedError, NodeDiedError

    assert one_line(LocalRayletDiedError()).startswith("the Ray cluster failed (LocalRayletDiedError)")
    assert "NodeDiedError" in one_line(NodeDiedError("node 10.0.0.2 died"))
    assert one_line(OSError(28, "No space left on device", "/data/out/x")) == "cannot write /data/out/x: No space left on device (the disk is full)"
