"""Deterministic packing of encoded documents into fixed-length rows (concatenate, then cut).

A document longer than the room left in a row continues in the next row; each row records where each of
its document segments starts, with that segment's source and language. Only the final row of a stream is
padded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .encode import EncodedDoc


@dataclass
class Row:
    ids: np.ndarray  # int32, exactly seq_len
    doc_offsets: list[int]
    doc_sources: list[str]
    doc_languages: list[str]
    doc_domains: list[str]
    n_pad: int


def order_key(seed: int, doc_id: str, rep: int) -> tuple[int, str, int]:
    """Seeded shuffle key of one document copy; sorting by it gives a partition-independent order."""
    digest = hashlib.blake2b(f"{seed}\0order\0{doc_id}\0{rep}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big"), doc_id, rep)


def sort_docs(docs: Iterable[EncodedDoc], seed: int) -> list[EncodedDoc]:
    return sorted(docs, key=lambda d: order_key(seed, d.doc_id, d.rep))


def pack_rows(docs: Iterable[EncodedDoc], seq_len: int, pad_id: int) -> Iterator[Row]:
    """Yield rows of `seq_len` ids from documents in the given order."""
    if seq_len < 2:
        raise ValueError("seq_len must be at least 2")
    buf = np.empty(seq_len, dtype=np.int32)
    fill = 0
    offsets: list[int] = []
    sources: list[str] = []
    langs: list[str] = []
    domains: list[str] = []
    for doc in docs:
        ids = doc.ids
        pos = 0
        while pos < ids.shape[0]:
            take = min(seq_len - fill, ids.shape[0] - pos)
            buf[fill : fill + take] = ids[pos : pos + take]
            offsets.append(fill)
            sources.append(doc.source)
            langs.append(doc.language)
            domains.append(doc.domain)
            fill += take
            pos += take
            if fill == seq_len:
                yield Row(buf.copy(), offsets, sources, langs, domains, 0)
                fill, offsets, sources, langs, domains = 0, [], [], [], []
    if fill:
        n_pad = seq_len - fill
        buf[fill:] = pad_id
        yield Row(buf.copy(), offsets, sources, langs, domains, n_pad)
