"""DeepSeek-Coder's file rules (recipe §2.2) at their boundaries, and the web-page rules."""

from __future__ import annotations

import pyarrow as pa
import pytest

from corpus.filters.code_rules import check_code, load_rules
from corpus.filters.signals import code_signals
from corpus.records import DOC_SCHEMA, Doc, docs_to_table
from corpus.stages.filter import FilterStage

RULES = load_rules()
GOOD = "def add(a, b):\n    return a + b\n" * 3


def test_line_length_rules_exclude_the_newline() -> None:
    assert code_signals("ab\ncd\n").avg_line_length == 2
    line100 = ("x" * 100 + "\n") * 3
    assert check_code(line100, "Python", RULES) is None  # mean exactly 100 passes
    assert check_code(("x" * 101 + "\n") * 3, "Python", RULES) == "avg_line_length"
    long_line = "x" * 1001 + "\n" + "y\n" * 20
    assert check_code(long_line, "Python", RULES) == "max_line_length"
    assert check_code("x" * 1000 + "\n" + "y\n" * 20, "Python", RULES) is None


def test_alphabetic_fraction_uses_isalpha() -> None:
    digits = "1234567890 = 0\n" * 10  # alphanumeric but not alphabetic
    assert check_code(digits, "Python", RULES) == "alpha_fraction"
    assert check_code(GOOD, "Python", RULES) is None


def test_xml_header_rule_exempts_xslt() -> None:
    xml = '<?xml version="1.0"?>\n<root><item name="value">text here</item></root>\n'
    assert check_code(xml, "XML", RULES) == "xml_header"
    assert check_code(xml, "XSLT", RULES) is None
    assert check_code(" " * 101 + xml, "XML", RULES) is None  # only the first 100 characters count


def test_html_visible_text_ratio_and_length() -> None:
    prose = "<p>" + "Readable words in a paragraph.\n" * 10 + "</p>"
    assert check_code(f"<html><body>{prose}</body></html>", "HTML", RULES) is None
    scripted = "<html><script>" + "var a = 1;\n" * 200 + "</script><p>short visible text</p></html>"
    assert check_code(scripted, "HTML", RULES) == "html_visible_text"


@pytest.mark.parametrize("n,reason", [(49, "too_short_for_data_file"), (50, None), (5000, None), (5001, "too_long_for_data_file")])
def test_json_yaml_size_window(n: int, reason: str | None) -> None:
    body = ('{"k": "' + "v" * n)[: n - 2] + '"}'
    text = "\n".join(body[i : i + 60] for i in range(0, len(body), 60))[:n]
    text = text + "a" * (n - len(text))
    assert len(text) == n
    assert check_code(text, "JSON", RULES) == reason
    assert check_code(text, "YAML", RULES) == reason


def _table(docs: list[Doc]) -> pa.Table:
    return docs_to_table(docs)


def test_filter_stage_accounts_for_every_row() -> None:
    docs = [
        Doc(source="gh", domain="code", repo="r", path="a.py", text=GOOD, language="Python"),
        Doc(source="gh", domain="code", repo="r", path="b.xyz", text=GOOD, language=None),
        Doc(source="gh", domain="code", repo="r", path="vendor/c.js", text=GOOD, language="JavaScript", vendored=True),
        Doc(source="gh", domain="code", repo="r", path="d.py", text="1,2,3\n" * 50, language="Python"),
        Doc(source="web", domain="text", path="https://x/y", text="Too short."),
    ]
    result = FilterStage().process(_table(docs))
    assert result.kept.column("path").to_pylist() == ["a.py"]
    assert sorted(result.dropped.column("reason").to_pylist()) == sorted(["unknown_language", "vendored", "alpha_fraction", "gopher_short_doc"])
    assert result.kept.schema == DOC_SCHEMA


def test_alpha_count_equals_isalpha_on_any_text() -> None:
    import random

    from corpus.filters.signals import alpha_count

    rng = random.Random(7)
    pools = ["abcXYZ019 _\n\t{}", "éßø漢字ΩЖ²½٣ⅷ\u0301", "\x00\x7f\x80\udc80"]
    for _ in range(500):
        text = "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(0, 60)))
        assert alpha_count(text) == sum(c.isalpha() for c in text), repr(text)


def _lines(*lengths: int) -> str:
    return "".join("x" * n + "\n" for n in lengths)


def _alpha(letters: int, digits: int) -> str:
    return "a" * letters + "1" * digits  # one line: alpha_fraction = letters / (letters + digits)


