"""FIM: DeepSeek PSM format byte for byte, SPM, character-level splits, undo, seeding, sentinel safety."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from tokenizer import (
    BOS,
    EOS,
    FIM_BEGIN,
    FIM_END,
    FIM_HOLE,
    ShardConfig,
    apply_fim,
    encode_documents,
    train_bpe,
    undo_fim,
    undo_fim_ids,
    wrap_tokenizer,
)
from tokenizer.fim import FimResult, doc_rng
from tokenizer.sample import sample_records


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return sample_records(1_500_000, math_docs=200)


@pytest.fixture(scope="module")
def tok(records):
    return wrap_tokenizer(train_bpe((r["text"] for r in records), 1500))


def test_psm_string_is_deepseek_format() -> None:
    r = FimResult("psm", "def add(a, b):\n", "    return a + b\n", "\nprint(add(1, 2))\n")
    expected = (
        "<｜fim▁begin｜>def add(a, b):\n<｜fim▁hole｜>\nprint(add(1, 2))\n<｜fim▁end｜>    return a + b\n"
        "<｜end▁of▁sentence｜>"
    )
    assert r.to_text() == expected
    assert r.to_text().encode() == (
        b"<\xef\xbd\x9cfim\xe2\x96\x81begin\xef\xbd\x9c>def add(a, b):\n<\xef\xbd\x9cfim\xe2\x96\x81hole\xef\xbd\x9c>"
        b"\nprint(add(1, 2))\n<\xef\xbd\x9cfim\xe2\x96\x81end\xef\xbd\x9c>    return a + b\n"
        b"<\xef\xbd\x9cend\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"
    )
    spm = FimResult("spm", "P", "M", "S")
    assert spm.to_text() == f"{FIM_BEGIN}{FIM_HOLE}S{FIM_END}PM{EOS}"


def test_character_level_split_and_undo() -> None:
    text = "héllo 中文 wörld 😀 ∑ x²\n" * 5
    rng = random.Random(7)
    cuts = Counter()
    for _ in range(2000):
        r = apply_fim(text, rng, rate=1.0)
        assert r.applied and undo_fim(r) == text
        # Pieces are valid str slices at code-point boundaries: UTF-8 bytes add up exactly.
        assert sum(len(p.encode()) for p in (r.prefix, r.middle, r.suffix)) == len(text.encode())
        cuts[len(r.prefix)] += 1
        cuts[len(r.prefix) + len(r.middle)] += 1
    # Split points cover every position, both ends included (uniform over [0, len]).
    assert set(cuts) == set(range(len(text) + 1))


def test_rate_and_numpy_generator() -> None:
    rng = np.random.default_rng(0)
    applied = sum(apply_fim("abcdefgh", rng, rate=0.5).applied for _ in range(4000))
    assert 1850 < applied < 2150
    assert not any(apply_fim("abc", random.Random(i), rate=0.0).applied for i in range(100))
    assert not apply_fim("", random.Random(0), rate=1.0).applied
    spm = sum(apply_fim("abcdef", random.Random(i), rate=1.0, spm_rate=0.3).mode == "spm" for i in range(3000))
    assert 800 < spm < 1000


def test_per_document_seeding() -> None:
    a = apply_fim("x" * 1000, doc_rng(1, "doc-a"), rate=1.0)
    assert a == apply_fim("x" * 1000, doc_rng(1, "doc-a"), rate=1.0)
    others = {apply_fim("x" * 1000, doc_rng(s, d, rep), rate=1.0) for s, d, rep in
              [(2, "doc-a", 0), (1, "doc-b", 0), (1, "doc-a", 1)]}
    assert a not in others


def test_encoded_documents_undo_exactly(tok, records) -> None:
    cfg = ShardConfig(fim_rate=0.5, fim_spm_rate=0.2, fim_domains=["code", "math"])
    docs = encode_documents(tok, records, cfg, seed=11)
    assert len(docs) == len(records)
    by_id = {r["id"]: r["text"] for r in records}
    modes = Counter(d.fim for d in docs)
    assert modes["psm"] > 0 and modes["spm"] > 0 and modes["none"] > 0
    sp = tok.specials
    for d in docs:
        ids = d.ids.tolist()
        assert ids[0] == sp.bos and ids[-1] == sp.eos
        assert undo_fim_ids(ids, sp, tok.decode) == by_id[d.doc_id]
        if d.fim == "psm":
            assert ids[1] == sp.fim_begin and ids.count(sp.fim_hole) == 1 and ids.count(sp.fim_end) == 1
            assert ids.index(sp.fim_hole) < ids.index(sp.fim_end)
        elif d.fim == "spm":
            assert ids[1:3] == [sp.fim_begin, sp.fim_hole]
        else:
            assert not {sp.fim_begin, sp.fim_hole, sp.fim_end}.intersection(ids)
        if d.domain == "text":
            assert d.fim == "none"  # only the configured domains get FIM


def test_fim_ids_decode_to_deepseek_string(tok) -> None:
    text = "def f(x):\n    return x * 2\n"
    doc = {"id": "one", "text": text, "source": "s", "domain": "code", "language": "Python"}
    cfg = ShardConfig(fim_rate=1.0)
    (enc,) = encode_documents(tok, [doc], cfg, seed=3)
    expected = apply_fim(text, doc_rng(3, "one", 0), rate=1.0)
    assert tok.decode(enc.ids.tolist()) == BOS + expected.to_text()
    (no_bos,) = encode_documents(tok, [doc], ShardConfig(fim_rate=1.0, add_bos=False), seed=3)
    assert tok.decode(no_bos.ids.tolist()) == expected.to_text()


def test_literal_sentinels_in_documents_stay_text(tok) -> None:
    text = f"s = '{FIM_HOLE}'\nt = '{FIM_BEGIN}{FIM_END}{EOS}{BOS}'\n"
    doc = {"id": "evil", "text": text, "source": "s", "domain": "code", "language": "Python"}
    for rate in (0.0, 1.0):
        for seed in range(20):
            (enc,) = encode_documents(tok, [doc], ShardConfig(fim_rate=rate), seed=seed)
            ids = enc.ids.tolist()
            sp = tok.specials
            # Exactly the sentinels FIM inserted, never more: text did not become specials.
            assert ids.count(sp.fim_hole) == (1 if enc.fim != "none" else 0)
            assert ids.count(sp.eos) == 1 and ids.count(sp.bos) == 1
            assert undo_fim_ids(ids, sp, tok.decode) == text


def test_bad_records_are_skipped(tok) -> None:
    skipped = Counter()
    docs = [{"id": "a", "text": None}, {"text": "x"}, {"id": "b", "text": ""}, {"id": "c", "text": "ok\ud800"},
            {"id": "d", "text": "fine", "domain": "code"}]
    out = encode_documents(tok, docs, ShardConfig(), seed=0, skipped=skipped)
    assert [d.doc_id for d in out] == ["d"]
    assert skipped == Counter({"text_not_string": 1, "missing_id": 1, "empty_text": 1, "invalid_unicode": 1})
