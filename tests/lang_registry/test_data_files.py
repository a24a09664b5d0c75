"""Data and configuration files: named (YAML, TOML, INI, ...) instead of dropped as unknown, and
DeepSeek's JSON/YAML 50..5000-character rule applied to them by the filter."""

from __future__ import annotations

import pytest

from corpus.filters.code_rules import check_code, load_rules
from corpus.records import Doc, docs_to_table
from corpus.stages.filter import FilterStage
from corpus.stages.langid import LangIdConfig, LangIdStage
from lang_registry import detect, load_registry
from lang_registry.detect import code_related

WORKFLOW = """\
name: tests
on:
  push:
    branches: [main]
  pull_request:
jobs:
  test:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        python-version: ["3.10", "3.11", "3.12"]
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: ${{ matrix.python-version }}
      - run: pip install -e .[dev]
      - run: pytest -q
"""

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "tinyhttp"
version = "0.3.1"
dependencies = ["h11>=0.14", "certifi"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

SETUP_CFG = """\
[metadata]
name = tinyhttp
license = MIT

[flake8]
max-line-length = 100
exclude = .git,__pycache__,build
"""


def _langid(docs: list[Doc]):
    return LangIdStage().process(docs_to_table(docs))


@pytest.mark.parametrize("path,want,method", [
    (".github/workflows/tests.yml", "YAML", "code_related_data"),
    ("deploy/values.yaml", "YAML", "code_related_data"),
    (".clang-format", "YAML", "code_related_data"),
    ("pyproject.toml", "TOML", "code_related_data"),
    ("setup.cfg", "INI", "code_related_data"),
    ("src/main/resources/app.properties", "Java Properties", "code_related_data"),
    ("docs/index.rst", "reStructuredText", "code_related_text"),
    ("README.md", "Markdown", "code_related_text"),
    ("package.json", "JSON", "extension"),  # JSON and XML are among the 338 already
    ("pom.xml", "XML", "filename"),  # Linguist: Maven POM, group XML
])
def test_data_and_config_files_get_their_own_names(path: str, want: str, method: str) -> None:
    text = {"tests.yml": WORKFLOW, "pyproject.toml": PYPROJECT, "setup.cfg": SETUP_CFG}.get(path.rsplit("/", 1)[-1], "a: 1\n")
    if path.endswith(".json"):
        text = '{"name": "tinyhttp", "version": "0.3.1", "scripts": {"test": "jest"}}\n'
    elif path.endswith(".xml"):
        text = "<project>\n  <modelVersion>4.0.0</modelVersion>\n</project>\n"
    row = _langid([Doc(source="gh", domain="code", repo="acme/tinyhttp", path=path, text=text)]).kept.to_pylist()[0]
    assert (row["language"], row["lang_method"]) == (want, method)


def test_code_related_names_never_shadow_the_338() -> None:
    reg = load_registry()
    # A name of the 338 always wins: .scd is SuperCollider although Linguist also lists it for Markdown.
    assert detect("synth.scd", b"SynthDef(\\sine, { Out.ar(0, SinOsc.ar(440)) }).add;\n").language == "SuperCollider"
    for name, entry in reg.related.items():
        assert name not in reg, name
        for ext in entry.extensions:
            assert not reg.extension_candidates(ext), (name, ext)
    assert code_related(reg, "a/b/unknown.zzz") is None
    assert code_related(reg, ".toml") is None  # a bare dot-name is a file name, not an extension


def test_user_can_add_a_code_related_extension() -> None:
    stage = LangIdStage(LangIdConfig(code_related_text={".mdx": "Markdown"}))
    row = stage.process(docs_to_table([Doc(source="gh", domain="code", repo="r", path="docs/intro.mdx",
                                           text="# Intro\n\n<Note>hi</Note>\n")])).kept.to_pylist()[0]
    assert row["language"] == "Markdown"
    off = LangIdStage(LangIdConfig(code_related=False))
    row = off.process(docs_to_table([Doc(source="gh", domain="code", repo="r", path="ci.yml", text=WORKFLOW)])).kept.to_pylist()[0]
    assert row["language"] is None


def test_yaml_size_rule_runs_after_langid() -> None:
    """DeepSeek: JSON/YAML kept only with 50..5000 characters; before, YAML never reached the rule."""
    big = "items:\n" + "".join(f"  - name: item{i}\n    value: {i}\n" for i in range(300))
    assert len(big) > 5000
    docs = [
        Doc(source="gh", domain="code", repo="r", path=".github/workflows/tests.yml", text=WORKFLOW),
        Doc(source="gh", domain="code", repo="r", path="tiny.yaml", text="a: 1\n"),
        Doc(source="gh", domain="code", repo="r", path="fixtures/big.yaml", text=big),
        Doc(source="gh", domain="code", repo="r", path="pyproject.toml", text=PYPROJECT),
        Doc(source="gh", domain="code", repo="r", path="tiny.json", text='{"a": 1}\n'),
    ]
    labelled = _langid(docs).kept
    result = FilterStage().process(labelled)
    kept = {r["path"] for r in result.kept.to_pylist()}
    reasons = {r["path"]: r["reason"] for r in result.dropped.to_pylist()}
    assert kept == {".github/workflows/tests.yml", "pyproject.toml"}
    assert reasons == {"tiny.yaml": "too_short_for_data_file", "fixtures/big.yaml": "too_long_for_data_file",
                       "tiny.json": "too_short_for_data_file"}
    assert result.kept.num_rows + result.dropped.num_rows == labelled.num_rows


def test_size_rule_is_only_for_json_and_yaml() -> None:
    rules = load_rules()
    assert check_code("name = 'x'\n", "TOML", rules) is None  # TOML gets the default code rules only
    assert check_code("x: 1\n", "YAML", rules) == "too_short_for_data_file"


def test_real_yaml_files_are_named(tmp_path) -> None:
    """Real YAML shipped by installed packages (any found in the venv) is named YAML, none left unknown."""
    import sysconfig
    from pathlib import Path

    site = Path(sysconfig.get_paths()["purelib"])
    files = [p for p in site.rglob("*.y*ml") if p.suffix in (".yaml", ".yml")][:200]
    if not files:
        pytest.skip("no YAML files among the installed packages")
    reg = load_registry()
    names = {code_related(reg, str(p)) if detect(str(p), p.read_bytes()).language is None else "338" for p in files}
    assert names == {"YAML"}


def test_old_registry_copy_still_names_data_files(tmp_path) -> None:
    """A registry file copied before `code_related` existed (users extend copies) keeps YAML/Markdown."""
    import yaml as _yaml

    from lang_registry.registry import PACKAGED_REGISTRY

    data = _yaml.safe_load(PACKAGED_REGISTRY.read_text())
    del data["code_related"]
    old = tmp_path / "my-langs.yaml"
    old.write_text(_yaml.safe_dump(data))
    stage = LangIdStage(LangIdConfig(registry=str(old)))
    rows = stage.process(docs_to_table([Doc(source="gh", domain="code", repo="r", path="ci.yml", text=WORKFLOW),
                                        Doc(source="gh", domain="code", repo="r", path="README.md", text="# x\n")]))
    assert [r["language"] for r in rows.kept.to_pylist()] == ["YAML", "Markdown"]
