"""`corpus run` starts its runner (Ray) only when a stage has work: `--resume` on a finished run never
does; and the runner it starts gets the dashboard unless `--no-dashboard` or `ray.dashboard: false`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml

from corpus.cli import main
from corpus.engine.runner import InProcessRunner
from pipelines import cli
from pipelines.config import PipelineConfig

STAGES = ["ingest", "langid", "filter"]


def _config(tmp_path: Path, **extra) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    for i in range(6):
        (repo / f"mod{i}.py").write_text(f'"""Module {i}."""\n\n\ndef twice_{i}(x: int) -> int:\n    return 2 * x + {i}\n')
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump({"inputs": [{"name": "github", "kind": "repos", "paths": [str(repo)]}], "run": STAGES, **extra}))
    return path


class _StartRecorder:
    """Stands in for pipelines.cli.start_runner: records each start (and its dashboard wish), then
    gives an in-process runner, or raises like a Ray that cannot start."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[dict] = []

    def __call__(self, address=None, num_cpus=None, in_process=False, dashboard=False):
        self.calls.append({"address": address, "in_process": in_process, "dashboard": dashboard})
        if self.fail:
            raise RuntimeError("Ray must not start for a finished run")
        return InProcessRunner()


@pytest.fixture
def finished_run(tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    cfg, out = _config(tmp_path), tmp_path / "out"
    assert main(["run", str(cfg), "--output", str(out), "--in-process"]) == 0
    return cfg, out


def test_resume_of_a_finished_run_does_not_start_ray(finished_run, monkeypatch, capsys) -> None:
    cfg, out = finished_run
    capsys.readouterr()
    start = _StartRecorder(fail=True)
    monkeypatch.setattr(cli, "start_runner", start)
    measured = (out / "reports" / "run.json").read_text()
    assert main(["run", str(cfg), "--output", str(out), "--resume"]) == 0, capsys.readouterr().err
    assert start.calls == []
    assert (out / "reports" / "run.json").read_text() == measured  # nothing ran: the run's own figures stay
    assert (out / "reports" / "index.html").exists()
    printed = capsys.readouterr().out
    assert f"corpus run finished: {out}" in printed
    for stage in STAGES:
        assert any(line.strip().startswith(stage) and line.endswith("(finished earlier)") for line in printed.splitlines()), printed


def test_resume_with_work_left_starts_the_runner_once(finished_run, monkeypatch, capsys) -> None:
    """The same setup where a stage is not finished: the runner starts, once, and the stage runs."""
    cfg, out = finished_run
    (out / "filter" / "_SUCCESS.json").unlink()
    start = _StartRecorder()
    monkeypatch.setattr(cli, "start_runner", start)
    assert main(["run", str(cfg), "--output", str(out), "--resume"]) == 0, capsys.readouterr().err
    assert [c["dashboard"] for c in start.calls] == [True]  # a local run gets the dashboard by default
    assert (out / "filter" / "_SUCCESS.json").exists()
    printed = capsys.readouterr().out
    assert [line.split()[0] for line in printed.splitlines() if line.endswith("(finished earlier)")] == ["ingest", "langid"]


def test_no_dashboard_flag_reaches_the_runner(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    start = _StartRecorder()
    monkeypatch.setattr(cli, "start_runner", start)
    assert main(["run", str(_config(tmp_path)), "--output", str(tmp_path / "out"), "--no-dashboard"]) == 0
    assert start.calls == [{"address": None, "in_process": False, "dashboard": False}]


@pytest.mark.parametrize(("config_says", "flag", "expected"), [(None, False, True), (False, False, False), (True, True, False)])
def test_the_dashboard_knob_of_the_config(monkeypatch, config_says, flag, expected) -> None:
    start = _StartRecorder()
    monkeypatch.setattr(cli, "start_runner", start)
    ray = {} if config_says is None else {"dashboard": config_says}
    cfg = PipelineConfig.model_validate({"inputs": [{"name": "g", "kind": "repos", "paths": ["x"]}], "ray": ray})
    args = argparse.Namespace(no_dashboard=flag, num_cpus=None, in_process=False)
    lazy = cli._lazy_runner(args, cfg, None)
    assert start.calls == []  # made, not started
    lazy.runner()
    assert [c["dashboard"] for c in start.calls] == [expected]


def test_an_unreachable_ray_client_address_fails_before_any_stage(tmp_path, monkeypatch, capsys) -> None:
    """ray[client] is installed: a dead `ray://` address is a one-line pre-flight error (exit 2), not
    Ray's "requires pip package ray[client]", and nothing is written for the stages."""
    monkeypatch.setenv("RAY_ADDRESS", "ray://127.0.0.1:1")
    out = tmp_path / "out"
    assert main(["run", str(_config(tmp_path)), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "ray://127.0.0.1:1" in err and "unreachable" in err and "ray[client]" not in err
    assert not (out / "ingest").exists()


def test_run_json_gives_rates_for_kept_text_and_with_the_start(finished_run) -> None:
    """run.json states both rates: of the text ingested and of the text that reached the shards, and the
    wall with the runner's start as well as without it."""
    _, out = finished_run
    run = json.loads((out / "reports" / "run.json").read_text())
    last = json.loads((out / STAGES[-1] / "_SUCCESS.json").read_text())
    assert run["kept_text_mb"] == round(last["stats"]["bytes"]["kept"] / 1e6, 2)
    assert run["kept_text_mb"] <= run["text_mb"]
    assert run["wall_with_start_seconds"] >= run["wall_seconds"]
    assert run["kept_mb_per_s_per_core"] is not None and run["kept_mb_per_s_per_core"] <= run["mb_per_s_per_core"]
