"""Apply the per-language threshold table to a code file: every rule as a measured value against its
threshold (`evaluate_code`), and the first failing rule as the drop reason (`check_code`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from corpus.filters.signals import (
    code_signals,
    html_visible_text,
    prose_signals,
    split_tex_prose,
)
from corpus.filters.syntax import FALSE_ERROR_LANGUAGES, SYNTAX_SIGNAL, syntax_error_fraction

# How a value must compare to its threshold to pass, and the words a failure is written with.
_FAILS_AS = {"<=": ">", ">=": "<"}


@dataclass(frozen=True)
class RuleResult:
    """One rule applied to one document. `name` is the drop reason the stats count; `signal` is the
    measured quantity (the same as `name` except where one rule reads two signals, e.g. HTML)."""

    name: str
    signal: str
    value: Any
    op: str  # the comparison that passes: value <op> threshold
    threshold: Any
    passed: bool

    def describe(self) -> str:
        """`max_line_length 1234 > 1000`: what was measured against what, as a failure reads."""
        what = self.name if self.signal == self.name else f"{self.name}: {self.signal}"
        if self.op in ("==", "!="):  # a flag, not a measure: say what it must be
            must = "must be" if self.op == "==" else "must not be"
            return f"{what} {_fmt(self.value)} ({must} {_fmt(self.threshold)})"
        op = self.op if self.passed else _FAILS_AS[self.op]
        return f"{what} {_fmt(self.value)} {op} {_fmt(self.threshold)}"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "signal": self.signal, "value": self.value, "op": self.op,
                "threshold": self.threshold, "passed": self.passed}


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return {True: "true", False: "false", None: "none"}[v]
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


# Every key a rule table may hold: a misspelt rule must fail loudly, not be ignored.
TABLE_KEYS = {"default", "languages", "prose"}
RULE_KEYS = {"max_avg_line_length", "max_line_length", "min_alpha_fraction", "reject_xml_header", "min_visible_text_fraction",
             "min_visible_text_chars", "min_chars", "max_chars", "measure", "max_syntax_error_fraction"}
PROSE_KEYS = {"max_mean_paragraph_chars", "max_word_length", "repetition"}


@lru_cache(maxsize=4)
def load_rules(path: str | None = None) -> dict[str, Any]:
    text = open(path).read() if path else resources.files("corpus.filters").joinpath("code_rules.yaml").read_text()
    return check_rules(yaml.safe_load(text), path or "code_rules.yaml")


def check_rules(rules: Any, where: str) -> dict[str, Any]:
    """The table as loaded, or ValueError naming the first key that is not a rule."""
    if not isinstance(rules, dict) or "default" not in rules:
        raise ValueError(f"code rules {where}: missing the 'default' table")
    unknown = [f"{k}" for k in rules if k not in TABLE_KEYS]
    unknown += [f"default.{k}" for k in rules["default"] if k not in RULE_KEYS]
    for language, table in (rules.get("languages") or {}).items():
        unknown += [f"languages.{language}.{k}" for k in (table or {}) if k not in RULE_KEYS]
    unknown += [f"prose.{k}" for k in (rules.get("prose") or {}) if k not in PROSE_KEYS]
    if unknown:
        raise ValueError(f"code rules {where}: unknown key(s) {unknown}; rules are {sorted(RULE_KEYS)}")
    return rules


def rules_for(language: str | None, rules: dict[str, Any]) -> dict[str, Any]:
    merged = dict(rules["default"])
    merged.update((rules.get("languages") or {}).get(language or "", {}) or {})
    return merged


def iter_code_rules(text: str, language: str | None, rules: dict[str, Any]) -> Iterator[RuleResult]:
    """The language's rules in the order the filter applies them, lazily: a caller that stops at the
    first failure never parses HTML for a file an earlier rule already dropped. Each `passed` is the
    exact comparison the filter has always made, so decisions at the boundaries do not move.
    `measure: prose` languages get paragraph, word and repetition rules instead of line lengths;
    `measure: tex` the line rules on markup lines and the prose rules on text lines."""
    r = rules_for(language, rules)
    measure = r.get("measure", "code")
    if measure in ("prose", "tex"):
        yield from _text_rules(text, r, rules.get("prose") or {}, measure)
        return
    s = code_signals(text)
    if "min_chars" in r:
        yield RuleResult("too_short_for_data_file", "chars", s.chars, ">=", r["min_chars"], not s.chars < r["min_chars"])
    if "max_chars" in r:
        yield RuleResult("too_long_for_data_file", "chars", s.chars, "<=", r["max_chars"], not s.chars > r["max_chars"])
    yield RuleResult("avg_line_length", "avg_line_length", s.avg_line_length, "<=", r["max_avg_line_length"],
                     not s.avg_line_length > r["max_avg_line_length"])
    yield RuleResult("max_line_length", "max_line_length", s.max_line_length, "<=", r["max_line_length"],
                     not s.max_line_length > r["max_line_length"])
    yield RuleResult("alpha_fraction", "alpha_fraction", s.alpha_fraction, ">=", r["min_alpha_fraction"],
                     not s.alpha_fraction < r["min_alpha_fraction"])
    if r.get("reject_xml_header"):
        yield RuleResult("xml_header", "xml_header", s.xml_header, "==", False, not s.xml_header)
    if "min_visible_text_fraction" in r:
        visible = len(html_visible_text(text))
        if "min_visible_text_chars" in r:
            need = r["min_visible_text_chars"]
            yield RuleResult("html_visible_text", "visible_text_chars", visible, ">=", need, not visible < need)
        frac = r["min_visible_text_fraction"]
        yield RuleResult("html_visible_text", "visible_text_fraction", visible / len(text) if text else 0.0, ">=", frac,
                         not visible < frac * len(text))
    if "max_syntax_error_fraction" in r and language not in FALSE_ERROR_LANGUAGES:
        # Off unless the table sets it: a tree-sitter parse per file. No grammar or a timeout: no rule.
        value = syntax_error_fraction(text, language)
        if value is not None:
            threshold = r["max_syntax_error_fraction"]
            yield RuleResult(SYNTAX_SIGNAL, SYNTAX_SIGNAL, round(value, 6), "<=", threshold, not value > threshold)


def _text_rules(text: str, r: dict[str, Any], prose: dict[str, Any], measure: str) -> Iterator[RuleResult]:
    """Code-related text: what a prose reader would object to (giant blocks, blobs, repeats), not long lines."""
    prose_text = text
    if measure == "tex":
        prose_text, markup = split_tex_prose(text)
        m = code_signals(markup)
        limit = r["max_avg_line_length"]
        yield RuleResult("avg_line_length", "markup_avg_line_length", m.avg_line_length, "<=", limit,
                         not m.avg_line_length > limit)
        yield RuleResult("max_line_length", "markup_max_line_length", m.max_line_length, "<=", r["max_line_length"],
                         not m.max_line_length > r["max_line_length"])
    p = prose_signals(prose_text)
    if "max_mean_paragraph_chars" in prose and measure == "prose":
        limit = prose["max_mean_paragraph_chars"]
        yield RuleResult("mean_paragraph_chars", "mean_paragraph_chars", p.mean_paragraph_chars, "<=", limit,
                         not p.mean_paragraph_chars > limit)
    if "max_word_length" in prose:
        limit = prose["max_word_length"]
        yield RuleResult("max_word_length", "max_word_length", p.max_word_length, "<=", limit,
                         not p.max_word_length > limit)
    alpha = code_signals(text).alpha_fraction  # the whole file, as DeepSeek's alphabetic rule reads it
    need = r["min_alpha_fraction"]
    yield RuleResult("alpha_fraction", "alpha_fraction", alpha, ">=", need, not alpha < need)
    if r.get("reject_xml_header"):
        xml = "<?xml version=" in text[:100]
        yield RuleResult("xml_header", "xml_header", xml, "==", False, not xml)
    if prose.get("repetition") and measure == "prose":
        why = _repetition(_freeze(prose["repetition"]), text)
        yield RuleResult("prose_repetition", "gopher_repetition", why, "==", None, why is None)


def _freeze(spec: dict[str, Any]) -> tuple:
    return tuple(sorted((k, tuple(tuple(x) for x in v) if isinstance(v, list) else v) for k, v in spec.items()))


@lru_cache(maxsize=4)
def _repetition_filter(spec: tuple) -> Any:
    from datatrove.pipeline.filters import GopherRepetitionFilter

    from corpus.filters.web_rules import RegexWordTokenizer  # deferred: datatrove's word tokenizers (~0.3 s)

    # Every Gopher check the table does not name is off: documentation repeats names and phrases by design.
    args: dict[str, Any] = {"dup_line_frac": None, "dup_para_frac": None, "dup_line_char_frac": None,
                            "dup_para_char_frac": None, "top_n_grams": (), "dup_n_grams": ()}
    args.update(dict(spec))
    return GopherRepetitionFilter(language=RegexWordTokenizer(), **args)


def _repetition(spec: tuple, text: str) -> str | None:
    """datatrove's reason (`dup_para_char_frac`, `duplicated_10_n_grams`, ...) or None when the text passes."""
    from datatrove.data import Document

    if not text.strip():
        return None
    verdict = _repetition_filter(spec).filter(Document(text=text, id=""))
    ok, reason = (verdict, None) if isinstance(verdict, bool) else verdict
    return None if ok else (reason or "gopher_repetition")


def evaluate_code(text: str, language: str | None, rules: dict[str, Any]) -> list[RuleResult]:
    """Every rule of the language, passed or not (`corpus explain`)."""
    return list(iter_code_rules(text, language, rules))


def first_failure(text: str, language: str | None, rules: dict[str, Any]) -> RuleResult | None:
    return next((res for res in iter_code_rules(text, language, rules) if not res.passed), None)


def check_code(text: str, language: str | None, rules: dict[str, Any]) -> str | None:
    """Name of the rule the file fails (the drop reason), or None if it passes."""
    failed = first_failure(text, language, rules)
    return failed.name if failed else None
