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


def batch_token_hashes(texts: pa.Array) -> list[np.ndarray]:
    """xxh3-64 of each lower-cased \\w+ token of every text, in order, each distinct token hashed once.
    Tokenised in Arrow's C++ (RE2) for the whole batch at once: Python's `re` ran at ~18 MB/s on code.
    The tokens are TOKEN's on str.lower() text, except that Arrow lower-cases a word-final capital sigma
    to σ where Python gives ς."""
    texts = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    tokens = pc.split_pattern_regex(pc.utf8_lower(texts), pattern=NON_TOKEN_RE2)
    flat = tokens.flatten()
    offsets = tokens.offsets.to_numpy()
    encoded = flat.dictionary_encode()
    distinct = encoded.dictionary.to_pylist()
    table = np.fromiter((xxhash.xxh3_64_intdigest(t) for t in distinct), dtype=np.uint64, count=len(distinct))
    hashes = table[encoded.indices.to_numpy()]
    real = pc.utf8_length(flat).to_numpy() > 0  # the split leaves empty strings at the text's edges
    return [hashes[offsets[i]:offsets[i + 1]][real[offsets[i]:offsets[i + 1]]] for i in range(len(texts))]


def shingle_hashes(text: str, ngram: int) -> np.ndarray:
    """32-bit hashes of the distinct word n-grams of a text (a text shorter than n words is one shingle)."""
    return shingles_of(token_hashes(text), ngram)


def shingles_of(th: np.ndarray, ngram: int) -> np.ndarray:
    """The distinct n-gram hashes of a sequence of token hashes."""
    if len(th) == 0:
        return np.zeros(1, dtype=np.uint32)
    width = min(ngram, len(th))
    n = len(th) - width + 1
    with np.errstate(over="ignore"):
        h = th[:n].copy()
        for k in range(1, width):
            h = h * _POLY + th[k : k + n]  # wraps mod 2^64 by design
    folded = (h ^ (h >> np.uint64(32))).astype(np.uint32)
    return np.unique(folded)


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
            for start in range(0, len(mixed), _CHUNK):
                block = mixed[start : start + _CHUNK, None] * self.a + self.b  # mod 2^32
                np.minimum(sig, block.min(axis=0), out=sig)
        return sig
