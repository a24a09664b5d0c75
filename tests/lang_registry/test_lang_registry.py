"""Registry data: all 338 names with rules, overlaps, comments, grammars, generator reproducibility."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lang_registry import Registry, load_registry
from lang_registry.registry import PACKAGED_REGISTRY

REPO = Path(__file__).resolve().parents[2]
NAMES = [ln for ln in (REPO / "lang_registry" / "data" / "supported_langs.txt").read_text().splitlines() if ln]


@pytest.fixture(scope="module")
def reg() -> Registry:
    return load_registry(PACKAGED_REGISTRY)


def test_packaged_names_match_shared_list(shared_dir: Path) -> None:
    shared = (shared_dir / "langs" / "supported_langs.txt").read_text(encoding="utf-8").splitlines()
    assert NAMES == [s for s in shared if s]


def test_all_338_names_present_with_a_rule(reg: Registry) -> None:
    assert len(NAMES) == 338 and len(set(NAMES)) == 338
    assert reg.names() == NAMES  # spelled exactly as in the list, same order
    for name in NAMES:
        e = reg.get(name)
        assert e.extensions or e.filenames or e.filename_patterns, name
        assert e.type in ("programming", "markup", "data", "prose"), name
        assert e.sources.get("name"), name


def test_each_extension_rule_resolves_to_its_language(reg: Registry) -> None:
    """Every language is reachable: one of its extensions or file names detects it (given matching content)."""
    from lang_registry.detect import classify

    unreachable = []
    for name in NAMES:
        e = reg.get(name)
        ok = False
        for f in e.filenames:
            ok |= classify(reg, f, "")[0] == name
        for x in e.extensions:
            amb = reg.ambiguous.get(x.lower())
            if amb is None:
                ok |= classify(reg, "file" + x, "")[0] == name
            else:
                ok |= name in amb.candidates
        ok |= bool(e.filename_patterns)
        if not ok:
            unreachable.append(name)
    assert unreachable == []


@pytest.mark.parametrize("old,new", [("Bro", "Zeek"), ("Docker", "Dockerfile"), ("Jade", "Pug"),
                                     ("RHTML", "HTML ERB"), ("Perl 6", "Perl")])
def test_overlapping_names_do_not_share_extensions(reg: Registry, old: str, new: str) -> None:
    a = {x.lower() for x in reg.get(old).extensions}
    b = {x.lower() for x in reg.get(new).extensions}
    assert a and (b or reg.get(new).filenames)
    assert not (a & b) or all(x in reg.ambiguous for x in a & b)


def test_file_names_and_interpreters_have_one_owner(reg: Registry) -> None:
    for field in ("filenames", "interpreters"):
        seen: dict[str, str] = {}
        for name in NAMES:
            for v in getattr(reg.get(name), field):
                assert v not in seen, f"{field} {v} in {seen.get(v)} and {name}"
                seen[v] = name


def test_ambiguity_table_is_consistent(reg: Registry) -> None:
    for ext, amb in reg.ambiguous.items():
        assert amb.candidates, ext
        assert all(c in reg for c in amb.candidates), ext
        assert not any(o in reg for o in amb.outside), ext
        for lang, pat in amb.rules:
            assert lang in reg or lang in amb.outside, (ext, lang)
            assert isinstance(pat.full, re.Pattern)
    for ext in (".h", ".m", ".pl", ".v", ".inc", ".cls", ".sql"):
        assert ext in reg.ambiguous, ext
    assert reg.ambiguous[".h"].candidates[0] == "C"
    assert reg.ambiguous[".m"].candidates[0] == "Objective-C"


def test_path_comment(reg: Registry) -> None:
    assert reg.path_comment("Python", "a/b.py") == "# path: a/b.py"
    assert reg.path_comment("Rust", "x.rs") == "// path: x.rs"
    assert reg.path_comment("HTML", "x.html") == "<!-- path: x.html -->"
    assert reg.path_comment("CSS", "s.css") == "/* path: s.css */"
    assert reg.path_comment("Haskell", "M.hs") == "-- path: M.hs"
    assert reg.path_comment("JSON", "p.json") == "# path: p.json"  # no comment syntax: documented fallback
    assert reg.path_comment(None, "x") == "# path: x"
    assert "\n" not in reg.path_comment("Python", "evil\nname.py")
    line = reg.path_comment("CSS", "a*/b.css")
    assert line.count("*/") == 1 and line.endswith("*/")


def test_every_language_has_comment_or_documented_fallback(reg: Registry) -> None:
    no_comment = [n for n in NAMES if not reg.get(n).line_comment and not reg.get(n).block_comment]
    # Formats without any comment syntax; they get the '# path:' fallback.
    assert set(no_comment) <= {"JSON", "Jupyter Notebook", "Diff", "Darcs Patch", "Brainfuck", "POD", "Objdump"}


def test_mapped_grammars_load(reg: Registry) -> None:
    from tree_sitter_language_pack import get_parser

    grammars = {reg.get(n).grammar for n in NAMES if reg.get(n).grammar}
    assert len(grammars) >= 60
    for g in sorted(grammars):
        assert get_parser(g) is not None, g  # bundled in the wheel: no download
    assert "cobol" in reg.unsafe_grammars


def test_generator_reproduces_committed_file(shared_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "languages.yaml"
    subprocess.run([sys.executable, "-m", "lang_registry.build_registry", "--linguist",
                    str(shared_dir / "langs" / "linguist_languages.yml"), "--out", str(out), "--no-probe"],
                   check=True, cwd=REPO, capture_output=True)
    new = yaml.safe_load(out.read_text())
    old = yaml.safe_load(PACKAGED_REGISTRY.read_text())
    assert new["languages"] == old["languages"]
    assert new["ambiguous"] == old["ambiguous"]
    assert new["inputs"]["linguist_sha256"] == old["inputs"]["linguist_sha256"]


def test_library_imports_nothing_from_the_pipeline() -> None:
    code = ("import sys, lang_registry, lang_registry.cli, lang_registry.bench, lang_registry.evaluate\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('ray', 'corpus', 'tokenizer', 'classifiers')]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_registry_pickles_for_workers(reg: Registry) -> None:
    import pickle

    from lang_registry import detect

    clone = pickle.loads(pickle.dumps(reg))
    assert len(clone) == 338
    assert detect("a.h", b"@interface A : NSObject\n@end\n", clone).language == "Objective-C"


def test_fast_rule_search_agrees_with_re(reg: Registry) -> None:
    """The branch-split rule search gives the same answer as re.search on every rule and sample."""
    samples = REPO / "tests" / "data" / "langs" / "samples"
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(samples.iterdir())]
    texts += ["", "has $.x", "  use v6;", "\\bhas", "[]|()", "NSString *s;", "x\n#import <a>\n"]
    for amb in reg.ambiguous.values():
        for _lang, pat in amb.rules:
            for t in texts:
                assert bool(pat.search(t)) == bool(pat.full.search(t)), (pat.pattern, t[:60])
