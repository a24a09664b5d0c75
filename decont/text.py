"""Normalisation and tokenisation shared by the index (benchmark side) and the scanner (document side).

The "gram" of the DeepSeek rule is a *word*: a maximal run of Unicode word characters (letters, digits,
underscore) after NFKC normalisation and lower-casing. Everything else (whitespace, indentation, line
endings, punctuation, operators, quotes) only separates words. So a reindented, re-spaced or re-quoted
copy (`x=a+b` vs `x = a + b`, tabs vs spaces, CRLF vs LF, `'a'` vs `"a"`) yields the same grams.
Characters of scripts written without spaces (CJK, kana, Thai, Hangul) are one gram each.
The `code` unit keeps every punctuation character as a gram of its own; it is stricter and is offered
for measurement, not as the default (see docs/decontamination.md).
"""

from __future__ import annotations

import re
import unicodedata

UNITS = ("word", "code")

# Scripts written without spaces (CJK ideographs, kana, Thai...) would make a whole sentence one
# "word"; each of their characters is a gram of its own instead.
_NOSPACE = "\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WORD = rf"[{_NOSPACE}]|[^\W{_NOSPACE}]+"
_PATTERNS = {
    "word": re.compile(_WORD),
    "code": re.compile(rf"{_WORD}|[^\w\s]"),
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


# Non-ASCII text: the same byte split, keeping bytes >= 0x80 inside tokens; only the (usually few)
# tokens that contain non-ASCII characters then go through the Unicode regex.
_TABLE_HIGH = bytes(c if (c in _WORD_BYTES or c >= 128) else 32 for c in range(256))


# Common non-ASCII separators (Latin-1 signs, general punctuation such as curly quotes and dashes,
# arrows, math operators, CJK punctuation) become spaces first, so typical web text takes the fast path.
_PUNCT_RANGES = ((0x80, 0x100), (0x2000, 0x2070), (0x2190, 0x2300), (0x3000, 0x3040), (0xFE30, 0xFE50))
_SPACE_MAP = {cp: 32 for a, b in _PUNCT_RANGES for cp in range(a, b) if not re.match(r"\w", chr(cp))}


def grams(text: str, unit: str = "word") -> list[bytes]:
    """Grams of `text` as UTF-8 bytes: the form both the index and the scanner use."""
    if unit != "word":
        return [t.encode("utf-8", "surrogatepass") for t in pattern(unit).findall(normalize(text))]
    if text.isascii():
        return text.encode("ascii").translate(_TABLE).split()
    hi = normalize(text).encode("utf-8", "surrogatepass").translate(_TABLE_HIGH)
    # Only the tokens around non-ASCII bytes need Unicode handling; the rest is split at C speed.
    out: list[bytes] = []
    pos, n = 0, len(hi)
    for m in _HIGH_RUN.finditer(hi):
        a = m.start()
        if a < pos:  # another non-ASCII run inside the token just handled
            continue
        start = hi.rfind(b" ", 0, a) + 1
        end = hi.find(b" ", a)
        end = n if end < 0 else end
        out.extend(hi[pos:start].split())
        out.extend(_unicode_token(hi[start:end]))
        pos = end
    out.extend(hi[pos:].split())
    return out


_HIGH_RUN = re.compile(rb"[\x80-\xff]+")


def _unicode_token(tok: bytes) -> list[bytes]:
    piece = tok.decode("utf-8", "surrogatepass").translate(_SPACE_MAP)
    if piece.isascii():  # a word glued to curly quotes or dashes
        return piece.encode("ascii").split()
    return [t.encode("utf-8", "surrogatepass") for t in _PATTERNS["word"].findall(piece)]


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
