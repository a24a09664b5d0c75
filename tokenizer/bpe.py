"""Byte-level BPE in the shape of DeepSeek's tokenizer (recipe §6), trained with HF `tokenizers`.

Layout of a trained tokenizer (mirrors DeepSeek-V2, where the 100,000 learned tokens come first and the
specials start at id 100000):
- ids 0..255 are the byte-level alphabet, then one id per learned merge;
- the five DeepSeek special tokens follow right after the learned vocabulary, in DeepSeek's order
  (BOS, EOS, FIM hole, FIM begin, FIM end), so with a 100,000-token vocabulary they get DeepSeek's ids;
- optional reserved specials pad the total size (DeepSeek pads 100,015 to 102,400).

Specials are added tokens, not BPE tokens: no merge can ever produce them from text. Document text is
always encoded with a copy whose added tokens are removed (see `CorpusTokenizer.plain`), so a literal
`<｜fim▁hole｜>` inside a source file stays ordinary bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

BOS = "<\uff5cbegin\u2581of\u2581sentence\uff5c>"
EOS = "<\uff5cend\u2581of\u2581sentence\uff5c>"
FIM_HOLE = "<\uff5cfim\u2581hole\uff5c>"
FIM_BEGIN = "<\uff5cfim\u2581begin\uff5c>"
FIM_END = "<\uff5cfim\u2581end\uff5c>"

# Role -> exact string. Order = DeepSeek's id order (100000..100004).
SPECIAL_TOKENS: dict[str, str] = {
    "bos": BOS,
    "eos": EOS,
    "fim_hole": FIM_HOLE,
    "fim_begin": FIM_BEGIN,
    "fim_end": FIM_END,
}

_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}"
# One regex for the whole pre-tokenization, so that the same split can be replayed by tiktoken
# (fast_encode.py). Categories as in DeepSeek LLM §2.1 / GPT-2: every digit alone; CJK runs apart from
# other letters; letters (with combining marks) with one optional leading space; punctuation/symbol runs
# with one optional leading space; newlines (with the spaces before them); other whitespace runs leave their
# last space to the next word. Every character matches one alternative, so no byte is ever dropped.
PRETOKENIZE_PATTERN = (
    r"\p{N}"
    rf"|[{_CJK}]+"
    rf"| ?[^\s\p{{N}}\p{{P}}\p{{S}}\p{{C}}\p{{Z}}{_CJK}]+"
    r"| ?[^\s\p{L}\p{M}\p{N}]+"
    r"|\s*[\r\n]+"
    r"|\s+(?!\S)"
    r"|\s+"
)


def build_pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def train_bpe(
    texts: Iterable[str],
    vocab_size: int,
    *,
    min_frequency: int = 2,
    max_token_length: int | None = 32,
    total_vocab_size: int | None = None,
    show_progress: bool = False,
) -> Tokenizer:
    """Train a byte-level BPE on `texts`.

    `vocab_size` counts the learned tokens (256 byte tokens + merges), like DeepSeek's "100K"; the five
    specials come after them. `total_vocab_size`, if given, pads the tokenizer with reserved special tokens
    `<｜reserved▁N｜>` up to that size (DeepSeek: 100,000 + specials padded to 102,400).
    Non-string items are skipped.
    """
    if vocab_size < 257:
        raise ValueError(f"vocab_size must exceed the 256-byte alphabet, got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = build_pre_tokenizer()
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        show_progress=show_progress,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        max_token_length=max_token_length,
        special_tokens=[],
    )
    tok.train_from_iterator(_only_strings(texts), trainer=trainer)
    _add_specials(tok, total_vocab_size)
    return tok


def _only_strings(texts: Iterable[str]) -> Iterator[str]:
    for text in texts:
        if not isinstance(text, str) or not text:
            continue
        try:
            text.encode("utf-8")  # lone surrogates (from lossy decoding) would abort training
        except UnicodeEncodeError:
            continue
        yield text


def _add_specials(tok: Tokenizer, total_vocab_size: int | None) -> None:
    specials = [AddedToken(s, special=True, normalized=False) for s in SPECIAL_TOKENS.values()]
    tok.add_special_tokens(specials)
    size = tok.get_vocab_size(with_added_tokens=True)
    if total_vocab_size is not None:
        if total_vocab_size < size:
            raise ValueError(f"total_vocab_size {total_vocab_size} < tokenizer size {size}")
        reserved = [
            AddedToken(f"<\uff5creserved\u2581{i}\uff5c>", special=True, normalized=False)
            for i in range(total_vocab_size - size)
        ]
        if reserved:
            tok.add_special_tokens(reserved)
    # Like DeepSeek's tokenizer (add_bos_token = true): encode() with add_special_tokens prepends BOS,
    # so a FIM inference prompt gets the same BOS the documents were trained with.
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A",
        pair=f"{BOS} $A {BOS} $B",
        special_tokens=[(BOS, tok.token_to_id(BOS))],
    )


def save_tokenizer(tok: Tokenizer, path: str | Path, *, hf_config: bool = False) -> Path:
    """Write a standard `tokenizer.json` (temp name, then rename).

    With `hf_config`, also write `tokenizer_config.json` next to it so that
    `transformers.AutoTokenizer.from_pretrained(folder)` knows BOS/EOS/PAD, as for DeepSeek's tokenizer.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tok.save(str(tmp), pretty=False)
    tmp.replace(path)
    if hf_config:
        config = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": BOS,
            "eos_token": EOS,
            "pad_token": EOS,
            "add_bos_token": True,
            "add_eos_token": False,
            "clean_up_tokenization_spaces": False,
            "model_max_length": 16384,
        }
        cfg = path.with_name("tokenizer_config.json")
        tmp = cfg.with_name(cfg.name + ".tmp")
        tmp.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(cfg)
    return path


