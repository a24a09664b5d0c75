"""Fatal errors name their real cause in one line: an error raised inside a Ray task (disk full,
RecursionError) is named, not "the Ray cluster failed"; an object store that is down when the run ends
gives one warning line per step it stopped (log upload, lock release) instead of a traceback; Ctrl-C
prints one line saying how to resume and releases the lock."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import yaml
from ray.exceptions import RayTaskError

from corpus import storage
from corpus.cli import main
from corpus.engine.executor import Executor
from corpus.engine.fatal import one_line
from corpus.layout import RUN_LOCK as LOCK_NAME


def test_a_task_error_is_named_by_its_cause() -> None:
    full = OSError(errno.ENOSPC, "No space left on device", "/data/out/langid/part-00003.parquet")
    for err in (RayTaskError("run_map_part", "Traceback ...", full), RayTaskError("run_map_part", "Traceback ...", full).as_instanceof_cause()):
        assert one_line(err) == "cannot write /data/out/langid/part-00003.parquet: No space left on device (the disk is full)"
    deep = RayTaskError("run_map_part", "Traceback ...", RecursionError("maximum recursion depth exceeded"))
    assert one_line(deep) == "RecursionError: maximum recursion depth exceeded"


def _config(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("def f(x):\n    return x + 1\n")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"inputs": [{"name": "gh", "kind": "repos", "paths": [str(repo)]}], "run": ["ingest", "langid"]}))
    return cfg


def _stderr_lines(capsys: pytest.CaptureFixture) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("corpus run:")]


def test_a_store_down_at_the_end_gives_one_line_per_step_not_a_traceback(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    out = f"memory://store-down-{tmp_path.name}"
    down = {"now": False}

    def failing(real):
        def call(*args, **kwargs):
            if down["now"]:
                raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
            return real(*args, **kwargs)
        return call

    for name in ("upload_file", "read_json", "remove"):
        monkeypatch.setattr(storage, name, failing(getattr(storage, name)))
    from pipelines import cli

    real_report = cli._write_html_report

    def report_then_store_goes_down(out_dir: str) -> dict | None:
        result = real_report(out_dir)
        down["now"] = True
        return result

    monkeypatch.setattr(cli, "_write_html_report", report_then_store_goes_down)
    assert main(["run", str(_config(tmp_path)), "--output", out, "--in-process"]) == 0
    lines = _stderr_lines(capsys)
    assert any("could not upload the log" in line and "Connection refused" in line for line in lines), lines
    assert any(f"could not release the run lock {out}/{LOCK_NAME}" in line and "remove it once the store answers" in line
               for line in lines), lines


def test_ctrl_c_prints_how_to_resume_and_releases_the_lock(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    out = tmp_path / "out"

    def interrupted(self, stages, only=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(Executor, "run", interrupted)
    cfg = _config(tmp_path)
    assert main(["run", str(cfg), "--output", str(out), "--in-process"]) == 130
    lines = _stderr_lines(capsys)
    expected = (f"corpus run: interrupted; committed parts and steps are kept: run the same command with --resume "
                f"to continue (corpus run {cfg} --output {out} --resume --in-process)")
    assert lines == [expected]
    assert not (out / LOCK_NAME).exists()
