"""Encode FIM pieces (prefix / middle / suffix of a chunk) by re-encoding only the text near each cut.

FIM cuts a chunk at two character positions and the pieces are encoded apart (recipe §1.7), which used
to cost a second full encode of every FIM chunk. The chunk's own ids are already known, and most of
each piece's ids are a slice of them. Why that is exact, for this project's pre-tokenizer
(`tokenizer.bpe.PRETOKENIZE_PATTERN`, byte-level BPE, no normalizer):

A *hard boundary* is a position h right after a newline where the line that starts there holds
something: text[h-1] == "\n", then spaces/tabs up to position q, and text[q] is a printable ASCII
non-space character. In every string that holds text[h-1:q+1]:
  1. no pre-token holds both text[h-1] and text[h] (the newline ends a whitespace pre-token, which
     cannot take the spaces after it: they are not followed by another newline), so every parse has a
     pre-token boundary at h;
  2. every match attempt that starts before h reads at most up to text[q] and ends at or before h, so
     the pre-tokens before h are those of text[:h] alone;
  3. the pattern has no look-behind, so the pre-tokens from h on depend only on text[h:].
BPE works inside pre-tokens, so for a piece text[s:e] and hard boundaries with s < h1 <= h2, q2 < e:
    encode(text[s:e]) == encode(text[s:h1]) + ids[h1:h2] + encode(text[h2:e])
where ids[h1:h2] are the chunk's ids between those positions. That holds when the chunk's ids are a
slice of its document's encoding (tokenizer/chunks.py cuts at token boundaries; a path-comment header
is the chunk's first line, and every hard boundary lies after it). Other tokenizers (e.g. a given
tokenizer.json with another pre-tokenizer) are encoded in full: `splice_applies` decides.
tests/tokenizer/test_splice.py checks the identity against full encoding on real files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

import numpy as np

from .bpe import PRETOKENIZE_PATTERN, CorpusTokenizer

HARD_BOUNDARY = re.compile(r"\n([ \t]*)[!-~]")  # group 1 spans [h, q)

Encode = Callable[[list[str]], list[list[int]]]


def splice_applies(tok: CorpusTokenizer) -> bool:
    """True when the tokenizer pre-tokenizes exactly as PRETOKENIZE_PATTERN (then splicing is exact)."""
    try:
        data = json.loads(tok.json_text or tok.tokenizer.to_str())
    except (TypeError, ValueError, AttributeError):
        return False
    pre = data.get("pre_tokenizer") or {}
    if data.get("normalizer") is not None or pre.get("type") != "Sequence":
        return False
    steps = pre.get("pretokenizers") or []
    if len(steps) != 2:
        return False
    split, byte_level = steps
    return (split.get("type") == "Split" and (split.get("pattern") or {}).get("Regex") == PRETOKENIZE_PATTERN
            and split.get("behavior") == "Isolated" and not split.get("invert")
            and byte_level.get("type") == "ByteLevel" and not byte_level.get("use_regex") and not byte_level.get("add_prefix_space")
            and (data.get("model") or {}).get("type") == "BPE")


class PieceEncoder:
    """Encodes pieces of chunks (character ranges of each chunk's text) with one batched encode call
    over the short windows next to the cuts."""

    def __init__(self, encode: Encode, lens: np.ndarray) -> None:
        self.encode = encode
        self.lens = lens  # bytes of each token id (tokenizer.chunks.token_byte_lengths)
        self.windows_bytes = 0  # text re-encoded (for the bench)
        self.reused_tokens = 0

    def __call__(self, items: Sequence[tuple[str, np.ndarray, Sequence[tuple[int, int]]]]) -> list[list[np.ndarray]]:
        """items: (chunk text, chunk ids, [(start, end) character ranges]) -> int32 ids of every range."""
        texts: list[str] = []
        plans: list[list[tuple[int, np.ndarray | None, int]]] = []
        for text, ids, ranges in items:
            plan = []
            chunk = _Chunk(text, ids, self.lens)
            for s, e in ranges:
                inner = chunk.inner(s, e)
                if inner is None:
                    texts.append(text[s:e])
                    plan.append((len(texts) - 1, None, -1))
                else:
                    (h1, k1), (h2, k2) = inner
                    texts.append(text[s:h1])
                    texts.append(text[h2:e])
                    middle = ids[k1:k2]
                    self.reused_tokens += int(middle.shape[0])
                    plan.append((len(texts) - 2, middle, len(texts) - 1))
            plans.append(plan)
        self.windows_bytes += sum(len(t) for t in texts)
        encoded = self.encode(texts) if texts else []
        arrays = [np.asarray(e, dtype=np.int32) for e in encoded]
        out: list[list[np.ndarray]] = []
        for plan in plans:
            pieces = []
            for first, middle, last in plan:
                if middle is None:
                    pieces.append(arrays[first])
                else:
                    pieces.append(np.concatenate([arrays[first], middle.astype(np.int32, copy=False), arrays[last]]))
            out.append(pieces)
        return out


class _Chunk:
    """One chunk's text and ids, searched for hard boundaries near the cuts only (a chunk has thousands
    of lines and three pieces: finding every boundary cost more than the encoding it saved)."""

    def __init__(self, text: str, ids: np.ndarray, lens: np.ndarray) -> None:
        self.text = text
        data = text.encode("utf-8")
        self.ascii = len(data) == len(text)
        self.data = data
        self._starts: np.ndarray | None = None
        ends = np.cumsum(lens[ids.astype(np.int64, copy=False)]) if ids.shape[0] else np.zeros(0, np.int64)
        # ids that do not spell this text (not a byte-level slice): no reuse at all
        self.ends = ends if ends.shape[0] and int(ends[-1]) == len(data) else None

    def _token_at(self, h: int) -> int | None:
        """Number of ids that end exactly at character h, or None when h is inside a token."""
        if self.ascii:
            b = h
        else:
            if self._starts is None:  # UTF-8 lead bytes are the character starts
                self._starts = np.flatnonzero((np.frombuffer(self.data, np.uint8) & 0xC0) != 0x80)
            b = int(self._starts[h])
        k = int(np.searchsorted(self.ends, b, side="left"))
        return k + 1 if k < self.ends.shape[0] and int(self.ends[k]) == b else None

    def inner(self, s: int, e: int) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """The first and last hard boundaries h of the piece [s, e) with h > s and q < e that are token
        boundaries, with their token indices; None when there is no such pair."""
        if self.ends is None or e - s < 2:
            return None
        text, first = self.text, None
        pos = s
        while first is None:
            m = HARD_BOUNDARY.search(text, pos, e)  # the newline at >= s, its printable char before e
            if m is None:
                return None
            k = self._token_at(m.start(1))
            first = (m.start(1), k) if k is not None else None
            pos = m.start() + 1
        nl = e
        while True:
            nl = text.rfind("\n", s, nl)
            if nl < first[0] - 1:
                return None
            m = HARD_BOUNDARY.match(text, nl, e)
            if m is not None and (k := self._token_at(m.start(1))) is not None:
                return first, (m.start(1), k)