@dataclass(frozen=True)
class SpecialIds:
    bos: int
    eos: int
    fim_hole: int
    fim_begin: int
    fim_end: int
    pad: int

    def as_dict(self) -> dict[str, int]:
        return {
            "bos": self.bos,
            "eos": self.eos,
            "fim_hole": self.fim_hole,
            "fim_begin": self.fim_begin,
            "fim_end": self.fim_end,
            "pad": self.pad,
        }


class TokenizerError(ValueError):
    """A tokenizer file that cannot serve the pipeline (missing or non-atomic special tokens)."""


@dataclass
class CorpusTokenizer:
    """A loaded tokenizer plus what the pipeline needs around it.

    `tokenizer` is the file as saved (what users and transformers load). `plain` is the same model with
    *all* added tokens and the post-processor removed: documents are encoded with it, so text never yields
    a special or control token, even one a file stores as non-special (DeepSeek's FIM tokens are).
    """

    tokenizer: Tokenizer
    plain: Tokenizer
    specials: SpecialIds
    vocab_size: int
    sha256: str
    path: Path | None = None
    json_text: str = field(default="", repr=False)

    def encode_plain(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.plain.encode_batch_fast(texts, add_special_tokens=False)]

    def decode(self, ids: Iterable[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)


def load_tokenizer(path: str | Path) -> CorpusTokenizer:
    """Load a `tokenizer.json` (ours, or an existing one such as DeepSeek-V2's) and validate its specials.

    `path` may also be a folder holding `tokenizer.json` (e.g. a downloaded Hub snapshot).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "tokenizer.json"
    raw = path.read_bytes()
    return from_json(raw.decode("utf-8"), path=path, sha256=hashlib.sha256(raw).hexdigest())


def wrap_tokenizer(tok: Tokenizer) -> CorpusTokenizer:
    """Validate an in-memory tokenizer (e.g. fresh from `train_bpe`); sha256 is over its JSON form."""
    text = tok.to_str()
    return from_json(text, path=None, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())


def from_json(text: str, *, path: Path | None, sha256: str) -> CorpusTokenizer:
    tok = Tokenizer.from_str(text)
    data = json.loads(text)
    ids: dict[str, int] = {}
    for role, string in SPECIAL_TOKENS.items():
        tid = tok.token_to_id(string)
        if tid is None:
            raise TokenizerError(f"special token {role} {string!r} not in the vocabulary")
        ids[role] = tid
    data["added_tokens"] = []
    data["post_processor"] = None
    plain = Tokenizer.from_str(json.dumps(data))
    _validate_specials(tok, plain, ids)
    # A model must embed every id, so the size is max id + 1 even if the file has gaps.
    max_id = max(tok.get_vocab(with_added_tokens=True).values())
    size = max(tok.get_vocab_size(with_added_tokens=True), max_id + 1)
    specials = SpecialIds(pad=ids["eos"], **ids)
    return CorpusTokenizer(tok, plain, specials, size, sha256, path, text)


def _validate_specials(tok: Tokenizer, plain: Tokenizer, ids: dict[str, int]) -> None:
    special_set = set(ids.values())
    for role, string in SPECIAL_TOKENS.items():
        got = tok.encode(string, add_special_tokens=False).ids
        if got != [ids[role]]:
            raise TokenizerError(f"special token {role} {string!r} is not atomic: encodes to {got}")
    # Plain text (even the literal sentinel strings) must never produce a special id.
    probe = "x" + "".join(SPECIAL_TOKENS.values()) + " " + " ".join(SPECIAL_TOKENS.values())
    leaked = special_set.intersection(plain.encode(probe, add_special_tokens=False).ids)
    if leaked:
        raise TokenizerError(f"special ids {sorted(leaked)} can be produced from plain text")
    # Documents are encoded without the file's added tokens: its model alone must cover any text
    # (true for byte-level BPE). Checked on a probe with several scripts, controls and emoji.
    probe = "def f(x):\n\treturn x  # héllo 中文 한국어 ٣ Ⅻ \x00\x7f \u2028 😀 <|EOT|> õ" + probe
    ids = plain.encode(probe, add_special_tokens=False).ids
    if plain.decode(ids, skip_special_tokens=False) != probe:
        raise TokenizerError("the tokenizer's model does not round-trip text without its added tokens")
