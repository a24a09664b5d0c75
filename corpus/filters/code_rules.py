"""Apply the per-language threshold table to a code file; return the first failing rule or None."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from corpus.filters.signals import code_signals, html_visible_text


@lru_cache(maxsize=4)
def load_rules(path: str | None = None) -> dict[str, Any]:
    text = open(path).read() if path else resources.files("corpus.filters").joinpath("code_rules.yaml").read_text()
    rules = yaml.safe_load(text)
    if "default" not in rules:
        raise ValueError(f"code rules {path or 'code_rules.yaml'}: missing the 'default' table")
    return rules


def rules_for(language: str | None, rules: dict[str, Any]) -> dict[str, Any]:
    merged = dict(rules["default"])
    merged.update((rules.get("languages") or {}).get(language or "", {}) or {})
    return merged


def check_code(text: str, language: str | None, rules: dict[str, Any]) -> str | None:
    """Name of the rule the file fails (the drop reason), or None if it passes."""
    r = rules_for(language, rules)
    s = code_signals(text)
    if "min_chars" in r and s.chars < r["min_chars"]:
        return "too_short_for_data_file"
    if "max_chars" in r and s.chars > r["max_chars"]:
        return "too_long_for_data_file"
    if s.avg_line_length > r["max_avg_line_length"]:
        return "avg_line_length"
    if s.max_line_length > r["max_line_length"]:
        return "max_line_length"
    if s.alpha_fraction < r["min_alpha_fraction"]:
        return "alpha_fraction"
    if r.get("reject_xml_header") and s.xml_header:
        return "xml_header"
    if "min_visible_text_fraction" in r:
        visible = html_visible_text(text)
        if len(visible) < r.get("min_visible_text_chars", 0) or len(visible) < r["min_visible_text_fraction"] * len(text):
            return "html_visible_text"
    return None
