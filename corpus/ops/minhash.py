"""MinHash signatures of word n-gram shingles, vectorised with numpy.

The earlier path built every shingle as a Python string (`" ".join(tokens[i:i+5]).encode()`) and hashed
it with one Python call each: two thirds of the near-dedup key time. Here each distinct token is hashed
once (xxh3-64), a shingle's hash is a polynomial of its tokens' hashes computed for all shingles at once,
and the permutations are the affine maps h -> a*h + b (mod 2^32, a odd) over a 32-bit finaliser, the
family datasketch uses for its fixed-width schemes. Same estimator (the fraction of equal minima is the
Jaccard similarity of the shingle sets); different hash values than datasketch's legacy scheme.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

TOKEN = re.compile(r"\w+", re.UNICODE)
# The same tokens as TOKEN on lower-cased text (Python's \w is letters, numbers and "_"), for Arrow's RE2.
NON_TOKEN_RE2 = r"[^\p{L}\p{N}_]+"
_POLY = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier of the shingle polynomial (golden ratio, 64-bit)
_CHUNK = 4096  # shingles per permutation block: 4096 x 256 x 4 B = 4 MB of temporaries


def token_hashes(text: str) -> np.ndarray:
    """xxh3-64 of each lower-cased \\w+ token of one text, in order (see batch_token_hashes)."""
    return batch_token_hashes(pa.array([text], type=pa.string()))[0]


def batch_token_hashes(texts: pa.Array | pa.ChunkedArray) -> list[np.ndarray]:
    """xxh3-64 of each lower-cased \\w+ token of every text, in order, each distinct token of a group of
    texts hashed once.

    The tokens are those of Arrow's RE2 split on NON_TOKEN_RE2 after pc.utf8_lower (Python's `re` ran at
    ~18 MB/s on code), i.e. TOKEN's on str.lower() text, except that Arrow lower-cases a word-final capital
    sigma to σ where Python gives ς. The RE2 split was 70% of the time on real code, so the bytes are cut
    with numpy instead (see _pieces) and RE2 sees only the rare pieces that hold non-ASCII bytes: the same
    output, ~3.5x faster on code. A null text has no tokens, like an empty one. The arrays returned are
    views of a few shared arrays."""
    texts = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        # Whatever the Arrow kernels take (or the error they raise for what they do not).
        tokens, counts = _regex_tokens(texts)
        return _per_text(_hash_tokens(tokens), np.concatenate([[0], np.cumsum(counts)]))
    if texts.null_count:
        texts = pc.fill_null(texts, "")
    data, bounds = _bytes_and_bounds(texts)
    out: list[np.ndarray] = []
    i = 0
    while i < len(texts):  # groups of whole texts of about _GROUP_BYTES
        j = max(i + 1, int(np.searchsorted(bounds, bounds[i] + _GROUP_BYTES, side="right")) - 1)
        out.extend(_group_token_hashes(data[bounds[i] : bounds[j]], bounds[i : j + 1] - bounds[i]))
        i = j
    return out


def _group_token_hashes(data: np.ndarray, bounds: np.ndarray) -> list[np.ndarray]:
    """batch_token_hashes of the texts data[bounds[i]:bounds[i + 1]]."""
    if len(data) == 0:
        return [np.empty(0, dtype=np.uint64) for _ in range(len(bounds) - 1)]
    starts, pieces = _pieces(data, bounds)
    hashes = _hash_tokens(pieces)
    # Pieces holding a non-ASCII byte go through utf8_lower + RE2 (a piece gives 0..k tokens there);
    # every other piece is one token as it stands.
    mixed = np.unique(np.searchsorted(starts, np.flatnonzero(data >= 0x80), side="right") - 1)
    first = np.searchsorted(starts, bounds)  # each text's first piece
    if len(mixed):
        tokens, counts = _regex_tokens(pieces.take(pa.array(mixed)))
        # Replace each mixed piece by its tokens (np.insert keeps the order of values at one index).
        at = np.repeat(mixed - np.arange(len(mixed)), counts)
        hashes = np.insert(np.delete(hashes, mixed), at, _hash_tokens(tokens))
        first += np.concatenate([[0], np.cumsum(counts - 1)])[np.searchsorted(mixed, first)]
    return _per_text(hashes, first)


_BLOCK = 1 << 18  # bytes classified at a time: the temporaries stay in cache
# Texts tokenised together: on bigger batches page faults on the temporaries and cache misses in the
# dictionary cost more than hashing a group's distinct tokens again (161 MB in one go took twice as long).
_GROUP_BYTES = 16 << 20


def _bytes_and_bounds(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes of a (possibly sliced) string/large_string array without nulls, and the texts'
    len+1 boundaries into them."""
    _, offsets_buf, data_buf = texts.buffers()
    if len(texts) == 0 or data_buf is None:
        return np.empty(0, dtype=np.uint8), np.zeros(len(texts) + 1, dtype=np.int64)
    width = np.int32 if pa.types.is_string(texts.type) else np.int64
    offsets = np.frombuffer(offsets_buf, dtype=width, count=texts.offset + len(texts) + 1)[texts.offset :]
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data, offsets.astype(np.int64) - offsets[0]


