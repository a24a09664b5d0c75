"""GitHub Linguist's heuristics table (`heuristics.yml`, MIT) read as data for the generator.

Linguist writes its content rules as Ruby (Onigmo) regexes with `and` / `negative_pattern` blocks and
named patterns. The registry's rule format is one Python regex per (language, pattern), compiled with
re.MULTILINE, so this module:

- translates the Ruby-only syntax this table uses into Python `re` syntax (`(?i)` in mid-pattern,
  `\\h`, `\\z`, `(?<name>`, `(?m)` = Ruby dotall);
- joins a list of patterns into one alternation;
- turns an `and` block into anchored lookaheads: `\\A(?=[\\s\\S]*?(?:P))(?![\\s\\S]*?(?:N))`, which
  matches exactly when every P is found and no N is (`^`/`$` keep their line meaning under MULTILINE);
- maps Linguist language names onto the 338 (Roff -> Groff, Unix Assembly -> GAS, ...) through the
  same name resolution the generator uses for languages.yml; a language outside the 338 stays as its
  Linguist name, so a rule for it makes the file's language null.

A rule without a pattern is Linguist's fallback for the extension; it is returned separately, because
the registry expresses it as the ambiguity's default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_ANY = r"[\s\S]*?"


class LinguistRuleError(ValueError):
    """A Linguist rule that cannot be expressed as a Python regex (the generator stops on it)."""


@dataclass(frozen=True)
class LinguistRules:
    extension: str
    rules: list[tuple[str, str]]  # (language, python pattern), first match wins
    fallback: str | None  # language of a rule without pattern (Linguist's default), None if absent
    has_fallback: bool


def _close_of(pattern: str, start: int) -> int:
    """Index just past the group enclosing `start` (or len(pattern) at top level)."""
    depth, i, in_class = 0, start, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "]":
                i += 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return len(pattern)


def ruby_to_python(pattern: str) -> str:
    """Python `re` spelling of a Ruby regex from Linguist's table; raises LinguistRuleError if unsupported."""
    if "\\G" in pattern or "(?~" in pattern or "\\p{" in pattern:
        raise LinguistRuleError(f"unsupported Ruby regex syntax in {pattern!r}")
    p = pattern.replace("\\h", "[0-9a-fA-F]").replace("\\H", "[^0-9a-fA-F]")
    p = p.replace("\\Z", "(?=\\n?\\Z)").replace("\\z", "\\Z")
    p = re.sub(r"\(\?<(?![=!])(\w+)>", r"(?P<\1>", p)
    p = re.sub(r"\\k<(\w+)>", r"(?P=\1)", p)
    # Ruby's (?m) is Python's (?s); Ruby always treats ^ and $ as line anchors (we compile MULTILINE).
    p = re.sub(r"\(\?([imx]*)m([imx]*)([:)])", lambda m: f"(?{m.group(1)}s{m.group(2)}{m.group(3)}", p)
    # A flag group applies to the rest of its enclosing group in Ruby; Python accepts global flags only
    # at the very start of the whole regex (and patterns get joined), so scope it: a(?i)b -> a(?i:b).
    while True:
        m = re.search(r"\(\?([is]+)\)", p)
        if m is None:
            break
        end = _close_of(p, m.end())
        p = p[:m.start()] + f"(?{m.group(1)}:" + p[m.end():end] + ")" + p[end:]
    try:
        re.compile(p, re.MULTILINE)
    except re.error as exc:
        raise LinguistRuleError(f"{pattern!r} -> {p!r}: {exc}") from exc
    return p


def _union(value: str | list[str]) -> str:
    parts = [value] if isinstance(value, str) else list(value)
    return "|".join(f"(?:{ruby_to_python(x)})" if len(parts) > 1 else ruby_to_python(x) for x in parts)


def _one(rule: dict[str, Any], named: dict[str, Any]) -> tuple[str | None, bool]:
    """(pattern, negative) of a single rule or `and` member; pattern None means "always"."""
    if "named_pattern" in rule:
        return _union(named[rule["named_pattern"]]), False
    if "negative_pattern" in rule:
        return _union(rule["negative_pattern"]), True
    if "pattern" in rule:
        return _union(rule["pattern"]), False
    return None, False


def rule_pattern(rule: dict[str, Any], named: dict[str, Any]) -> str | None:
    """One Python regex equivalent to a Linguist rule (with `and` / negative parts), or None = always."""
    members = rule["and"] if "and" in rule else [rule]
    parts = [_one(m, named) for m in members]
    if len(parts) == 1 and not parts[0][1]:
        return parts[0][0]
    look = []
    for pat, negative in parts:
        if pat is None:
            continue
        look.append(f"(?{'!' if negative else '='}{_ANY}(?:{pat}))")
    return r"\A" + "".join(look)


def extension_rules(table: dict[str, Any], extension: str, name_map: dict[str, str]) -> LinguistRules | None:
    """Linguist's rules for `extension` with languages renamed to ours (`name_map`: Linguist -> ours)."""
    named = table.get("named_patterns") or {}
    for block in table.get("disambiguations") or []:
        if extension not in [x.lower() for x in block.get("extensions") or []]:
            continue
        rules: list[tuple[str, str]] = []
        fallback, has_fallback = None, False
        for rule in block.get("rules") or []:
            langs = rule["language"] if isinstance(rule["language"], list) else [rule["language"]]
            lang = name_map.get(langs[0], langs[0])  # a list means "any of these": the first is ours to pick
            pat = rule_pattern(rule, named)
            if pat is None:
                fallback, has_fallback = lang, True
                break  # Linguist stops at a rule without pattern
            rules.append((lang, pat))
        return LinguistRules(extension, rules, fallback, has_fallback)
    return None
