"""`corpus langs detect|list|add` through the plug-in's argparse entry, incl. add-a-language end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lang_registry import detect, load_registry
from lang_registry.cli import main
from lang_registry.registry import ENV_VAR, PACKAGED_REGISTRY

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "tests" / "data" / "langs" / "samples"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["langs", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture()
def reg_copy(tmp_path: Path) -> Path:
    p = tmp_path / "languages.yaml"
    shutil.copy(PACKAGED_REGISTRY, p)
    return p


@pytest.mark.parametrize("sub", ["detect", "list", "add"])
def test_help(capsys: pytest.CaptureFixture[str], sub: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["langs", sub, "--help"])
    assert exc.value.code == 0
    assert "--registry" in capsys.readouterr().out


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "list")
    lines = out.splitlines()
    assert rc == 0 and len(lines) == 338
    rows = {ln.split("\t")[0]: ln.split("\t") for ln in lines}
    assert rows["Python"][2] == "python" and ".py" in rows["Python"][1].split(",")
    assert rows["COBOL"][2].startswith("cobol (unsafe")
    assert rows["ABAP"][2] == "-"


def test_detect_walks_directories(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "detect", str(SAMPLES))
    lines = out.splitlines()
    assert rc == 0 and len(lines) == len(list(SAMPLES.iterdir()))
    got = dict(ln.split("\t") for ln in lines)
    assert got[str(SAMPLES / "AppDelegate.h")] == "Objective-C"
    assert got[str(SAMPLES / "NOTES.md")] == "-"


def test_detect_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "x.min.js").write_text("var a=1;" * 300)
    rc, out, _ = run(capsys, "detect", "--json", str(tmp_path), str(SAMPLES / "counter.v"))
    rows = [json.loads(ln) for ln in out.splitlines()]
    assert rc == 0 and len(rows) == 2
    assert set(rows[0]) == {"path", "language", "method", "vendored", "generated", "binary"}
    assert rows[0]["language"] == "JavaScript" and rows[0]["vendored"] and rows[0]["generated"]
    assert rows[1]["language"] == "Verilog" and rows[1]["method"] == "heuristic"


def test_detect_missing_file_is_skipped(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out, err = run(capsys, "detect", str(tmp_path / "nope.py"))
    assert rc == 1 and out == "" and "skip" in err


def test_add_language_end_to_end(capsys: pytest.CaptureFixture[str], reg_copy: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "hello.zorp"
    src.write_text("zorp main { print 'hi' }\n")
    assert detect(str(src), src.read_bytes(), load_registry(reg_copy)).language is None

    rc, out, err = run(capsys, "add", "Zorp", "--extensions", ".zorp,.zrp", "--filenames", "Zorpfile",
                       "--comment", "//", "--grammar", "javascript", "--registry", str(reg_copy))
    assert rc == 0, err
    assert "+- name: Zorp" in out and "extensions: [.zorp, .zrp]" in out  # the diff shows what changed

    rc, out, _ = run(capsys, "detect", "--json", str(src), "--registry", str(reg_copy))
    row = json.loads(out)
    assert row["language"] == "Zorp" and row["method"] == "extension"
    monkeypatch.setenv(ENV_VAR, str(reg_copy))  # the pipeline stage picks the same file up via the env var
    reg = load_registry()
    assert detect("x/Zorpfile", b"", reg).language == "Zorp"
    assert reg.path_comment("Zorp", "a.zorp") == "// path: a.zorp"
    assert len(reg) == 339


def test_add_rejects_extension_clash(capsys: pytest.CaptureFixture[str], reg_copy: Path) -> None:
    before = reg_copy.read_text()
    rc, _, err = run(capsys, "add", "Hdr", "--extensions", ".h", "--registry", str(reg_copy))
    assert rc == 2 and "already claimed by C, C++, Objective-C" in err and "--ambiguous-with" in err
    assert reg_copy.read_text() == before


def test_add_shared_extension_with_pattern(capsys: pytest.CaptureFixture[str], reg_copy: Path) -> None:
    rc, _, err = run(capsys, "add", "HdrLang", "--extensions", ".h", "--ambiguous-with", "C,C++,Objective-C",
                     "--pattern", r"^\s*hdrlang\s+v\d", "--registry", str(reg_copy))
    assert rc == 0, err
    reg = load_registry(reg_copy)
    assert reg.ambiguous[".h"].candidates[:3] == ("C", "C++", "Objective-C")
    assert detect("a.h", b"hdrlang v2\nthing;\n", reg).language == "HdrLang"
    assert detect("a.h", b"int f(void);\n", reg).language == "C"


@pytest.mark.parametrize("argv,msg", [
    (["Python", "--extensions", ".pyz2"], "already exists"),
    (["New", "--extensions", ".n3w", "--grammar", "no_such_grammar"], "does not load"),
    (["New", "--filenames", "Makefile"], "already belongs to Makefile"),
    (["New"], "at least one"),
    (["New", "--extensions", ".n3w", "--ambiguous-with", "Nope"], "no such language"),
    (["New", "--extensions", ".n3w", "--pattern", "("], "not a valid regular expression"),
])
def test_add_validation(capsys: pytest.CaptureFixture[str], reg_copy: Path, argv: list[str], msg: str) -> None:
    rc, _, err = run(capsys, "add", *argv, "--registry", str(reg_copy))
    assert rc == 2 and msg in err
