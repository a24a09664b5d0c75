"""`corpus explain`: the pipeline's own reader, langid and filter stages, with every rule's value and
threshold; the decision must be the one FilterStage.process makes on the same row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corpus.commands.explain import Explainer, PathError, StageConfigs, load_stage_configs, read_paths
from corpus.filters.signals import code_signals
from corpus.ingest.repos import walk_local_repo
from corpus.records import Doc, docs_to_table
from corpus.stages.filter import FilterConfig, FilterStage
from corpus.stages.langid import LangIdConfig, LangIdStage

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "langs" / "samples"


@pytest.fixture(scope="module")
def explainer() -> Explainer:
    return Explainer(load_stage_configs())


def _rule(line: dict, name: str, signal: str | None = None) -> dict:
    [rule] = [r for r in line["rules"] if r["name"] == name and (signal is None or r["signal"] == signal)]
    return rule


def _write(root: Path, rel: str, data: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_a_real_source_file_is_kept_with_every_rule_measured(explainer: Explainer) -> None:
    [line] = explainer.explain_paths([str(SAMPLES / "lib.rs")])
    text = (SAMPLES / "lib.rs").read_text()
    assert line["path"].endswith("samples/lib.rs")  # relative to the working folder
    assert (line["language"], line["decision"], line["reasons"]) == ("Rust", "kept", [])
    assert line["method"]
    assert all(r["passed"] for r in line["rules"])
    assert line["signals"]["max_line_length"] == code_signals(text).max_line_length
    assert line["signals"]["vendored"] is False and line["signals"]["generated"] is False
    longest = _rule(line, "max_line_length")
    assert (longest["value"], longest["threshold"]) == (code_signals(text).max_line_length, 1000)
    assert _rule(line, "alpha_fraction")["threshold"] == 0.25


def test_a_long_line_is_dropped_with_the_value_and_threshold(tmp_path: Path, explainer: Explainer) -> None:
    _write(tmp_path / "repo", "src/gen.py", "x = 1\n" + "y" * 1234 + "\n" + "z = 2\n" * 40)
    [line] = explainer.explain_paths([str(tmp_path / "repo")])
    assert (line["path"], line["language"], line["decision"]) == ("src/gen.py", "Python", "dropped")
    assert line["reasons"] == ["max_line_length"] and line["stage"] == "filter"
    rule = _rule(line, "max_line_length")
    assert (rule["value"], rule["threshold"], rule["passed"]) == (1234, 1000, False)
    assert _rule(line, "avg_line_length")["passed"] is True
    assert "1234 > 1000" in line["detail"]


def test_data_file_size_rule_and_every_failed_rule_listed(tmp_path: Path, explainer: Explainer) -> None:
    _write(tmp_path / "repo", "conf.yaml", "key: value\n")
    _write(tmp_path / "repo", "vendor/lib/jquery.js", "1,2,3\n" * 50)
    lines = {d["path"]: d for d in explainer.explain_paths([str(tmp_path / "repo")])}
    yaml_line = lines["conf.yaml"]
    assert (yaml_line["language"], yaml_line["reasons"]) == ("YAML", ["too_short_for_data_file"])
    rule = _rule(yaml_line, "too_short_for_data_file")
    assert (rule["value"], rule["op"], rule["threshold"], rule["passed"]) == (11, ">=", 50, False)
    # Vendored is what the stage records; the failed alpha rule is listed after it.
    js = lines["vendor/lib/jquery.js"]
    assert js["signals"]["vendored"] is True
    assert js["reasons"] == ["vendored", "alpha_fraction"]
    assert _rule(js, "alpha_fraction")["value"] == 0.0


def test_html_rule_shows_both_visible_text_measures(explainer: Explainer) -> None:
    [line] = explainer.explain_paths([str(SAMPLES / "index.html")])
    assert line["reasons"] == ["html_visible_text"]
    chars = _rule(line, "html_visible_text", "visible_text_chars")
    frac = _rule(line, "html_visible_text", "visible_text_fraction")
    assert chars["threshold"] == 100 and frac["threshold"] == 0.2
    assert not (chars["passed"] and frac["passed"])


def test_decisions_equal_the_stages_on_the_same_rows(tmp_path: Path, explainer: Explainer) -> None:
    """The rows ingest reads from real files, through LangIdStage and FilterStage as one table, and
    `explain` file by file: the same kept set, the same reasons, the same details."""
    repo = tmp_path / "mixed"
    for f in sorted(SAMPLES.iterdir()):
        _write(repo, f.name, f.read_bytes())
    _write(repo, "wide.c", "int x;\n" + "/*" + "a" * 2000 + "*/\n")
    _write(repo, "vendor/dep.py", "import os\nprint(os.sep)\n")
    _write(repo, "digits.py", "1234567890 = 0\n" * 10)
    docs = [d for d in walk_local_repo(repo, source="explain", domain="code", repo="mixed", max_bytes=1_000_000)
            if isinstance(d, Doc)]
    ided = LangIdStage().process(docs_to_table(docs))
    result = FilterStage().process(ided.kept)
    expected = {r["path"]: (r["reason"], r["detail"]) for r in result.dropped.to_pylist()}
    expected.update({p: None for p in result.kept.column("path").to_pylist()})
    got = {d["path"]: (d["reasons"][0], d["detail"]) if d["decision"] == "dropped" else None
           for d in explainer.explain_paths([str(repo)])}
    assert got == expected
    assert {"kept", "dropped"} == {"kept" if v is None else "dropped" for v in got.values()}


def test_binary_undecodable_and_too_large_files_are_lines_not_crashes(tmp_path: Path) -> None:
    small = Explainer(StageConfigs(LangIdConfig(), FilterConfig(), max_file_bytes=100))
    _write(tmp_path / "r", "logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    _write(tmp_path / "r", "latin1.c", "/* caf\xe9 */\n".encode("latin-1"))
    _write(tmp_path / "r", "big.py", "x = 1\n" * 50)
    lines = {d["path"]: d for d in small.explain_paths([str(tmp_path / "r")])}
    assert lines["logo.png"]["reasons"] == ["binary"] and "NUL byte at offset 8" in lines["logo.png"]["detail"]
    assert lines["latin1.c"]["reasons"] == ["bad_encoding"]
    assert lines["big.py"]["reasons"] == ["too_large"] and "300 bytes > max_file_bytes 100" in lines["big.py"]["detail"]
    assert all(d["decision"] == "dropped" and d["stage"] == "ingest" and d["rules"] == [] for d in lines.values())


def test_a_missing_path_is_an_error_not_a_dropped_line(tmp_path: Path) -> None:
    with pytest.raises(PathError, match="missing.py: no such file"):
        list(read_paths([str(tmp_path / "missing.py")], 1000))


def test_an_unparsable_notebook_is_a_langid_drop(tmp_path: Path, explainer: Explainer) -> None:
    _write(tmp_path / "nb", "broken.ipynb", '{"cells": [ not json')
    [line] = explainer.explain_paths([str(tmp_path / "nb")])
    assert (line["decision"], line["stage"], line["reasons"]) == ("dropped", "langid", ["notebook_unparsable"])
    assert line["language"] == "Jupyter Notebook"


def test_the_repository_root_is_the_git_work_tree_whatever_the_working_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, explainer: Explainer) -> None:
    repo = tmp_path / "X"
    (repo / ".git").mkdir(parents=True)
    _write(repo, "vendor/a.py", "import os\nprint(os.sep)\n")
    (tmp_path / "elsewhere").mkdir()
    seen = []
    for cwd in (tmp_path / "elsewhere", tmp_path, repo, repo / "vendor"):
        monkeypatch.chdir(cwd)
        [line] = explainer.explain_paths([os.path.relpath(repo / "vendor/a.py")])
        seen.append((line["repo"], line["path"], line["signals"]["vendored"], line["reasons"]))
    assert seen == [("X", "vendor/a.py", True, ["vendored"])] * 4
    # A subfolder of the work tree is walked with its paths from the root too.
    [line] = explainer.explain_paths([str(repo / "vendor")])
    assert (line["path"], line["signals"]["vendored"]) == ("vendor/a.py", True)


def test_root_option_sets_the_repository_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "Y", "vendor/a.py", "x = 1\n")  # no .git: the working folder decides by default
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "other")
    [item] = read_paths([str(tmp_path / "Y/vendor/a.py")], 1000)
    assert (item.repo, item.path) == ("vendor", "a.py")
    [item] = read_paths([str(tmp_path / "Y/vendor/a.py")], 1000, root=tmp_path / "Y")
    assert (item.repo, item.path) == ("Y", "vendor/a.py")
    [item] = read_paths([str(tmp_path / "Y/vendor")], 1000, root=str(tmp_path / "Y"))
    assert (item.repo, item.path) == ("Y", "vendor/a.py")
    with pytest.raises(PathError, match="not inside --root"):
        list(read_paths([str(tmp_path / "Y/vendor/a.py")], 1000, root=tmp_path / "other"))


def test_a_file_keeps_its_path_under_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, "third_party/vendor/x.js", "var a = 1;\n")
    monkeypatch.chdir(tmp_path)
    [item] = read_paths(["third_party/vendor/x.js"], 1000)
    assert (item.repo, item.path) == (tmp_path.name, "third_party/vendor/x.js")
    [item] = read_paths([str(tmp_path / "third_party/vendor/x.js")], 1000, repo="mine")
    assert (item.repo, item.path) == ("mine", "third_party/vendor/x.js")


def test_filter_drop_details_carry_value_and_threshold() -> None:
    docs = [
        Doc(source="gh", domain="code", repo="r", path="wide.py", text="x = 1\n" + "y" * 1234 + "\n" + "z = 2\n" * 40,
            language="Python"),
        Doc(source="gh", domain="code", repo="r", path="avg.py", text=("x" * 101 + "\n") * 3, language="Python"),
        Doc(source="gh", domain="code", repo="r", path="d.json", text="{" + '"k": 1,\n' * 700 + "}", language="JSON"),
        Doc(source="gh", domain="code", repo="r", path="n.py", text="1234567890 = 0\n" * 10, language="Python"),
    ]
    dropped = {r["path"]: r for r in FilterStage().process(docs_to_table(docs)).dropped.to_pylist()}
    assert dropped["wide.py"]["reason"] == "max_line_length"
    assert dropped["wide.py"]["detail"] == "r/wide.py: max_line_length 1234 > 1000 (Python)"
    assert dropped["avg.py"]["detail"] == "r/avg.py: avg_line_length 101 > 100 (Python)"
    assert dropped["d.json"]["reason"] == "too_long_for_data_file"
    assert "chars 5602 > 5000" in dropped["d.json"]["detail"]
    assert dropped["n.py"]["reason"] == "alpha_fraction" and "0 < 0.25" in dropped["n.py"]["detail"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus.cli", "explain", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_cli_reads_the_stage_sections_of_a_pipeline_config(tmp_path: Path) -> None:
    _write(tmp_path / "proj", "vendor/dep.py", "import os\nprint(os.sep)\n")
    _write(tmp_path / "proj", "main.py", "def main():\n    return 0\n")
    _write(tmp_path / "proj", "huge.py", "x = 1\n" * 100)
    config = tmp_path / "run.yaml"
    config.write_text("inputs: [{name: g, kind: repos, domain: code, paths: [proj]}]\n"
                      "stages:\n  ingest: {max_file_bytes: 500}\n  filter: {drop_vendored: false}\n")
    out = _cli("proj", "--config", str(config), "--repo", "demo", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = {d["path"]: d for d in map(json.loads, out.stdout.splitlines())}
    assert set(lines) == {"vendor/dep.py", "main.py", "huge.py"}
    assert lines["vendor/dep.py"]["decision"] == "kept"  # drop_vendored: false applies
    assert not any(r["name"] == "vendored" for r in lines["vendor/dep.py"]["rules"])
    assert lines["huge.py"]["reasons"] == ["too_large"]
    assert lines["main.py"]["detail"] == "" and lines["main.py"]["language"] == "Python"
    assert all(d["repo"] == "demo" for d in lines.values())
    # The default config drops the vendored file.
    default = _cli("proj/vendor/dep.py", cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    assert json.loads(default.stdout)["reasons"] == ["vendored"]


def test_cli_rejects_an_invalid_config_by_name(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("stages:\n  filter: {drop_everything: true}\n")
    out = _cli(str(tmp_path), "--config", str(config), cwd=tmp_path)
    assert out.returncode == 2
    assert "drop_everything" in out.stderr and out.stdout == ""


def test_a_pkg_config_loads_like_the_packaged_default() -> None:
    assert load_stage_configs("pkg:pipelines/default.yaml") == load_stage_configs()
    with pytest.raises(FileNotFoundError):
        load_stage_configs("pkg:no_such_package_here/default.yaml")


def test_cli_takes_pkg_configs_and_reports_missing_paths_with_status_2(tmp_path: Path) -> None:
    _write(tmp_path / "proj", "main.py", "def main():\n    return 0\n")
    _write(tmp_path / "proj", "vendor/dep.py", "import os\nprint(os.sep)\n")
    out = _cli("--config", "pkg:pipelines/default.yaml", "--root", "proj", "nope.py", "proj/main.py",
               "proj/vendor/dep.py", cwd=tmp_path)
    assert out.returncode == 2
    assert "nope.py: no such file or directory" in out.stderr
    lines = [json.loads(s) for s in out.stdout.splitlines()]
    assert [(d["repo"], d["path"], d["decision"]) for d in lines] == [
        ("proj", "main.py", "kept"), ("proj", "vendor/dep.py", "dropped")]


# ------------------------------------------------------------------------------ --run: from a finished run


@pytest.fixture(scope="module")
def explained_run(tmp_path_factory):
    """The end-to-end fixture of tests/pipelines/test_pipeline.py, in process, with pages below the recall threshold
    dropped (so every dropping stage has a drop to explain)."""
    from corpus.engine.executor import Executor, write_stats_report
    from corpus.engine.runner import InProcessRunner
    from pipelines.config import PipelineConfig
    from pipelines.graph import build_stages
    from tests.pipelines.test_pipeline import _config

    root = tmp_path_factory.mktemp("explain_run")
    data = _config(root, None).model_dump(mode="json")
    data["stages"]["recall"].update(drop_unrecalled=True, page_eval=False)
    cfg = PipelineConfig.model_validate(data)
    out = root / "out"
    write_stats_report(out, Executor(str(out), seed=cfg.seed, runner=InProcessRunner()).run(build_stages(cfg)))
    return out


def _run_rows(out: Path, stage: str, folder: str) -> list[dict]:
    import pyarrow.parquet as pq

    parts = sorted((out / stage / folder).glob("part-*.parquet"))
    return [r for p in parts for r in pq.read_table(p, columns=["repo", "path"] + (["reason"] if folder else [])).to_pylist()]


def test_run_answers_give_the_stage_and_reason_the_run_recorded_for_every_file(explained_run) -> None:
    from corpus.commands.explain import Wanted, explain_from_run

    out = explained_run
    stats = json.loads((out / "reports" / "stats.json").read_text())
    truth: dict[tuple, set] = {}  # (repo, path) -> {(stage, reason)}: a URL can be several records
    for stage in stats["order"]:
        for r in _run_rows(out, stage, "_dropped"):
            truth.setdefault((r["repo"], r["path"]), set()).add((stage, r["reason"]))
        if stage == "repo_samples":
            break
    kept = {(r["repo"], r["path"]) for r in _run_rows(out, "decont", "")}
    assert {s for v in truth.values() for s, _ in v} >= {"ingest", "filter", "dedup_exact", "decont", "recall"}
    wanted = [Wanted(p, p, repo) for repo, p in set(truth) | kept]
    lines = explain_from_run(str(out), wanted)
    got: dict[tuple, list] = {}
    for ln in lines:
        got.setdefault((ln["repo"], ln["path"]), []).append(ln)
    for key, drops in truth.items():
        assert {(ln["stage"], ln["reasons"][0]) for ln in got[key] if ln["decision"] == "dropped"} == drops, key
    in_shards = _files_in_shards_input(out)
    for key in kept - set(truth):
        [ln] = got[key]
        assert ln["decision"] == "kept" and ln["reached"] == "decont", key
        # From the shards' provenance: the rows the file went to, or none when its sample was dropped later.
        assert bool(ln["shard"]) == (key in in_shards) and (ln["detail"] == "") == (key in in_shards), (key, ln)
    assert any(ln.get("shard") for ln in lines)
    assert all(ln["from"] == f"run {out}" for ln in lines)


def _files_in_shards_input(out: Path) -> set[tuple]:
    """(repo, path) of every file the shards stage read: its input documents' meta["files"] (repository
    samples) or their own path (web pages)."""
    import pyarrow.parquet as pq

    held = set()
    for part in sorted((out / "dedup_near").glob("part-*.parquet")):
        for r in pq.read_table(part, columns=["repo", "path", "meta"]).to_pylist():
            files = json.loads(r["meta"] or "{}").get("files")
            held.update((r["repo"], f) for f in files) if files else held.add((r["repo"], r["path"]))
    return held


def test_run_answers_name_the_shard_rows_that_hold_a_kept_file(explained_run) -> None:
    """A kept file's shard rows, decoded, hold its text (checked on the shards, not on provenance)."""
    import pyarrow.parquet as pq
    from tokenizers import Tokenizer

    from corpus.commands.explain import Wanted, explain_from_run

    out = explained_run
    tok = Tokenizer.from_file(str(out / "shards" / "tokenizer.json"))
    texts = {}
    for part in sorted((out / "decont").glob("part-*.parquet")):
        for r in pq.read_table(part, columns=["repo", "path", "text"]).to_pylist():
            texts[(r["repo"], r["path"])] = r["text"]
    lines = explain_from_run(str(out), [Wanted(p, p, repo) for repo, p in texts])
    checked = 0
    for ln in lines:
        if not ln.get("shard"):
            continue
        decoded = ""
        for hit in ln["shard"]:
            table = pq.read_table(out / "shards" / hit["file"], columns=["input_ids"])
            ids = table.column("input_ids").to_pylist()
            decoded += "".join(tok.decode(ids[r], skip_special_tokens=True) for r in hit["rows"])
        lines_of_file = [x.strip() for x in texts[(ln["repo"], ln["path"])].splitlines() if len(x.strip()) > 12]
        if lines_of_file:
            assert any(x in decoded for x in lines_of_file), (ln["repo"], ln["path"])
            checked += 1
    assert checked >= 5


