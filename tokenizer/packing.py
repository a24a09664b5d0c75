"""Deterministic packing of encoded documents into fixed-length rows (concatenate, then cut).

A document longer than the room left in a row continues in the next row; each row records where each of
its document segments starts, with that segment's source and language. Only the final row of a stream is
padded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

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
    # Per segment: (chunk id, copy, FIM mode, token offset of the segment in that copy's final ids). Not
    # written to the shard; the provenance files are made from it (tokenizer/provenance.py).
    doc_keys: list[tuple[str, int, str, int]] = field(default_factory=list)


def order_key(seed: int, doc_id: str, rep: int) -> tuple[int, str, int]:
    """Seeded shuffle key of one document copy; sorting by it gives a partition-independent order."""
    digest = hashlib.blake2b(f"{seed}\0order\0{doc_id}\0{rep}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big"), doc_id, rep)


class Packer:
    """Streaming packer: push documents in order, get full rows back; `finish` pads the last one.

    A FIM document (doc.fim != "none") that fits a row is never cut: if the current row has no room for
    it, it waits (in order) and the documents after it fill the row; it opens the next row. Only when
    more than `max_deferred` FIM documents wait (a stream of FIM documents only) is a row closed early
    with padding. Plain documents are cut across rows as before."""

    def __init__(self, seq_len: int, pad_id: int, max_deferred: int = 64) -> None:
        if seq_len < 2:
            raise ValueError("seq_len must be at least 2")
        self.seq_len, self.pad_id, self.max_deferred = seq_len, pad_id, max_deferred
        self._buf = np.empty(seq_len, dtype=np.int32)
        self._fill = 0
        self._segments: tuple[list[int], list[str], list[str], list[str], list[tuple[str, int, str, int]]] = ([], [], [], [], [])
        self._deferred: list[EncodedDoc] = []
        self.fim_documents = 0
        self.fim_complete = 0  # FIM documents that sit whole in one row
        self.padded_tokens = 0

    def _emit(self, n_pad: int) -> Row:
        if n_pad:
            self._buf[self._fill :] = self.pad_id
            self.padded_tokens += n_pad
        offsets, sources, langs, domains, keys = self._segments
        row = Row(self._buf.copy(), offsets, sources, langs, domains, n_pad, keys)
        self._fill, self._segments = 0, ([], [], [], [], [])
        return row

    def _put(self, doc: EncodedDoc, ids: np.ndarray, start: int = 0) -> None:
        take = int(ids.shape[0])
        self._buf[self._fill : self._fill + take] = ids
        offsets, sources, langs, domains, keys = self._segments
        offsets.append(self._fill)
        sources.append(doc.source)
        langs.append(doc.language)
        domains.append(doc.domain)
        keys.append((doc.doc_id, doc.rep, doc.fim, start))
        self._fill += take

    def _drain(self, rows: list[Row]) -> None:
        """Place waiting FIM documents that fit the current row, in order."""
        waiting, self._deferred = self._deferred, []
        for doc in waiting:
            if doc.n_tokens <= self.seq_len - self._fill:
                self._put(doc, doc.ids)
                self.fim_complete += 1
                if self._fill == self.seq_len:
                    rows.append(self._emit(0))
            else:
                self._deferred.append(doc)

    def add(self, doc: EncodedDoc) -> list[Row]:
        rows: list[Row] = []
        n = doc.n_tokens
        if doc.fim != "none":
            self.fim_documents += 1
        if doc.fim != "none" and n <= self.seq_len:
            if n <= self.seq_len - self._fill:
                self._put(doc, doc.ids)
                self.fim_complete += 1
                if self._fill == self.seq_len:
                    rows.append(self._emit(0))
                    self._drain(rows)
            else:
                self._deferred.append(doc)
                if len(self._deferred) > self.max_deferred:
                    rows.append(self._emit(self.seq_len - self._fill))
                    self._drain(rows)
            return rows
        pos = 0
        while pos < n:
            take = min(self.seq_len - self._fill, n - pos)
            self._put(doc, doc.ids[pos : pos + take], pos)
            pos += take
            if self._fill == self.seq_len:
                rows.append(self._emit(0))
                self._drain(rows)
        return rows

    def finish_rows(self) -> list[Row]:
        """Every row still held: waiting FIM documents placed (padding rows they cannot share)."""
        rows: list[Row] = []
        while self._deferred:
            if self._fill:
                rows.append(self._emit(self.seq_len - self._fill))
            self._drain(rows)
        if self._fill:
            rows.append(self._emit(self.seq_len - self._fill))
        return rows

    def finish(self) -> Row | None:
        """The last row (kept for callers that never defer: a stream without FIM documents)."""
        rows = self.finish_rows()
        if len(rows) > 1:
            raise RuntimeError("finish() would lose rows: use finish_rows()")
        return rows[0] if rows else None


def pack_rows(docs: Iterable[EncodedDoc], seq_len: int, pad_id: int) -> Iterator[Row]:
    """Yield rows of `seq_len` ids from documents in the given order."""
    packer = Packer(seq_len, pad_id)
    for doc in docs:
        yield from packer.add(doc)
    yield from packer.finish_rows()
