"""Per-batch, order-independent document encoding: text -> (FIM) -> ids with BOS/EOS.

Every random decision (FIM, eval hold-out) is seeded by (seed, doc id, copy index), so a batch gives the
same result for a document whatever else is in the batch: workers can encode any partition in parallel and
one sorted pass packs them (shards.py).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .bpe import CorpusTokenizer
from .config import ShardConfig
from .fim import FimResult, apply_fim, doc_rng, fim_ids

log = logging.getLogger(__name__)


class PlainEncoder(Protocol):
    def __call__(self, texts: list[str]) -> list[list[int]]: ...


@dataclass
class EncodedDoc:
    doc_id: str
    rep: int
    source: str
    domain: str
    language: str
    split: str  # "train" or "eval"
    fim: str  # "none", "psm" or "spm"
    ids: np.ndarray  # int32

    @property
    def n_tokens(self) -> int:
        return int(self.ids.shape[0])


def _unit(seed: int, purpose: str, doc_id: str) -> float:
    """A uniform number in [0, 1) owned by (seed, purpose, doc id)."""
    digest = hashlib.blake2b(f"{seed}\0{purpose}\0{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2.0**64


def split_of(seed: int, doc_id: str, eval_fraction: float) -> str:
    return "eval" if _unit(seed, "eval", doc_id) < eval_fraction else "train"


def encode_documents(
    tok: CorpusTokenizer,
    docs: Iterable[Mapping[str, Any]],
    config: ShardConfig,
    seed: int,
    *,
    encoder: PlainEncoder | None = None,
    skipped: Counter | None = None,
) -> list[EncodedDoc]:
    """Encode document records (keys: id, text, source, domain, language; optional rep = copy index),
    whole (no chunking), with config's FIM, BOS and eval fraction (the eval split drawn per document).

    Pure per batch. `encoder` may replace `tok.encode_plain` (e.g. the tiktoken fast path) if it gives the
    same ids. Bad records are skipped and counted in `skipped` by reason.
    """
    encode = encoder or tok.encode_plain
    skipped = skipped if skipped is not None else Counter()
    metas: list[tuple[Mapping[str, Any], int, str, FimResult]] = []
    texts: list[str] = []
    for doc in docs:
        text, doc_id = doc.get("text"), doc.get("id")
        if not isinstance(doc_id, str) or not doc_id:
            skipped["missing_id"] += 1
            continue
        if not isinstance(text, str):
            skipped["text_not_string"] += 1
            continue
        if not text:
            skipped["empty_text"] += 1
            continue
        try:
            # Lone surrogates: tokenizers raises, tiktoken silently replaces; skip so both paths agree.
            text.encode("utf-8")
        except UnicodeEncodeError:
            skipped["invalid_unicode"] += 1
            continue
        rep = int(doc.get("rep") or 0)
        domain = str(doc.get("domain") or "")
        split = split_of(seed, doc_id, config.eval_fraction)
        fim = FimResult(None, text, "", "")
        if domain in config.fim.domains and config.fim.rate > 0:
            rng = doc_rng(seed, doc_id, rep)
            fim = apply_fim(text, rng, config.fim.rate, config.fim.mode, config.fim.spm_rate)
        metas.append((doc, rep, split, fim))
        texts.extend([fim.prefix, fim.middle, fim.suffix] if fim.applied else [fim.prefix])
    pieces = _encode_safely(encode, texts, skipped)
    out: list[EncodedDoc] = []
    pos = 0
    for doc, rep, split, fim in metas:
        n = 3 if fim.applied else 1
        parts = pieces[pos : pos + n]
        pos += n
        if any(p is None for p in parts):
            skipped["encode_error"] += 1
            continue
        ids = fim_ids(fim, parts, tok.specials)
        if config.add_bos:
            ids.insert(0, tok.specials.bos)
        out.append(
            EncodedDoc(
                doc_id=doc["id"],
                rep=rep,
                source=str(doc.get("source") or ""),
                domain=str(doc.get("domain") or ""),
                language=str(doc.get("language") or ""),
                split=split,
                fim=fim.mode or "none",
                ids=np.asarray(ids, dtype=np.int32),
            )
        )
    return out


def _encode_safely(encode: PlainEncoder, texts: list[str], skipped: Counter) -> list[list[int] | None]:
    """Batch-encode; if the batch fails (e.g. a lone surrogate), retry one by one and mark failures."""
    try:
        return list(encode(texts))
    except Exception as exc:  # noqa: BLE001 - any encoder error: fall back per text
        log.warning("batch encode failed (%s); retrying per text", exc)
    result: list[list[int] | None] = []
    for text in texts:
        try:
            result.append(list(encode([text])[0]))
        except Exception:  # noqa: BLE001
            result.append(None)
    return result
