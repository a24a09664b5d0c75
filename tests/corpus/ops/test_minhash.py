"""The vectorised MinHash: the same tokens as the regex it replaced, and an unbiased Jaccard estimate."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa

from corpus.ops.minhash import TOKEN, MinHasher, batch_token_hashes, shingle_hashes, shingles_of, token_hashes


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


# ------------------------------------------------------------------ numpy tokeniser == the RE2 one


def _reference_token_hashes(texts: pa.Array) -> list[np.ndarray]:
    """batch_token_hashes as it was before the numpy tokeniser: RE2 over every byte."""
    import pyarrow.compute as pc
    import xxhash

    texts = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    tokens = pc.split_pattern_regex(pc.utf8_lower(texts), pattern=r"[^\p{L}\p{N}_]+")
    flat = tokens.flatten()
    offsets = tokens.offsets.to_numpy()
    encoded = flat.dictionary_encode()
    distinct = encoded.dictionary.to_pylist()
    table = np.fromiter((xxhash.xxh3_64_intdigest(t) for t in distinct), dtype=np.uint64, count=len(distinct))
    hashes = table[encoded.indices.to_numpy()]
    real = pc.utf8_length(flat).to_numpy() > 0
    return [hashes[offsets[i]:offsets[i + 1]][real[offsets[i]:offsets[i + 1]]] for i in range(len(texts))]


def _assert_same(texts: pa.Array | pa.ChunkedArray) -> None:
    got, want = batch_token_hashes(texts), _reference_token_hashes(texts)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype == np.uint64
        assert np.array_equal(g, w), (i, texts[i])


def _stdlib_sources(limit: int) -> list[str]:
    import pathlib
    import sysconfig

    files = sorted(pathlib.Path(sysconfig.get_paths()["stdlib"]).rglob("*.py"))[:limit]
    return [f.read_text(encoding="utf-8", errors="replace") for f in files]


def test_numpy_tokens_equal_re2_on_stdlib_sources() -> None:
    texts = _stdlib_sources(400)
    assert sum(not t.isascii() for t in texts) > 0 and sum(t.isascii() for t in texts) > 0  # both kinds
    for typ in (pa.string(), pa.large_string()):
        arr = pa.array(texts, type=typ)
        _assert_same(arr)
        _assert_same(arr.slice(3, 50))
        _assert_same(pa.chunked_array([arr.slice(0, 7), arr.slice(7, 0), arr.slice(7)]))


EDGE_TEXTS = [
    "", " ", "   \n\t", ".,;:()[]{}", "a", "_", "9", "__", "abc", " abc", "abc ", "  abc  def  ",
    "snake_case_9 CamelCase __dunder__ 0x1F 3.14e-5", "x" * 100_000, "ab" * 50_000 + " tail",
    "déjà_vu x1", "€", "€€ €", "a€b", "é", "日本語 テキスト_1", "ΣΑΣ σας", "İstanbul KELVIN\u212a",
    "naïve café\u0301", "x\u00a0y", "a\u2014b", "\u00bd\u00b2\u0663\u2167", "mixed ÀÉÎ ascii_TAIL",
    "".join(chr(c) for c in range(128)), "\x00a\x00b\x7f",
]


def test_numpy_tokens_equal_re2_on_edge_cases() -> None:
    for typ in (pa.string(), pa.large_string()):
        _assert_same(pa.array(EDGE_TEXTS, type=typ))
        _assert_same(pa.array(EDGE_TEXTS[::-1], type=typ).slice(2, 20))
        _assert_same(pa.array([None, "a b", None, "", "é x", None], type=typ))
        _assert_same(pa.array([None, None], type=typ))
        _assert_same(pa.array(["", "", ""], type=typ))
        _assert_same(pa.array([], type=typ))
        _assert_same(pa.chunked_array([], type=typ))
        for text in EDGE_TEXTS:
            _assert_same(pa.array([text], type=typ))


def test_numpy_tokens_equal_re2_on_interleaved_batches() -> None:
    rng = random.Random(11)
    sources = _stdlib_sources(60)
    texts = []
    for src in sources:
        cut = rng.randint(0, len(src))
        texts.append(src[:cut])
        texts.append(src[:cut] + rng.choice(["é", "日本", "€", "Ω_x", "\u00a0"]) + src[cut:cut + 500])
        texts.append(rng.choice(["", " ", "_", "9", "__init__", "ÀB"]))
    _assert_same(pa.array(texts))
    _assert_same(pa.array(texts, type=pa.large_string()).slice(5, 100))
    # Texts abutting one another: tokens must not run across a text boundary.
    _assert_same(pa.array(["ab", "cd", "é", "f", "g€", "h", "", "i", " j", "k "]))


def test_numpy_tokens_equal_re2_across_groups(monkeypatch) -> None:
    import corpus.ops.minhash

    monkeypatch.setattr(corpus.ops.minhash, "_GROUP_BYTES", 3000)  # groups of a few texts, some of one big text
    texts = _stdlib_sources(120) + EDGE_TEXTS + [None, "", "é"] * 5
    random.Random(2).shuffle(texts)
    _assert_same(pa.array(texts))
    _assert_same(pa.array(texts, type=pa.large_string()).slice(7, 90))


def test_numpy_tokens_equal_re2_around_every_cased_character() -> None:
    # The numpy path relies on lower-casing one code point at a time and on ASCII separators staying
    # separators: check every character with a case mapping, alone and glued to ASCII letters and digits.
    cased = [chr(c) for c in range(0x30000) if not 0xD800 <= c < 0xE000 and chr(c).lower() != chr(c).upper()]
    _assert_same(pa.array(cased + ["a" + c + "B" for c in cased] + [" 9" + c + "_ x" for c in cased]))


def test_null_slots_holding_bytes_have_no_tokens() -> None:
    # Arrow lets a null slot span bytes of the data buffer; those are not a text.
    for typ, width in ((pa.string(), np.int32), (pa.large_string(), np.int64)):
        offsets = pa.py_buffer(np.array([0, 7, 14, 19], dtype=width))
        validity = pa.py_buffer(np.packbits([False, True, False], bitorder="little"))
        arr = pa.Array.from_buffers(typ, 3, [validity, offsets, pa.py_buffer(b"hidden secret shown")])
        _assert_same(arr)
        assert [len(h) for h in batch_token_hashes(arr)] == [0, 1, 0]


def test_other_string_types_behave_as_before() -> None:
    import pytest

    for arr in (pa.array([b"a b"], pa.binary()), pa.array(["a b"]).dictionary_encode()):
        with pytest.raises(pa.ArrowNotImplementedError):
            _reference_token_hashes(arr)
        with pytest.raises(pa.ArrowNotImplementedError):
            batch_token_hashes(arr)


def test_numpy_tokens_equal_re2_seeded_fuzz() -> None:
    rng = random.Random(7)
    alphabet = "aZ_9 \n.é€日Σİ\u00a0"
    for _ in range(200):
        texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(rng.randint(0, 30))]
        if texts and rng.random() < 0.3:
            texts[rng.randrange(len(texts))] = None
        arr = pa.array(texts, type=rng.choice([pa.string(), pa.large_string()]))
        _assert_same(arr)
        if len(arr) > 2:
            _assert_same(arr.slice(1, len(arr) - 2))


def test_numpy_tokens_equal_re2_hypothesis() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    text = st.text(alphabet="aZ_9 \n.é€日", max_size=16)

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.one_of(text, st.none()), max_size=12), st.booleans())
    def check(texts: list, large: bool) -> None:
        _assert_same(pa.array(texts, type=pa.large_string() if large else pa.string()))

    check()


def test_signature_of_shingles_with_repeats_equals_that_of_the_distinct_ones() -> None:
    hasher = MinHasher(64, 3)
    text = "alpha beta gamma delta " * 40 + "epsilon zeta eta theta iota kappa " * 7
    th = token_hashes(text)
    assert len(shingles_of(th, 5, distinct=False)) > len(shingles_of(th, 5))
    assert np.array_equal(hasher.signature(shingles_of(th, 5, distinct=False)), hasher.signature(shingles_of(th, 5)))
