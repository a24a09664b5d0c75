"""Text to fastText input: a pretokenizer, and one training/prediction line per document.

DeepSeek-Coder-V2 tokenized pages with the DeepSeek-V2 BPE tokenizer before fastText, because
whitespace splitting fails for Chinese and similar scripts. This package must not depend on the
project's tokenizer, so callers pass any `pretokenize(text) -> list[str]`; the default below is a
regex splitter that at least keeps CJK characters apart and punctuation (code structure) visible.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Pretokenize = Callable[[str], list[str]]

# Han, Hiragana, Katakana, Hangul, CJK symbols and full-width forms: one token per character.
_CJK = "\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|[^\w\s]", re.UNICODE)
_WS = re.compile(r"\s+")


def regex_pretokenize(text: str) -> list[str]:
    """Word runs, single CJK characters and single punctuation marks (so `==`, `->`, `{` stay visible)."""
    return _TOKEN.findall(text)


def fasttext_line(tokens: list[str], max_tokens: int) -> str:
    """Space-joined tokens on one line. fastText splits on whitespace and ends an example at a
    newline, and a token starting with `__label__` would be read as a label: neutralise both."""
    out = []
    for tok in tokens[:max_tokens]:
        tok = _WS.sub("_", tok)
        if tok.startswith("__label__"):
            tok = "_" + tok[9:]
        if tok:
            out.append(tok)
    return " ".join(out)


def normalize_whitespace(text: str) -> str:
    """Every run of whitespace as one space: re-wrapping a paragraph or re-indenting a page does not
    change what the model sees (a BPE tokenizer's tokens carry the whitespace before a word, so a line
    break instead of a space was a different token and could flip a page's label)."""
    return " ".join(text.split())


class WhitespaceNormalized:
    """A pretokenizer that sees whitespace-normalised text (picklable when the wrapped one is)."""

    def __init__(self, pretokenize: Pretokenize) -> None:
        self.pretokenize = pretokenize

    def __call__(self, text: str) -> list[str]:
        return self.pretokenize(normalize_whitespace(text))
