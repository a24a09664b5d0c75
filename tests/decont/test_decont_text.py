"""Gram tokenisation: the fast byte paths must give exactly the grams of the Unicode regex."""

from __future__ import annotations

import pytest

from decont.text import grams, is_content, normalize, pattern, token_spans, tokenize

SAMPLES = [
    "def has_close_elements(numbers: List[float], threshold: float) -> bool:\r\n\treturn x==y",
    "Janet\u2019s ducks lay 16 eggs per day. \u201cWhy?\u201d \u2014 she said\u2026",
    "caf\u00e9 na\u00efve \u00c9COLE stra\u00dfe \uff26\uff55\uff4c\uff4c width \u00b2 \u00bd",
    "\u5c0f\u660e\u6709 3 \u4e2a\u82f9\u679c\uff0c\u4ed6\u5403\u4e86 2 \u4e2a\u3002\u3053\u3093\u306b\u3061\u306f\u4e16\u754c abc",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! x_1 = \u03b1 + \u03b2",
    "mixed\u00a0nbsp and\u2009thin spaces \U0001f600 emoji_word \u00e9\u00e9\u00e9",
    "",
    "   \n\t ",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_fast_paths_equal_regex(text: str) -> None:
    ref = [t.encode("utf-8") for t in pattern("word").findall(normalize(text))]
    assert grams(text) == ref
    assert [g.decode("utf-8") for g in grams(text)] == tokenize(text)


def test_reformatting_does_not_change_grams() -> None:
    a = "def f(a, b):\n    return a+b  # sum\n"
    b = "def f( a,b ):\r\n\treturn a + b # sum"
    assert grams(a) == grams(b) == [b"def", b"f", b"a", b"b", b"return", b"a", b"b", b"sum"]
    assert grams("print('x')") == grams('print("x")')


def test_cjk_characters_are_single_grams() -> None:
    assert tokenize("\u5c0f\u660e\u67093\u4e2a") == ["\u5c0f", "\u660e", "\u6709", "3", "\u4e2a"]


def test_token_spans_point_into_the_original_text() -> None:
    for text in SAMPLES:
        toks = tokenize(text)
        spans = token_spans(text)
        if len(spans) != len(toks):
            continue  # NFKC changed the token count; match() then falls back to the joined grams
        for (a, b), tok in zip(spans, toks):
            assert tok in normalize(text[a:b])  # one original char may expand (NFKC: ½ -> 1⁄2)


def test_content_grams() -> None:
    assert is_content("has_close_elements") and is_content("4i")
    assert not any(is_content(g) for g in ("for", "in", "range", "the", "x", "12", "return", "one"))
