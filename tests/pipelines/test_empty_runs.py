"""A run that would produce nothing useful fails with a clear message instead of exiting 0."""

from __future__ import annotations

import pytest

from corpus.engine.executor import Executor
from corpus.errors import EmptyOutputError
from pipelines.config import PipelineConfig
from pipelines.graph import build_stages


def _config(tmp_path, paths: list[str], allow_empty: bool = False) -> PipelineConfig:
    return PipelineConfig.model_validate({
        "inputs": [
            {"name": "github", "kind": "repos", "paths": paths},
            {"name": "web", "kind": "warc", "domain": "text", "paths": ["pkg:corpus/samples/web_sample.warc.gz"]},
        ],
        "run": ["ingest"],
        "allow_empty": allow_empty,
    })


def test_git_urls_that_all_fail_to_clone_are_an_error(tmp_path) -> None:
    # Port 9 on loopback: connection refused at once, no network needed.
    cfg = _config(tmp_path, ["https://127.0.0.1:9/nobody/nothing.git"])
    with pytest.raises(EmptyOutputError, match=r"\['github'\] yielded no documents.*clone_failed=1"):
        Executor(str(tmp_path / "out"), seed=1).run(build_stages(cfg))


def test_allow_empty_turns_the_error_into_a_warning(tmp_path, caplog) -> None:
    repo = tmp_path / "bin_only"
    repo.mkdir()
    (repo / "blob.bin").write_bytes(bytes(range(256)) * 8)
    cfg = _config(tmp_path, [str(repo)], allow_empty=True)
    results = Executor(str(tmp_path / "out"), seed=1).run(build_stages(cfg))
    assert results["ingest"].dropped["binary"] == 1
    assert "yielded no documents" in caplog.text
    with pytest.raises(EmptyOutputError):
        Executor(str(tmp_path / "out2"), seed=1).run(build_stages(_config(tmp_path, [str(repo)])))


def test_the_cli_exits_non_zero_with_one_line(tmp_path, capsys) -> None:
    import yaml

    from corpus.cli import main

    cfg = _config(tmp_path, ["https://127.0.0.1:9/nobody/nothing.git"]).model_dump(mode="json")
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    code = main(["run", str(path), "--output", str(tmp_path / "out"), "--in-process"])
    assert code == 4
    assert "yielded no documents" in capsys.readouterr().err
