"""Filename-level languages: Linguist's file names before extensions (`go.mod` is Go Module, never Modula-2),
curated name patterns (`Dockerfile.*`), folders that name a config format (`.cargo/config`), and project config
folders that are not vendored. The labelled hold-out list is lang_registry/data/filename_labels.tsv."""

from __future__ import annotations

import json

import pytest

from corpus.records import Doc, docs_to_table
from corpus.stages.filter import FilterStage
from corpus.stages.langid import LangIdStage
from lang_registry import detect, load_registry
from lang_registry.evaluate import filename_accuracy, reported_name


def test_every_labelled_filename_level_file_gets_its_name_and_vendored_flag() -> None:
    res = filename_accuracy()
    assert res["files"] >= 70
    assert res["misses"] == [] and res["vendored_misses"] == []


@pytest.mark.parametrize("path", ["go.mod", "tools/go.mod", "vendor/x/go.mod"])
def test_go_mod_is_reported_as_linguists_go_module_not_guessed_from_mod(path: str) -> None:
    text = b"module github.com/spf13/cobra\n\ngo 1.15\n\nrequire github.com/spf13/pflag v1.0.5\n"
    d = detect(path, text, load_registry())
    assert (d.language, d.method, d.outside) == (None, "outside-filename", ("Go Module", "data"))


def test_a_modula2_file_with_mod_extension_is_still_modula2() -> None:
    text = b"MODULE Hello;\nFROM InOut IMPORT WriteString, WriteLn;\nBEGIN\n  WriteString('hi'); WriteLn\nEND Hello.\n"
    assert detect("src/Hello.mod", text, load_registry()).language == "Modula-2"


@pytest.mark.parametrize(("path", "want"), [
    ("Dockerfile.multi-arch", "Dockerfile"), ("docker/Dockerfile.alpine", "Dockerfile"),
    ("Makefile.common", "Makefile"), ("Dockerfile.py", "Python"),  # the file's own unique extension wins
])
def test_name_patterns_come_after_the_files_own_extension(path: str, want: str) -> None:
    assert reported_name(load_registry(), path, b"x\n") == want


@pytest.mark.parametrize(("path", "vendored"), [
    (".cargo/config.toml", False), (".cargo/config", False), (".github/workflows/ci.yml", False),
    (".bundle/config", False), (".cargo/registry/src/index/serde-1.0.0/src/lib.rs", True),
    (".cargo/git/checkouts/x/src/lib.rs", True), (".bundle/gems/rake/lib/rake.rb", True),
])
def test_project_config_folders_are_not_vendored(path: str, vendored: bool) -> None:
    assert detect(path, b"x = 1\n", load_registry()).vendored is vendored


def test_langid_records_linguists_name_and_the_filter_drop_names_it() -> None:
    docs = [Doc(source="github", domain="code", repo="spf13/cobra", path="go.mod", text="module x\n\ngo 1.21\n"),
            Doc(source="github", domain="code", repo="tokio-rs/tokio", path=".cargo/config.toml",
                text='[build]\nrustflags = ["-C", "x"]\n')]
    out = LangIdStage().process(docs_to_table(docs)).kept.to_pylist()
    assert [(r["language"], r["lang_method"], r["vendored"]) for r in out] == [
        (None, "outside-filename", False), ("TOML", "code_related_data", False)]
    assert json.loads(out[0]["meta"])["linguist"] == {"language": "Go Module", "type": "data"}
    verdict = FilterStage().judge(out[0])
    assert verdict is not None and verdict[0] == "unknown_language" and "Linguist: Go Module (data)" in verdict[1]


@pytest.mark.parametrize(("path", "want"), [("pom.xml", "XML"), ("configure.ac", "M4"), ("Snakefile", "Python"),
                                            (".npmrc", "INI"), ("ssh_config", "INI")])
def test_a_linguist_group_member_goes_by_its_group(path: str, want: str) -> None:
    assert reported_name(load_registry(), path, b"x\n") == want


def test_explain_shows_linguists_name_and_the_prose_rules(tmp_path) -> None:
    from corpus.commands.explain import Explainer, load_stage_configs

    (tmp_path / "go.mod").write_text("module github.com/spf13/cobra\n\ngo 1.15\n")
    long_paragraph = " ".join(f"word{i % 97} and more" for i in range(120))  # one ~1,500-character line
    (tmp_path / "README.md").write_text(f"# Title\n\n{long_paragraph}\n")
    lines = {d["path"]: d for d in Explainer(load_stage_configs()).explain_paths(
        [str(tmp_path / "go.mod"), str(tmp_path / "README.md")], root=tmp_path)}
    mod, readme = lines["go.mod"], lines["README.md"]
    assert (mod["language"], mod["method"], mod["decision"]) == (None, "outside-filename", "dropped")
    assert mod["detail"].endswith("Linguist: Go Module (data)")
    assert (readme["language"], readme["decision"]) == ("Markdown", "kept")
    assert {"mean_paragraph_chars", "max_word_length", "prose_repetition"} <= {r["name"] for r in readme["rules"]}
    assert "avg_line_length" not in {r["name"] for r in readme["rules"]}


def test_langs_detect_names_linguists_language_for_a_file_outside_the_338(tmp_path, capsys) -> None:
    from lang_registry.cli import main

    (tmp_path / "go.mod").write_text("module x\n\ngo 1.21\n")
    assert main(["langs", "detect", "--json", str(tmp_path / "go.mod")]) == 0
    line = json.loads(capsys.readouterr().out)
    assert (line["language"], line["method"], line["linguist"]) == (None, "outside-filename",
                                                                    {"language": "Go Module", "type": "data"})
