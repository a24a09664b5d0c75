"""Any exception one input file causes is a drop of that file with a reason naming it and the cause,
never a failed task: notebook conversion (a 2.5 KB notebook nested 1,200 deep raised RecursionError
through the whole run), detection, the filter's signals, a reader's decoder; `corpus explain` answers
for such a file too. Failures of the machine (disk full) still fail the task."""

from __future__ import annotations

import errno
import tarfile
from pathlib import Path

import pyarrow as pa
import pytest

from corpus.commands.explain import Explainer, load_stage_configs
from corpus.engine.executor import Executor
from corpus.ingest.kinds import make_input
from corpus.records import Doc, docs_to_table
from corpus.stages.filter import FilterStage
from corpus.stages.ingest import IngestConfig, IngestStage
from corpus.stages.langid import LangIdStage
from lang_registry.notebooks import NotebookError, notebook_to_script

DEEP_NOTEBOOK = '{"cells": [' + "[" * 1200 + "]" * 1200 + '], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def _table(files: dict[str, str]) -> pa.Table:
    return docs_to_table([Doc(source="gh", domain="code", repo="r", path=p, text=t) for p, t in files.items()])


def test_a_deeply_nested_notebook_is_a_notebook_error() -> None:
    assert len(DEEP_NOTEBOOK) < 2600
    with pytest.raises(NotebookError, match="RecursionError"):
        notebook_to_script(DEEP_NOTEBOOK)


def test_a_deeply_nested_notebook_is_one_langid_drop() -> None:
    result = LangIdStage().process(_table({"deep.ipynb": DEEP_NOTEBOOK, "ok.py": "print('ok')\n"}))
    assert result.kept.column("path").to_pylist() == ["ok.py"]
    drop = result.dropped.to_pylist()
    assert [(d["path"], d["reason"]) for d in drop] == [("deep.ipynb", "notebook_unparsable")]
    assert drop[0]["detail"].startswith("r/deep.ipynb: ") and "RecursionError" in drop[0]["detail"]


def test_detection_raising_on_one_file_is_a_langid_error_drop(monkeypatch: pytest.MonkeyPatch) -> None:
    import lang_registry

    real = lang_registry.detect

    def detect(path, data, registry):
        if path == "evil.c":
            raise RecursionError("maximum recursion depth exceeded")
        return real(path, data, registry)

    monkeypatch.setattr(lang_registry, "detect", detect)
    result = LangIdStage().process(_table({"evil.c": "int x;\n", "ok.py": "print('ok')\n"}))
    assert result.kept.column("path").to_pylist() == ["ok.py"]
    assert result.dropped.to_pylist()[0] | {"id": None, "size": None} == {
        "id": None, "source": "gh", "repo": "r", "path": "evil.c", "size": None, "reason": "langid_error",
        "detail": "r/evil.c: RecursionError: maximum recursion depth exceeded"}
    # A failure of the machine is not the file's: it still fails the task.
    monkeypatch.setattr(lang_registry, "detect", lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(OSError):
        LangIdStage().process(_table({"ok.py": "print('ok')\n"}))


def test_a_signal_raising_on_one_file_is_a_filter_error_drop(monkeypatch: pytest.MonkeyPatch) -> None:
    from corpus.filters import code_rules

    real = code_rules.first_failure

    def first_failure(text, language, rules):
        if "EVIL" in text:
            raise ValueError("parser gave up")
        return real(text, language, rules)

    monkeypatch.setattr(code_rules, "first_failure", first_failure)
    ided = LangIdStage().process(_table({"evil.py": "EVIL = 1\n", "ok.py": "print('ok')\n"})).kept
    result = FilterStage().process(ided)
    assert result.kept.column("path").to_pylist() == ["ok.py"]
    [drop] = result.dropped.to_pylist()
    assert (drop["path"], drop["reason"], drop["detail"]) == ("evil.py", "filter_error", "r/evil.py: ValueError: parser gave up")


def test_a_decoder_raising_inside_a_reader_is_one_read_error_drop(tmp_path: Path, run_ingest, monkeypatch) -> None:
    import corpus.ingest.kinds.repos as ingest_mod  # the repos kind calls the tarball reader

    def tarball(path: Path, files: dict[str, bytes]) -> None:
        with tarfile.open(path, "w:gz") as tar:
            for name, data in files.items():
                src = tmp_path / "src"
                src.write_bytes(data)
                tar.add(src, arcname=name)

    folder = tmp_path / "repos"
    folder.mkdir()
    tarball(folder / "a.tar.gz", {"a.py": b"a = 1\n", "boom.py": b"b = 2\n"})
    tarball(folder / "b.tar.gz", {"b.py": b"b = 1\n"})
    real = ingest_mod.read_tarball

    def read_tarball(uri, **kw):  # a decoder that raises on one member
        for item in real(uri, **kw):
            if item.path == "boom.py":
                raise RecursionError("maximum recursion depth exceeded while decoding")
            yield item

    monkeypatch.setattr(ingest_mod, "read_tarball", read_tarball)
    r = run_ingest([{"name": "gh", "kind": "repos", "paths": [str(folder)], "each_subdir": True}])
    assert sorted(r.docs.column("path").to_pylist()) == ["a.py", "b.py"], "what was read before is kept; the next unit is read"
    assert r.reasons() == {"read_error": 1}
    [detail] = r.details("read_error")
    assert detail == f"{folder / 'a.tar.gz'}: reading stopped: RecursionError: maximum recursion depth exceeded while decoding"


def test_a_run_and_a_resume_over_a_deep_notebook_finish(tmp_path: Path) -> None:
    repo = tmp_path / "repos" / "r"
    repo.mkdir(parents=True)
    (repo / "deep.ipynb").write_text(DEEP_NOTEBOOK)
    (repo / "ok.py").write_text("def f(x):\n    return x + 1\n")

    def stages():
        return [IngestStage(IngestConfig(inputs=[make_input(name="gh", kind="repos", paths=[str(repo)])])), LangIdStage(), FilterStage()]

    out = str(tmp_path / "out")
    results = Executor(out, seed=1).run(stages())
    assert dict(results["langid"].dropped) == {"notebook_unparsable": 1}
    assert Executor(out, seed=1, resume=True).run(stages())["langid"].kept == 1


def test_explain_answers_for_a_deep_notebook(tmp_path: Path) -> None:
    nb = tmp_path / "deep.ipynb"
    nb.write_text(DEEP_NOTEBOOK)
    [line] = list(Explainer(load_stage_configs()).explain_paths([str(nb)], root=str(tmp_path)))
    assert (line["decision"], line["stage"], line["reasons"]) == ("dropped", "langid", ["notebook_unparsable"])
    assert "RecursionError" in line["detail"]
