"""Tokenizer: DeepSeek special tokens, atomicity, digit split, standard loading, DeepSeek-style files, fast path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from tokenizer import (
    BOS,
    EOS,
    FIM_BEGIN,
    FIM_END,
    FIM_HOLE,
    SPECIAL_TOKENS,
    TokenizerError,
    load_tokenizer,
    save_tokenizer,
    train_bpe,
    wrap_tokenizer,
)
from tokenizer.fast_encode import FastEncoder, build_fast_encoder, choose_encoder, verify_fast_encoder
from tokenizer.sample import sample_records

VOCAB = 2000


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return sample_records(2_000_000, math_docs=300)


@pytest.fixture(scope="module")
def trained(records, tmp_path_factory) -> Path:
    tok = train_bpe((r["text"] for r in records), VOCAB)
    return save_tokenizer(tok, tmp_path_factory.mktemp("tok") / "tokenizer.json")


def test_special_token_strings_exact_bytes() -> None:
    # Bytes of <｜fim▁begin｜> as printed in the DeepSeek-Coder-V2 README (recipe §6).
    assert FIM_BEGIN.encode("utf-8") == bytes.fromhex("3C EF BD 9C 66 69 6D E2 96 81 62 65 67 69 6E EF BD 9C 3E")
    bar, space = "\uff5c", "\u2581"
    assert BOS == f"<{bar}begin{space}of{space}sentence{bar}>"
    assert EOS == f"<{bar}end{space}of{space}sentence{bar}>"
    assert FIM_HOLE == f"<{bar}fim{space}hole{bar}>"
    assert FIM_END == f"<{bar}fim{space}end{bar}>"
    assert list(SPECIAL_TOKENS.values()) == [BOS, EOS, FIM_HOLE, FIM_BEGIN, FIM_END]


def test_specials_follow_learned_vocab_in_deepseek_order(trained: Path) -> None:
    tok = Tokenizer.from_file(str(trained))
    assert tok.get_vocab_size(with_added_tokens=False) == VOCAB
    ids = [tok.token_to_id(s) for s in SPECIAL_TOKENS.values()]
    assert ids == list(range(VOCAB, VOCAB + 5))
    ct = load_tokenizer(trained)
    assert ct.vocab_size == VOCAB + 5
    assert ct.specials.as_dict() == {"bos": VOCAB, "eos": VOCAB + 1, "fim_hole": VOCAB + 2,
                                     "fim_begin": VOCAB + 3, "fim_end": VOCAB + 4, "pad": VOCAB + 1}


def test_specials_atomic_and_never_from_plain_text(trained: Path, records) -> None:
    ct = load_tokenizer(trained)
    special_ids = set(ct.specials.as_dict().values())
    for string in SPECIAL_TOKENS.values():
        assert ct.tokenizer.encode(string, add_special_tokens=False).ids == [ct.tokenizer.token_to_id(string)]
        # The learned BPE vocabulary holds no special string (so no merge chain can build one).
        assert string not in ct.plain.get_vocab()
    texts = [r["text"] for r in records[:400]] + ["".join(SPECIAL_TOKENS.values()), f"x{FIM_HOLE}y {EOS}\n"]
    for ids in ct.encode_plain(texts):
        assert not special_ids.intersection(ids)
    # Text containing sentinel strings round-trips as text.
    text = f"a = '{FIM_BEGIN}' + \"{FIM_HOLE}\"  # {EOS}"
    assert ct.specials.fim_begin in ct.tokenizer.encode(text).ids  # what encode() of the raw file would do
    assert ct.decode(ct.encode_plain([text])[0]) == text


def test_digits_are_split_individually(trained: Path) -> None:
    ct = load_tokenizer(trained)
    vocab = ct.plain.get_vocab()
    with_digits = [t for t in vocab if any(ch in "0123456789" for ch in t)]
    assert with_digits and all(len(t) == 1 for t in with_digits), [t for t in with_digits if len(t) > 1][:5]
    ids = ct.encode_plain(["x = 1234567890 + 3.14159"])[0]
    digit_tokens = [ct.plain.id_to_token(i) for i in ids if any(c.isdigit() for c in ct.plain.id_to_token(i))]
    assert digit_tokens == list("1234567890314159")


def test_roundtrip_bytes_exact(trained: Path, records) -> None:
    ct = load_tokenizer(trained)
    texts = [r["text"] for r in records[:300]] + ["héllo 中文 한국어 😀 \t\r\n \x00 e\u0301"]
    for text, ids in zip(texts, ct.encode_plain(texts)):
        assert ct.decode(ids) == text


def test_standard_loaders(trained: Path) -> None:
    from transformers import PreTrainedTokenizerFast

    text = f"{FIM_BEGIN}def f(x):\n    return x{FIM_HOLE}\n{FIM_END}"
    raw = Tokenizer.from_file(str(trained))
    hf = PreTrainedTokenizerFast(tokenizer_file=str(trained))
    ids = raw.encode(text).ids
    assert hf.encode(text) == ids
    assert ids[0] == raw.token_to_id(BOS)  # add_bos_token like DeepSeek
    assert raw.token_to_id(FIM_BEGIN) in ids and raw.token_to_id(FIM_HOLE) in ids
    assert hf.convert_tokens_to_ids(FIM_END) == raw.token_to_id(FIM_END)
    assert hf.decode(ids) == BOS + text


def test_auto_tokenizer_from_folder(records, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    tok = train_bpe((r["text"] for r in records[:200]), 500)
    save_tokenizer(tok, tmp_path / "tokenizer.json", hf_config=True)
    auto = AutoTokenizer.from_pretrained(str(tmp_path))
    assert auto.bos_token == BOS and auto.eos_token == EOS and auto.pad_token_id == tok.token_to_id(EOS)
    assert auto.encode("x = 1") == tok.encode("x = 1").ids


def _deepseek_style_json(trained: Path) -> dict:
    """A tokenizer.json laid out like DeepSeek-V2's: 100,000 model tokens, specials from id 100000, FIM
    tokens stored as non-special added tokens (as llama.cpp reports), a Sequence of Split pre-tokenizers."""
    data = json.loads(trained.read_text(encoding="utf-8"))
    vocab = data["model"]["vocab"]
    n = len(vocab)
    for i in range(n, 100_000):
        vocab[f"ĠunusedĠ{i}"] = i  # unreachable filler: no merge builds it
    added = []
    for k, (role, string) in enumerate(SPECIAL_TOKENS.items()):
        added.append({"id": 100_000 + k, "content": string, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": role.startswith("fim"), "special": not role.startswith("fim")})
    for k in range(5, 15):
        added.append({"id": 100_000 + k, "content": f"<\uff5cplace\u2581holder\u2581no\u2581{k}\uff5c>",
                      "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True})
    data["added_tokens"] = added
    splits = [r"[\r\n]", r"\s?[A-Za-zµÀ-ÖØ-öø-ƺ]+", r"\s?[!-/:-~！-／：-～‘-‟　-。]+", r"\s+$",
              r"[一-龥ࠀ-一가-퟿]+", r"\p{N}+"]
    data["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        *({"type": "Split", "pattern": {"Regex": p}, "behavior": "Isolated", "invert": False} for p in splits),
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
    ]}
    data["post_processor"] = {"type": "TemplateProcessing",
                              "single": [{"SpecialToken": {"id": BOS, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                              "pair": [{"SpecialToken": {"id": BOS, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                       {"SpecialToken": {"id": BOS, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                              "special_tokens": {BOS: {"id": BOS, "ids": [100_000], "tokens": [BOS]}}}
    return data


def test_load_existing_deepseek_style_tokenizer(trained: Path, tmp_path: Path) -> None:
    from transformers import PreTrainedTokenizerFast

    path = tmp_path / "deepseek" / "tokenizer.json"
    path.parent.mkdir()
    path.write_text(json.dumps(_deepseek_style_json(trained), ensure_ascii=False), encoding="utf-8")
    ct = load_tokenizer(path.parent)  # a snapshot folder works as well as the file
    assert ct.path == path
    assert ct.specials.as_dict() == {"bos": 100000, "eos": 100001, "fim_hole": 100002, "fim_begin": 100003,
                                     "fim_end": 100004, "pad": 100001}
    assert ct.vocab_size == 100015
    # Its FIM tokens are non-special added tokens, yet document text never turns into them.
    doc = f"s = '{FIM_HOLE}{FIM_BEGIN}{FIM_END}'"
    assert 100002 in ct.tokenizer.encode(doc).ids  # the raw file would turn the text into sentinels
    ids = ct.encode_plain([doc])[0]
    assert not {100000, 100001, 100002, 100003, 100004}.intersection(ids)
    assert ct.decode(ids) == doc
    # The file itself (what users load for inference) still maps the strings to the special ids.
    assert ct.tokenizer.encode(FIM_BEGIN + "x" + FIM_HOLE).ids[:2] == [100000, 100003]
    assert PreTrainedTokenizerFast(tokenizer_file=str(path)).convert_tokens_to_ids(FIM_END) == 100004
    # A pre-tokenizer tiktoken cannot replay: no fast path, the HF path is used.
    assert build_fast_encoder(ct) is None
    encoder, report = choose_encoder(ct, [doc])
    assert encoder is None and report["name"] == "tokenizers"


def test_tokenizer_without_specials_is_rejected(trained: Path, tmp_path: Path) -> None:
    data = json.loads(trained.read_text(encoding="utf-8"))
    data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] != FIM_HOLE]
    data["post_processor"] = None
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(TokenizerError, match="fim_hole"):
        load_tokenizer(path)


def test_reserved_padding_to_total_size(records) -> None:
    tok = train_bpe((r["text"] for r in records[:200]), 600, total_vocab_size=640)
    ct = wrap_tokenizer(tok)
    assert ct.vocab_size == 640
    assert ct.specials.bos == 600 and ct.specials.fim_end == 604


def test_bad_training_input_is_skipped() -> None:
    tok = train_bpe(["abc abc abd", None, 3, "", "x\ud800y", "abd abc"], 300)  # type: ignore[list-item]
    assert tok.get_vocab_size(with_added_tokens=False) <= 300
    with pytest.raises(ValueError):
        train_bpe(["abc"], 100)


def test_fast_encoder_ids_identical_on_whole_sample(trained: Path, records) -> None:
    ct = load_tokenizer(trained)
    enc = build_fast_encoder(ct)
    assert enc is not None
    texts = [r["text"] for r in records] + ["".join(SPECIAL_TOKENS.values()), "\u3000\u2028\x85 ٣٤ Ⅻ ½ 😀"]
    result = verify_fast_encoder(ct, FastEncoder(enc), texts)
    assert result == {"texts": len(texts), "mismatches": 0, "first_mismatch": None}


def test_cli_train_info_encode(tmp_path: Path, capsys) -> None:
    from tokenizer.cli import main

    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    for r in sample_records(300_000, math_docs=50)[:120]:
        (src / "pkg" / f"{r['id']}.txt").write_text(r["text"], encoding="utf-8")
    (src / "blob.bin").write_bytes(b"\0\1\2binary")
    out = tmp_path / "tok" / "tokenizer.json"
    assert main(["tokenizer", "train", "--input", str(src), "--vocab-size", "700", "--output", str(out)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["vocab_size"] == 705 and report["special_tokens"]["fim_begin"] == 703
    assert main(["tokenizer", "info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["fast_encoder"] is True and info["vocab_size"] == 705
    assert main(["tokenizer", "encode", "--tokenizer", str(out), f"x{FIM_HOLE}"]) == 0
    enc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 702 not in enc["ids"]
    assert main(["tokenizer", "info", str(tmp_path / "missing.json")]) == 2


def test_tokenizer_that_cannot_cover_text_is_rejected(tmp_path: Path) -> None:
    from tokenizers import AddedToken, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"def": 0, "x": 1, "[UNK]": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens([AddedToken(s, special=True) for s in SPECIAL_TOKENS.values()])
    path = tmp_path / "wordlevel.json"
    tok.save(str(path))
    with pytest.raises(TokenizerError, match="round-trip"):
        load_tokenizer(path)