def _tokenish(data: np.ndarray) -> np.ndarray:
    """Which bytes can be part of a token: ASCII [A-Za-z0-9_] (exactly \\p{L}\\p{N}_ within ASCII) and every
    byte of a multi-byte UTF-8 character (UTF-8 never encodes a non-ASCII character with ASCII bytes).
    Comparisons on cache-sized blocks: ~3x faster than a 256-entry lookup table over the whole buffer."""
    out = np.empty(len(data), dtype=bool)
    scratch, hit = np.empty(_BLOCK, dtype=np.uint8), np.empty(_BLOCK, dtype=bool)
    for i in range(0, len(data), _BLOCK):
        x = data[i : i + _BLOCK]
        o, s, h = out[i : i + len(x)], scratch[: len(x)], hit[: len(x)]
        np.bitwise_or(x, 0x20, out=s)  # only A-Z and a-z land in a-z
        np.subtract(s, ord("a"), out=s)
        np.less(s, 26, out=o)  # a letter (uint8 wraps below "a")
        np.subtract(x, ord("0"), out=s)
        np.less(s, 10, out=h)  # a digit
        o |= h
        np.equal(x, ord("_"), out=h)
        o |= h
        np.greater_equal(x, 0x80, out=h)
        o |= h
    return out


def _pieces(data: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, pa.LargeStringArray]:
    """The maximal runs of _tokenish bytes that stay within one text, ASCII-lower-cased: where each starts
    in `data`, and the runs themselves as strings. An ASCII separator splits tokens whatever surrounds it,
    and lower-casing maps code points one by one, so a run without non-ASCII bytes is exactly one token."""
    tokenish = _tokenish(data)
    edges = np.flatnonzero(np.diff(tokenish, prepend=False, append=False))  # a run starts or ends here
    starts, ends = edges[0::2], edges[1::2]
    # A run over the boundary between two texts is two runs.
    cross = np.unique(bounds[1:-1])
    cross = cross[(cross > 0) & (cross < len(data))]
    cross = cross[tokenish[cross - 1] & tokenish[cross]]
    if len(cross):
        starts = np.insert(starts, np.searchsorted(starts, cross), cross)
        ends = np.insert(ends, np.searchsorted(ends, cross), cross)
    offsets = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(ends - starts, out=offsets[1:])
    # The runs are the tokenish bytes in order, so those bytes are the strings' buffer as they stand.
    bits = pa.py_buffer(np.packbits(tokenish, bitorder="little"))
    mask = pa.BooleanArray.from_buffers(pa.bool_(), len(data), [None, bits])
    values = pc.filter(pa.array(data), mask).buffers()[1]  # Arrow's filter: faster than numpy's
    runs = pa.LargeStringArray.from_buffers(len(starts), pa.py_buffer(offsets), values)
    return starts, pc.ascii_lower(runs)