def test_run_answers_name_the_kept_copy_the_benchmark_item_and_the_recall_scores(explained_run) -> None:
    from corpus.commands.explain import Wanted, explain_from_run

    out = explained_run
    [dup] = explain_from_run(str(out), [Wanted("pkg/mod0.py", "pkg/mod0.py", "alpha")])
    assert dup["stage"] == "dedup_exact" and dup["reasons"] == ["exact_duplicate"]
    assert (dup["kept_copy"]["repo"], dup["kept_copy"]["path"]) == ("alpha", "pkg/copy.py")
    [leak] = explain_from_run(str(out), [Wanted("solution.py", "solution.py", "gamma")])
    assert leak["stage"] == "decont" and {"benchmark": "humaneval", "item": "HumanEval/0"} in leak["benchmark_items"] and leak["ngram"]
    dropped = [r for r in _run_rows(out, "recall", "_dropped")]
    assert dropped, "the fixture's run dropped a page below the recall threshold"
    [page] = [ln for ln in explain_from_run(str(out), [Wanted(dropped[0]["path"], dropped[0]["path"], None)]) if ln["stage"] == "recall"]
    assert page["reasons"] == ["not_recalled"] and set(page["scores"]) >= {"code", "other"} and max(page["scores"].values()) <= 1
    assert set(page["evidence"]) == {"code_tokens", "math_words"} and all(0 <= v <= 1 for v in page["evidence"].values())


