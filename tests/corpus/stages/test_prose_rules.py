"""Code-related text (Markdown, reStructuredText, AsciiDoc, POD) is measured as prose: paragraphs, words and
repetition, not DeepSeek's line lengths, which stay for code; TeX gets the line rules on its markup lines
only and the prose rules on its text lines."""

from __future__ import annotations

import random

import pytest

from corpus.filters.code_rules import check_code, evaluate_code, load_rules
from corpus.filters.signals import prose_signals, split_tex_prose
from corpus.records import Doc, docs_to_table
from corpus.stages.filter import FilterStage

RULES = load_rules()
VOCAB = ["parser", "token", "node", "tree", "error", "position", "source", "line", "column", "buffer", "reader",
         "writer", "cache", "index", "module", "function", "value", "result", "option", "default", "config", "build",
         "test", "release", "version", "change", "update", "schema", "field"]


def _words(n: int, seed: int) -> str:
    """n words drawn from a small vocabulary: prose-like text without pasted repeats."""
    rng = random.Random(seed)
    return " ".join(rng.choice(VOCAB) for _ in range(n))


# A real shape: project docs written one paragraph per line (each ~1,700 characters, far above 100 on average).
ONE_PARAGRAPH_PER_LINE = "# Design\n\n" + "\n\n".join(_words(250, i) + "." for i in range(6)) + "\n"


def _para(chars: int) -> str:
    """One paragraph of exactly `chars` characters of words."""
    text = _words(chars // 3, 1)[:chars]
    return text[:-1] + "x" if text.endswith(" ") else text


@pytest.mark.parametrize("language", ["Markdown", "reStructuredText", "AsciiDoc", "POD"])
def test_prose_written_one_paragraph_per_line_is_kept_as_text_but_not_as_code(language: str) -> None:
    assert check_code(ONE_PARAGRAPH_PER_LINE, language, RULES) is None
    assert check_code(ONE_PARAGRAPH_PER_LINE, "Python", RULES) == "avg_line_length"
    assert check_code(ONE_PARAGRAPH_PER_LINE, None, RULES) == "avg_line_length"


def test_prose_rules_replace_the_line_rules_in_the_explained_list() -> None:
    names = [r.name for r in evaluate_code(ONE_PARAGRAPH_PER_LINE, "Markdown", RULES)]
    assert names == ["mean_paragraph_chars", "max_word_length", "alpha_fraction", "xml_header", "prose_repetition"]


# Every numeric threshold of the `prose` table at the threshold and just past it (the reason written out).
PROSE_BOUNDARIES = [
    (_para(10000), None),
    (_para(10001), "mean_paragraph_chars"),
    ("intro words here\n\n" + "A" * 2000 + "\n", None),
    ("intro words here\n\n" + "A" * 2001 + "\n", "max_word_length"),  # e.g. a base64 image pasted inline
]


@pytest.mark.parametrize("text,reason", PROSE_BOUNDARIES)
def test_every_prose_threshold_at_and_just_past_its_boundary(text: str, reason: str | None) -> None:
    assert check_code(text, "Markdown", RULES) == reason
    doc = Doc(source="gh", domain="code", repo="r", path="README.md", text=text, language="Markdown")
    table = docs_to_table([doc])
    assert FilterStage().process(table).dropped.column("reason").to_pylist() == ([reason] if reason else [])


def test_the_prose_boundaries_cover_every_numeric_prose_threshold() -> None:
    numeric = {k for k, v in RULES["prose"].items() if isinstance(v, (int, float))}
    assert numeric == {"max_mean_paragraph_chars", "max_word_length"}
    assert {r for _, r in PROSE_BOUNDARIES} == {None, "mean_paragraph_chars", "max_word_length"}


def test_text_that_is_mostly_one_paragraph_repeated_fails_repetition_but_real_repeats_pass() -> None:
    spam = "\n\n".join(["Buy the best widgets today at the lowest price in town, click here now."] * 12)
    result = evaluate_code(spam, "Markdown", RULES)
    assert check_code(spam, "Markdown", RULES) == "prose_repetition"
    assert next(r for r in result if r.name == "prose_repetition").value == "dup_para_char_frac"
    # API docs repeat option names and example lines: well under the documentation thresholds.
    api = "\n\n".join(f"``--opt-{i}``\n    Sets option {i} of the parser. Default: ``none``." for i in range(30))
    assert check_code(api, "reStructuredText", RULES) is None


def test_alphabetic_rule_still_applies_to_prose() -> None:
    numbers = "\n\n".join(" ".join(str(i * j) for j in range(40)) for i in range(20))
    assert check_code(numbers, "Markdown", RULES) == "alpha_fraction"


def test_prose_signals_measure_paragraphs_and_words() -> None:
    s = prose_signals("one two\nthree\n\n  \nfour five six\n\nseven")
    assert (s.paragraphs, s.max_paragraph_chars, s.max_word_length) == (3, 13, 5)


TEX = (
    "\\chapter{Introduction}\n\\label{chap:intro}\n"
    + _words(200, 3) + ".\n\n"
    + "% " + _words(200, 4) + ".\n"  # a commented-out paragraph
    + "\\begin{equation}\n  E = m c^2 \\label{eq:e}\n\\end{equation}\n"
    + "\\item " + _words(60, 5) + ".\n"
)


def test_tex_text_lines_are_prose_and_markup_lines_keep_the_line_rules() -> None:
    prose, markup = split_tex_prose(TEX)
    assert markup.splitlines() == ["\\chapter{Introduction}", "\\label{chap:intro}", "\\begin{equation}",
                                   "  E = m c^2 \\label{eq:e}", "\\end{equation}"]
    assert len(prose.splitlines()) == 3
    assert check_code(TEX, "TeX", RULES) is None
    assert check_code(TEX, None, RULES) == "avg_line_length"  # DeepSeek's line rule on the whole file
    long_macro = "\\newcommand{\\x}{" + "\\mathrm{a}" * 120 + "}\n"  # 1,217 characters of markup
    failed = [r for r in evaluate_code(TEX + long_macro, "TeX", RULES) if not r.passed]
    assert [(r.name, r.signal) for r in failed] == [("avg_line_length", "markup_avg_line_length"),
                                                   ("max_line_length", "markup_max_line_length")]


def test_a_paragraph_on_one_line_is_not_minified_but_minified_code_and_packed_data_are() -> None:
    from lang_registry.flags import is_generated, is_minified

    paragraph = _words(300, 9) + ".\n"  # ~2,100 characters on one line
    assert not is_minified("# Title\n\n" + paragraph) and not is_generated("docs/intro.md", "# Title\n\n" + paragraph)
    assert is_minified("!function(e){" + "var a=1,b=2;" * 400 + "}();")
    assert is_minified('{"data": "' + "QUJDRA" * 400 + '"}\n')


@pytest.mark.parametrize(("text", "generated"), [
    ("Output directory for the ``.pdb`` file\ngenerated by the linker for an executable target.\n", False),
    ("# generated by protoc-gen-go. DO NOT EDIT.\n", True),
    ("// generated from schema.sql\nint x;\n", True),
    ("Generated by Django 4.2 on 2024-01-01\n", True),
])
def test_a_wrapped_sentence_starting_with_generated_by_is_no_marker(text: str, generated: bool) -> None:
    from lang_registry.flags import is_generated

    assert is_generated("docs/x.rst", text) is generated
