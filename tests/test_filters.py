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


@pytest.mark.parametrize("text,language", [
    (("x" * 100 + "\n") * 3, "Python"), (("x" * 101 + "\n") * 3, "Python"), ("x" * 1001 + "\n" + "y\n" * 20, "Python"),
    ("1234567890 = 0\n" * 10, "Python"), ('<?xml version="1.0"?>\n<root>text here</root>\n', "XML"),
    ('<?xml version="1.0"?>\n<root>text here</root>\n', "XSLT"), ("key: value\n", "YAML"), (GOOD, None),
    ("<html><script>" + "var a = 1;\n" * 200 + "</script><p>short visible text</p></html>", "HTML"),
])
def test_evaluate_code_measures_every_rule_and_its_first_failure_is_check_code(text: str, language: str | None) -> None:
    from corpus.filters.code_rules import evaluate_code, rules_for

    results = evaluate_code(text, language, RULES)
    failed = [r.name for r in results if not r.passed]
    assert (failed[0] if failed else None) == check_code(text, language, RULES)
    table = rules_for(language, RULES)
    by_signal = {r.signal: r for r in results}
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