def test_run_answers_read_no_text_column(explained_run, monkeypatch) -> None:
    from corpus import storage
    from corpus.commands.explain import Wanted, explain_from_run

    read: list[tuple] = []
    real = storage.parquet_file

    class Spy:
        def __init__(self, uri):
            self.f = real(uri)
            self.schema_arrow, self.metadata = self.f.schema_arrow, self.f.metadata

        def read(self, columns=None, **kw):
            read.append(tuple(columns) if columns is not None else None)
            return self.f.read(columns=columns, **kw)

        def read_row_group(self, g, columns=None, **kw):
            read.append(tuple(columns) if columns is not None else None)
            return self.f.read_row_group(g, columns=columns, **kw)

    monkeypatch.setattr(storage, "parquet_file", Spy)
    lines = explain_from_run(str(explained_run), [Wanted("pkg/mod0.py", "pkg/mod0.py", "alpha"), Wanted("pkg/mod1.py", "pkg/mod1.py", None)])
    assert [ln["path"] for ln in lines] == ["pkg/mod0.py", "pkg/mod1.py"]
    assert read and all(cols is not None and "text" not in cols and "meta" not in cols for cols in read), read


def test_explain_cli_with_and_without_a_run(explained_run, tmp_path, capsys) -> None:
    import argparse

    from corpus.commands.explain import add_commands

    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())  # this tree's command, whatever plug-in the installed metadata names

    def main(argv: list[str]) -> int:
        args = parser.parse_args(argv)
        return args.func(args)

    assert main(["explain", "--run", str(explained_run), "alpha/pkg/mod0.py", "no/such/file.py"]) == 2
    captured = capsys.readouterr()
    [line] = [json.loads(x) for x in captured.out.splitlines()]
    assert line["stage"] == "dedup_exact" and line["kept_copy"]["path"] == "pkg/copy.py"
    assert "no/such/file.py: no record of the run" in captured.err
    f = _write(tmp_path, "a.py", "def f(x):\n    return x\n")
    assert main(["explain", str(f), "--root", str(tmp_path)]) == 0
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["decision"] == "kept" and line["from"].startswith("re-evaluation")


def test_run_answers_from_an_object_store_equal_the_local_ones(explained_run, s3_server, monkeypatch) -> None:
    """The same run copied to a real S3 server (SeaweedFS): every answer is the same, read through the storage layer."""
    from corpus import storage
    from corpus.commands.explain import Wanted, explain_from_run

    wanted = [Wanted("pkg/mod0.py", "pkg/mod0.py", "alpha"), Wanted("solution.py", "solution.py", "gamma"),
              Wanted("pkg/mod1.py", "pkg/mod1.py", None)]
    local = explain_from_run(str(explained_run), wanted)
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    storage.configure(None)
    remote_out = f"s3://{s3_server.bucket}/explain-run"
    try:
        for path in explained_run.rglob("*"):
            if path.is_file() and (path.suffix in (".parquet", ".json")):
                storage.upload_file(path, storage.join(remote_out, path.relative_to(explained_run).as_posix()))
        remote = explain_from_run(remote_out, wanted)
    finally:
        storage.configure(None)
    assert len(local) == 3 and [{**ln, "from": None} for ln in remote] == [{**ln, "from": None} for ln in local]
    assert remote[0]["from"] == f"run {remote_out}"
