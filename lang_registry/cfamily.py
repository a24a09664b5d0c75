"""Prepare C-family text for content rules: drop what says nothing about the dialect.

C headers mention C++ in comments ("virtual address"), in macros (`#define CAST static_cast<T>`) and in
`#ifdef __cplusplus` blocks; none of that makes the header C++. Measured on 160 glibc headers before
this step: the C++ rule fired on 9 of them.
"""

from __future__ import annotations

import re

# Include lines first (kept whole: the header names are evidence), then comments and literals.
_COMMENT_STR_RE = re.compile(
    r"^[ \t]*#[ \t]*(?:include|import)[^\n]*|/\*.*?\*/|//[^\n]*|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'",
    re.DOTALL | re.MULTILINE)
_IF_RE = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b(.*)$")
_INCLUDE_RE = re.compile(r"#\s*(include|import)\b")


def _replace(m: re.Match[str]) -> str:
    tok = m.group(0)
    if tok.lstrip().startswith("#"):
        return tok
    return '""' if tok[:1] in "\"'" else " "


def _cplusplus_only(kind: str, cond: str) -> bool:
    if "__cplusplus" not in cond:
        return False
    negated = kind == "ifndef" or re.search(r"!\s*defined\s*\(?\s*__cplusplus", cond) is not None
    return not negated


def strip_c_noise(text: str, limit: int | None = None) -> str:
    """Remove comments, string literals, C++-only conditional blocks and preprocessor lines
    other than #include / #import. With `limit`, stop once the result holds `limit` characters (the
    result's first `limit` characters are the same; callers that read no further save the rest)."""
    text = _COMMENT_STR_RE.sub(_replace, text)
    out: list[str] = []
    size = 0
    stack: list[bool] = []  # per open #if: is this branch skipped?
    skipping = 0
    for line in text.split("\n"):
        m = _IF_RE.match(line)
        if m:
            kind, cond = m.group(1), m.group(2)
            if kind in ("if", "ifdef", "ifndef"):
                skip = _cplusplus_only(kind, cond)
                stack.append(skip)
                skipping += skip
            elif kind in ("else", "elif") and stack:
                if stack[-1]:
                    skipping -= 1
                    stack[-1] = False
            elif kind == "endif" and stack:
                skipping -= stack.pop()
            continue
        if skipping:
            continue
        stripped = line.strip()
        if not stripped or (stripped.startswith("#") and not _INCLUDE_RE.match(stripped)):
            continue  # blank lines and macros say nothing about the dialect
        out.append(line)
        size += len(line) + 1
        if limit is not None and size > limit:
            break
    return "\n".join(out)
