"""Normalisation and tokenisation shared by the index (benchmark side) and the scanner (document side).

The "gram" of the DeepSeek rule is a *word*: a maximal run of Unicode word characters (letters, digits,
underscore) after NFKC normalisation and lower-casing. Everything else (whitespace, indentation, line
endings, punctuation, operators, quotes) only separates words. So a reindented, re-spaced or re-quoted
copy (`x=a+b` vs `x = a + b`, tabs vs spaces, CRLF vs LF, `'a'` vs `"a"`) yields the same grams.
The `code` unit keeps every punctuation character as a gram of its own; it is stricter and is offered
for measurement, not as the default (see docs/decontamination.md).
"""

from __future__ import annotations

import re
import unicodedata

UNITS = ("word", "code")

_PATTERNS = {
    "word": re.compile(r"\w+"),
    "code": re.compile(r"\w+|[^\w\s]"),
}


def normalize(text: str) -> str:
    """NFKC (only when needed: ASCII is already normal) then lower-case."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.lower()


def pattern(unit: str) -> re.Pattern[str]:
    try:
        return _PATTERNS[unit]
    except KeyError:
        raise ValueError(f"unknown gram unit {unit!r}; choose one of {UNITS}") from None


def tokenize(text: str, unit: str = "word") -> list[str]:
    """Grams of `text` (normalised)."""
    return pattern(unit).findall(normalize(text))


# ASCII fast path of the word unit: one C-level translate (lower-case, non-word bytes -> space) and a
# split give exactly the grams of `\w+` on lower-cased ASCII text, ~5x faster than the regex.
_WORD_BYTES = bytes(range(48, 58)) + bytes(range(65, 91)) + bytes(range(97, 123)) + b"_"
_TABLE = bytes((c + 32 if 65 <= c <= 90 else c) if c in _WORD_BYTES else 32 for c in range(256))


def grams(text: str, unit: str = "word") -> list[bytes]:
    """Grams of `text` as UTF-8 bytes: the form both the index and the scanner use."""
    if unit == "word" and text.isascii():
        return text.encode("ascii").translate(_TABLE).split()
    return [t.encode("utf-8", "surrogatepass") for t in pattern(unit).findall(normalize(text))]


def token_spans(text: str, unit: str = "word") -> list[tuple[int, int]]:
    """Character spans of the grams in the *original* text, aligned with `tokenize(text, unit)`.

    Lower-casing keeps string length for almost all text; NFKC may not, so for non-ASCII text the
    spans are computed per character group to stay aligned with the original.
    """
    pat = pattern(unit)
    if text.isascii():
        return [m.span() for m in pat.finditer(text.lower())]
    # Map each original character to its normalised form so spans refer to the original text.
    pieces: list[str] = []
    owner: list[int] = []
    for i, ch in enumerate(text):
        norm = unicodedata.normalize("NFKC", ch).lower()
        pieces.append(norm)
        owner.extend([i] * len(norm))
    norm_text = "".join(pieces)
    spans = []
    for m in pat.finditer(norm_text):
        a, b = m.span()
        if a == b:
            continue
        spans.append((owner[a], owner[b - 1] + 1))
    return spans


# Grams that carry no identity: keywords and builtins of common languages, English function words,
# number words. An n-gram made mostly of them (`for i in range(n): for j in range(n)`) occurs in any
# code base, so an indexed n-gram must also have a few *content* grams (see index.DecontConfig).
STOP_GRAMS = frozenset(
    """
    a an the and or not of to in on at by for from with as is are was were be been being it its this that
    these those there here if then else elif when while do done does did has have had will would can could
    should may might must shall we you he she they them their our your his her i me my us so than too very
    all any each every some no yes one two three four five six seven eight nine ten
    def return import class self cls pass break continue try except finally raise yield lambda global
    nonlocal assert del with async await none true false null nil var let const function func fn new
    public private protected static void int float double long short char bool boolean string str list dict
    set tuple len range print printf println input map filter zip sum min max abs sorted append extend
    join split strip format end begin
    """.split()
)


def is_content(gram: str) -> bool:
    """A gram that helps identify a text: two or more characters, a letter, not a stop gram."""
    return len(gram) >= 2 and not gram.isdigit() and any(c.isalpha() for c in gram) and gram not in STOP_GRAMS