def _chars(n: int) -> str:
    """n characters of letters in lines of at most 100 (99 letters and the line break)."""
    text = ("a" * 99 + "\n") * (n // 100) + "a" * (n % 100)
    assert len(text) == n
    return text


def _html(visible: int, length: int) -> str:
    """`visible` characters of visible text in a file of `length` characters (the rest a script)."""
    head, tail = "<p>" + "a" * visible + "</p><script>", "</script>"
    fill = length - len(head) - len(tail)
    text = head + ("b" * 49 + "\n") * (fill // 50) + "b" * (fill % 50) + tail
    assert len(text) == length
    return text


# Every numeric threshold of code_rules.yaml, at the threshold and just past it, with the reason written
# out (not recomputed): default max_avg_line_length 100, max_line_length 1000, min_alpha_fraction 0.25;
# JSON/YAML min_chars 50 and max_chars 5000; HTML min_visible_text_chars 100 and
# min_visible_text_fraction 0.20. The same texts under a language without the rule (Python) pass.
BOUNDARIES = [
    ("Python", _lines(100, 100, 100), None),  # mean exactly 100
    ("Python", _lines(100, 100, 101), "avg_line_length"),  # mean 100.33
    ("JSON", _lines(100, 100, 101), "avg_line_length"),
    ("Python", _lines(1000, *[1] * 20), None),
    ("Python", _lines(1001, *[1] * 20), "max_line_length"),
    ("YAML", _lines(1001, *[1] * 20), "max_line_length"),
    ("Python", _alpha(25, 75), None),  # exactly 0.25
    ("Python", _alpha(24, 76), "alpha_fraction"),
    ("HTML", _alpha(24, 76), "alpha_fraction"),
    ("JSON", _chars(50), None),
    ("JSON", _chars(49), "too_short_for_data_file"),
    ("YAML", _chars(49), "too_short_for_data_file"),
    ("Python", _chars(49), None),
    ("JSON", _chars(5000), None),
    ("JSON", _chars(5001), "too_long_for_data_file"),
    ("YAML", _chars(5001), "too_long_for_data_file"),
    ("Python", _chars(5001), None),
    ("HTML", _html(100, 500), None),  # 100 visible characters, exactly 20% of the file
    ("HTML", _html(99, 495), "html_visible_text"),  # exactly 20%, one character short of 100
    ("HTML", _html(100, 501), "html_visible_text"),  # 100 characters, under 20%
    ("Python", _html(99, 495), None),
    ("Python", _html(100, 501), None),
]


@pytest.mark.parametrize("language,text,reason", BOUNDARIES)
def test_every_numeric_threshold_at_and_just_past_its_boundary(language: str, text: str, reason: str | None) -> None:
    from corpus.filters.code_rules import evaluate_code

    assert check_code(text, language, RULES) == reason
    failed = [r.name for r in evaluate_code(text, language, RULES) if not r.passed]
    assert failed[:1] == ([reason] if reason else [])
    doc = Doc(source="gh", domain="code", repo="r", path="f", text=text, language=language)
    dropped = FilterStage().process(_table([doc])).dropped.column("reason").to_pylist()
    assert dropped == ([reason] if reason else [])


def test_the_boundary_table_covers_every_numeric_threshold() -> None:
    numeric = {k for table in [RULES["default"], *RULES["languages"].values()] for k, v in table.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    assert numeric == {"max_avg_line_length", "max_line_length", "min_alpha_fraction", "min_chars", "max_chars",
                       "min_visible_text_chars", "min_visible_text_fraction"}
    assert {reason for _, _, reason in BOUNDARIES} == {None, "avg_line_length", "max_line_length", "alpha_fraction",
                                                      "too_short_for_data_file", "too_long_for_data_file",
                                                      "html_visible_text"}


@pytest.mark.parametrize("text,language", [
    (("x" * 101 + "\n") * 3, "Python"), ('<?xml version="1.0"?>\n<root>text here</root>\n', "XML"),
    ('<?xml version="1.0"?>\n<root>text here</root>\n', "XSLT"), ("key: value\n", "YAML"), (GOOD, None),
])
def test_evaluate_code_reports_the_language_thresholds_and_measured_values(text: str, language: str | None) -> None:
    from corpus.filters.code_rules import evaluate_code, rules_for

    by_signal = {r.signal: r for r in evaluate_code(text, language, RULES)}
    table = rules_for(language, RULES)
    assert by_signal["max_line_length"].threshold == table["max_line_length"]
    assert by_signal["max_line_length"].value == code_signals(text).max_line_length
    assert ("xml_header" in by_signal) == bool(table["reject_xml_header"])


def test_web_drop_detail_names_the_gopher_threshold() -> None:
    doc = Doc(source="web", domain="text", path="https://x/y", text="Too short.")
    [row] = FilterStage().process(_table([doc])).dropped.to_pylist()
    assert row["reason"] == "gopher_short_doc"
    assert row["detail"] == "https://x/y: gopher_short_doc (threshold min_doc_words 50)"
    spam = Doc(source="web", domain="code", path="https://x/z", text="the same line here\n" * 50)
    [row] = FilterStage().process(_table([spam])).dropped.to_pylist()
    assert (row["reason"], row["detail"]) == ("dup_line_frac", "https://x/z: dup_line_frac (threshold dup_line_frac 0.3)")
