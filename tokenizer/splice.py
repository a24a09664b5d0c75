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
tests/test_splice.py checks the identity against full encoding on real files.
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

    def __call__(self, items: Sequence[tuple[str, np.ndarray, Sequence[tuple[int, int]]]]) -> list[list[list[int]]]:
        """items: (chunk text, chunk ids, [(start, end) character ranges]) -> ids of every range."""
        texts: list[str] = []
        plans: list[list[tuple[int, np.ndarray | None, int]]] = []
        for text, ids, ranges in items:
            plan = []
            cuts = self._cuts(text, ids)
            for s, e in ranges:
                inner = self._inner(cuts, s, e)
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
        out: list[list[list[int]]] = []
        for plan in plans:
            pieces = []
            for first, middle, last in plan:
                if middle is None:
                    pieces.append(list(encoded[first]))
                else:
                    pieces.append([*encoded[first], *middle.tolist(), *encoded[last]])
            out.append(pieces)
        return out

    def _cuts(self, text: str, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hard boundaries of the text that are token boundaries of ids: (h, q, token index at h)."""
        empty = np.zeros(0, np.int64)
        if not text:
            return empty, empty, empty
        found = [m.span(1) for m in HARD_BOUNDARY.finditer(text)]
        if not found:
            return empty, empty, empty
        hq = np.asarray(found, dtype=np.int64)
        hard, q = hq[:, 0], hq[:, 1]
        data = text.encode("utf-8")
        ends = np.cumsum(self.lens[ids.astype(np.int64, copy=False)]) if ids.shape[0] else empty
        if ends.shape[0] == 0 or int(ends[-1]) != len(data):
            return empty, empty, empty  # ids do not spell this text: no reuse
        if len(data) == len(text):
            byte_pos = hard
        else:  # character -> byte offsets (UTF-8 lead bytes are the character starts)
            starts = np.flatnonzero((np.frombuffer(data, np.uint8) & 0xC0) != 0x80)
            byte_pos = starts[hard]
        k = np.searchsorted(ends, byte_pos, side="left")
        on_boundary = (k < ends.shape[0]) & (ends[np.minimum(k, ends.shape[0] - 1)] == byte_pos)
        return hard[on_boundary], q[on_boundary], k[on_boundary] + 1  # ids[:k+1] end exactly at h

    @staticmethod
    def _inner(cuts: tuple[np.ndarray, np.ndarray, np.ndarray], s: int, e: int) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """The first and last usable hard boundaries of the piece [s, e) (h > s and q < e), with their
        token indices."""
        hard, q, tok = cuts
        lo = int(np.searchsorted(hard, s + 1, side="left"))
        hi = int(np.searchsorted(q, e - 1, side="right")) - 1
        if lo >= hard.shape[0] or hi < lo:
            return None
        return (int(hard[lo]), int(tok[lo])), (int(hard[hi]), int(tok[hi]))
