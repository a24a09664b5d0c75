"""Optional fast path: a `tiktoken.Encoding` replaying the *same* byte-level BPE as a tokenizer.json.

It is only built when the tokenizer has exactly our layout (one Split regex + ByteLevel without regex, no
normalizer, a BPE whose merge results have increasing ids): then tiktoken's "merge the lowest-ranked pair"
rule, with rank = token id, is the HF merge order. Whether the ids are really identical is checked on text
(`verify_fast_encoder`), never assumed; `tokenizer.json` stays the artifact.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from .bpe import CorpusTokenizer

log = logging.getLogger(__name__)


def _byte_level_alphabet() -> dict[str, int]:
    """GPT-2's byte-level mapping, inverted: printable Latin-1 bytes map to themselves, the other bytes to
    code points 256, 257, ... in byte order."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars: dict[str, int] = {chr(b): b for b in keep}
    extra = 0
    for b in range(256):
        if b not in keep:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


def _our_pattern(data: dict[str, Any]) -> str | None:
    pre = data.get("pre_tokenizer") or {}
    if data.get("normalizer") is not None or pre.get("type") != "Sequence":
        return None
    steps = pre.get("pretokenizers", [])
    if len(steps) != 2:
        return None
    split, byte_level = steps
    if (
        split.get("type") != "Split"
        or split.get("behavior") != "Isolated"
        or split.get("invert")
        or "Regex" not in (split.get("pattern") or {})
        or byte_level.get("type") != "ByteLevel"
        or byte_level.get("use_regex")
        or byte_level.get("add_prefix_space")
    ):
        return None
    return split["pattern"]["Regex"]


def build_fast_encoder(tok: CorpusTokenizer) -> Any | None:
    """A tiktoken Encoding equivalent to `tok.plain`, or None (with a logged reason) when not applicable."""
    try:
        import tiktoken
    except ImportError:
        log.info("tiktoken not installed: no fast path")
        return None
    data = json.loads(tok.json_text or tok.tokenizer.to_str())
    pattern = _our_pattern(data)
    model = data.get("model") or {}
    if pattern is None or model.get("type") != "BPE" or model.get("ignore_merges") or model.get("dropout"):
        log.info("tokenizer layout not replayable by tiktoken: no fast path")
        return None
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix") or model.get("byte_fallback"):
        return None
    alphabet = _byte_level_alphabet()
    vocab: dict[str, int] = model["vocab"]
    ranks: dict[bytes, int] = {}
    for token, tid in vocab.items():
        try:
            ranks[bytes(alphabet[c] for c in token)] = tid
        except KeyError:
            log.info("vocab token %r is not byte-level: no fast path", token)
            return None
    if len(ranks) != len(vocab) or any(bytes([b]) not in ranks for b in range(256)):
        return None
    last = max(ranks[bytes([b])] for b in range(256))
    for merge in model.get("merges", []):
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        new = vocab.get(left + right)
        if new is None or new <= last or new <= vocab[left] or new <= vocab[right]:
            log.info("merge order differs from id order at %r: no fast path", merge)
            return None
        last = new
    return tiktoken.Encoding(
        name=f"corpus-bpe-{tok.sha256[:12]}", pat_str=pattern, mergeable_ranks=ranks, special_tokens={}
    )


class FastEncoder:
    """Callable with the `encode_plain` signature, backed by tiktoken."""

    def __init__(self, encoding: Any, num_threads: int = 1) -> None:
        self.encoding = encoding
        self.num_threads = num_threads

    def __call__(self, texts: list[str]) -> list[list[int]]:
        if self.num_threads == 1:  # tiktoken's batch call goes through a thread pool even for one thread
            return [self.encoding.encode_ordinary(t) for t in texts]
        return self.encoding.encode_ordinary_batch(texts, num_threads=self.num_threads)


def verify_fast_encoder(tok: CorpusTokenizer, encoder: FastEncoder, texts: Sequence[str]) -> dict[str, Any]:
    """Compare ids with tokenizer.json's on every text; returns counts and the first mismatching index."""
    ref = tok.encode_plain(list(texts))
    got = encoder(list(texts))
    bad = [i for i, (a, b) in enumerate(zip(ref, got)) if list(a) != list(b)]
    return {"texts": len(texts), "mismatches": len(bad), "first_mismatch": bad[0] if bad else None}


def choose_encoder(tok: CorpusTokenizer, sample: Sequence[str], max_bytes: int = 5_000_000) -> tuple[FastEncoder | None, dict[str, Any]]:
    """The tiktoken encoder if it exists and matches tokenizer.json on `sample` (capped at `max_bytes`),
    else None. The report goes into the manifest so a run says which encoder produced its ids."""
    enc = build_fast_encoder(tok)
    if enc is None:
        return None, {"name": "tokenizers", "reason": "fast path not applicable to this tokenizer"}
    picked: list[str] = []
    size = 0
    for text in sample:
        if isinstance(text, str) and text:
            picked.append(text)
            size += len(text)
            if size >= max_bytes:
                break
    fast = FastEncoder(enc)
    try:
        check = verify_fast_encoder(tok, fast, picked)
    except Exception as exc:  # noqa: BLE001 - e.g. a text tiktoken rejects: stay on tokenizers
        return None, {"name": "tokenizers", "reason": f"fast path check failed: {exc}"}
    if check["mismatches"]:
        return None, {"name": "tokenizers", "reason": "fast path ids differ", **check}
    return fast, {"name": "tiktoken", "verified_texts": check["texts"], "mismatches": 0}
