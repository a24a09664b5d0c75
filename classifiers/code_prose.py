"""The seed rule of GitHub recall: source files "containing detailed descriptions" (DeepSeek-Coder-V2
§2: "the initial seed corpus is constructed by manually collecting high-quality source code, such as
those containing detailed descriptions"). The manual collection is replaced by a measurable rule:
the prose words in a file's comments and docstrings, and their share of the file's words.

Comment text is taken from lines that start with a common comment marker (`#`, `//`, `/*`, `*`,
`--`, `;`, `%`, `!`, `<!--`), plus triple-quoted blocks (docstrings) in any language. Prose words are runs of two or more letters.
A comment line counts only when it reads as prose (at least half of its tokens are such words: this
leaves out commented-out code) and does not name a licence or copyright (boilerplate headers are
prose, but not a description of the code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMMENT = re.compile(r"^\s*(?:#|//+|/\*+|\*+/?|--|;+|%|!|(?:\"\"\"|''')|<!--)\s?(.*)$")
_TRIPLE = re.compile(r"(\"\"\"|''')(.*?)\1", re.S)
_WORD = re.compile(r"[^\W\d_]{2,}")
_TOKEN = re.compile(r"\S+")
_BOILERPLATE = re.compile(r"licen[cs]e|copyright|warrant|spdx", re.I)


@dataclass(frozen=True)
class CodeProse:
    words: int  # all word tokens of the file
    prose_words: int  # prose words in its comments and docstrings

    @property
    def share(self) -> float:
        return self.prose_words / self.words if self.words else 0.0


def _prose_words(line: str) -> int:
    if _BOILERPLATE.search(line):
        return 0
    tokens = _TOKEN.findall(line)
    words = _WORD.findall(line)
    return len(words) if tokens and len(words) * 2 >= len(tokens) else 0


def code_prose(text: str) -> CodeProse:
    """Prose words of the file's comment lines and triple-quoted blocks, and the file's words."""
    prose = 0
    in_block = set()
    for m in _TRIPLE.finditer(text):
        for line in m.group(2).splitlines():
            prose += _prose_words(line)
        in_block.update(range(text.count("\n", 0, m.start()), text.count("\n", 0, m.end()) + 1))
    for n, line in enumerate(text.splitlines()):
        if n in in_block:
            continue
        m = _COMMENT.match(line)
        if m:
            prose += _prose_words(m.group(1))
    return CodeProse(words=len(_TOKEN.findall(text)), prose_words=prose)


def is_seed(text: str, stars: int | None, min_prose_words: int, min_prose_share: float, min_stars: int | None) -> str | None:
    """Why a (quality-passing) file is a seed of high-quality code, or None: `described` (enough prose
    in comments/docstrings) or `starred` (its repository has at least `min_stars` stars)."""
    if min_stars is not None and stars is not None and stars >= min_stars:
        return "starred"
    p = code_prose(text)
    if p.prose_words >= min_prose_words and p.share >= min_prose_share:
        return "described"
    return None