def _regex_tokens(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The non-empty tokens of utf8_lower + RE2 split of the texts, flat, and how many each text has."""
    split = pc.split_pattern_regex(pc.utf8_lower(texts), pattern=NON_TOKEN_RE2)
    flat = split.flatten()
    real = pc.binary_length(flat).to_numpy() > 0  # the split leaves empty strings at the text's edges
    offsets = split.offsets.to_numpy()
    kept = np.concatenate([[0], np.cumsum(real)])[offsets - offsets[0]]
    return flat.filter(pa.array(real)), np.diff(kept)


def _hash_tokens(tokens: pa.Array) -> np.ndarray:
    """xxh3-64 of each token (of the UTF-8 str), each distinct token hashed once."""
    encoded = tokens.dictionary_encode()
    distinct = encoded.dictionary.to_pylist()
    table = np.fromiter((xxhash.xxh3_64_intdigest(t) for t in distinct), dtype=np.uint64, count=len(distinct))
    return table[encoded.indices.to_numpy()]


def _per_text(hashes: np.ndarray, first: np.ndarray) -> list[np.ndarray]:
    """Cut the flat token hashes at each text's first token (`first` has len(texts)+1 entries)."""
    return [hashes[first[i] : first[i + 1]] for i in range(len(first) - 1)]


def shingle_hashes(text: str, ngram: int) -> np.ndarray:
    """32-bit hashes of the distinct word n-grams of a text (a text shorter than n words is one shingle)."""
    return shingles_of(token_hashes(text), ngram)


def shingles_of(th: np.ndarray, ngram: int, distinct: bool = True) -> np.ndarray:
    """The n-gram hashes of a sequence of token hashes: distinct (sorted), or with repeats in text
    order when `distinct` is False (enough for a MinHash signature: the minimum over a multiset is the
    minimum over its set, and skipping the sort is cheaper than hashing the repeats)."""
    if len(th) == 0:
        return np.zeros(1, dtype=np.uint32)
    width = min(ngram, len(th))
    n = len(th) - width + 1
    with np.errstate(over="ignore"):
        h = th[:n].copy()
        for k in range(1, width):
            h = h * _POLY + th[k : k + n]  # wraps mod 2^64 by design
    folded = (h ^ (h >> np.uint64(32))).astype(np.uint32)
    return np.unique(folded) if distinct else folded


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser: spreads the bits before the affine permutations."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


class MinHasher:
    """num_perm affine permutations drawn from `seed`; signature() gives a document's minima."""

    def __init__(self, num_perm: int, seed: int) -> None:
        gen = np.random.RandomState(seed)
        self.a = (gen.randint(0, 1 << 31, num_perm, dtype=np.uint64) * 2 + 1).astype(np.uint32)
        self.b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint64).astype(np.uint32)

    def signature(self, shingles: np.ndarray) -> np.ndarray:
        sig = np.full(len(self.a), np.iinfo(np.uint32).max, dtype=np.uint32)
        with np.errstate(over="ignore"):
            mixed = _fmix32(shingles.astype(np.uint32))
            # One preallocated block, updated in place: no temporaries per block (~17% faster).
            buf = np.empty((min(_CHUNK, len(mixed)), len(self.a)), dtype=np.uint32)
            for start in range(0, len(mixed), _CHUNK):
                m = mixed[start : start + _CHUNK]
                block = buf[: len(m)]
                np.multiply(m[:, None], self.a, out=block)  # mod 2^32
                np.add(block, self.b, out=block)
                np.minimum(sig, np.minimum.reduce(block, axis=0), out=sig)
        return sig
