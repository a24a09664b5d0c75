"""The vectorised MinHash: the same tokens as the regex it replaced, and an unbiased Jaccard estimate."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa

from corpus.minhash import TOKEN, MinHasher, batch_token_hashes, shingle_hashes, shingles_of, token_hashes


def test_arrow_tokens_equal_python_regex_tokens() -> None:
    rng = random.Random(3)
    alphabet = "abcXYZ019_ \n\t.,;:()[]{}=+-*/'\"éßø漢字ΩЖ²½٣ⅷ\u0301-"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200))) for _ in range(300)] + ["", "   ", "déjà_vu x1"]
    batch = batch_token_hashes(pa.array(texts))
    import xxhash

    for text, hashes in zip(texts, batch):
        expected = [xxhash.xxh3_64_intdigest(t) for t in TOKEN.findall(text.lower())]
        assert hashes.tolist() == expected, repr(text)
        assert np.array_equal(hashes, token_hashes(text))


def _jaccard(a: str, b: str, n: int) -> float:
    def grams(t: str) -> set:
        w = TOKEN.findall(t.lower())
        return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}

    x, y = grams(a), grams(b)
    return len(x & y) / len(x | y)


def test_signature_agreement_estimates_jaccard() -> None:
    rng = random.Random(5)
    words = [f"w{i}" for i in range(400)]
    hasher = MinHasher(256, seed=42)
    errors = []
    for _ in range(40):
        base = [rng.choice(words) for _ in range(600)]
        edited = [w if rng.random() > rng.uniform(0.02, 0.4) else rng.choice(words) for w in base]
        a, b = " ".join(base), " ".join(edited)
        est = float((hasher.signature(shingle_hashes(a, 5)) == hasher.signature(shingle_hashes(b, 5))).mean())
        errors.append(est - _jaccard(a, b, 5))
    # 256 permutations: standard error <= 1/32; the mean error of 40 pairs shows no bias.
    assert max(abs(e) for e in errors) < 0.12 and abs(float(np.mean(errors))) < 0.02


def test_short_texts_and_identical_texts() -> None:
    hasher = MinHasher(64, seed=1)
    assert np.array_equal(hasher.signature(shingles_of(token_hashes("one two"), 5)),
                          hasher.signature(shingles_of(token_hashes("ONE  two!"), 5)))
    assert len(shingle_hashes("", 5)) == 1  # an empty text is one (empty) shingle, not an error
