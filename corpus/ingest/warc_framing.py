"""WARC record framing that survives damage: each record is checked against its declared length and
reading goes on at the next record header after a bad one.

warcio trusts a record's Content-Length: one that overruns swallows the records after it, and a
corrupt gzip member ends the file. Here the file is cut into records first: a record whose block is
not followed by the `\\r\\n\\r\\n` trailer (its declared length overruns or underruns) is one malformed
record, and the scan resumes at the next `WARC/1.x` line. Gzip files (one member per record, or one
member for the whole file) are decompressed member by member; a corrupt member is one malformed
record and decompression resumes at the next gzip member header; after damage the scan also resumes at
the start of a gzip member that begins with `WARC/1.` (garbage with no line break before a record). Memory
is bounded by MAX_RECORD_BYTES: a larger record is skipped by scanning for the next header, never
buffered. A gzip file expanding past `max_ratio` times its stored size (a bomb) stops with one Limit.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

MAX_RECORD_BYTES = 8_000_000  # pages are capped at 5 MB (web.MAX_HTML_BYTES); headers add little
MAX_HEADER_BYTES = 64_000
CHUNK = 1 << 16
GZIP_MAGIC = b"\x1f\x8b\x08"
_HEADER_START = re.compile(rb"(?:^|\n)(WARC/1\.[01]\r?\n)")
_CONTENT_LENGTH = re.compile(rb"\r?\ncontent-length:[ \t]*(\d+)[ \t]*\r?\n", re.IGNORECASE)


@dataclass
class Bad:
    """A span that is not a well-formed record; `offset` is in the (decompressed) record stream."""

    offset: int
    why: str


@dataclass
class TooLarge:
    offset: int
    length: int  # the declared Content-Length (may lie)
    seen: int = 0  # bytes of the stream the record actually spanned (what the statistics count)


@dataclass
class Limit:
    """Decompression stopped: the file expands past the compression-ratio limit (a gzip bomb)."""

    offset: int
    why: str


class _GzipMembers:
    """Decompressed bytes of a gzip file, member after member. A corrupt member is reported (in
    `errors`) and decompression restarts at the next member header in the raw bytes."""

    def __init__(self, raw: IO[bytes], max_ratio: float | None = None, ratio_min_bytes: int = 64_000_000) -> None:
        self.raw = raw
        self.pending = b""  # raw bytes not yet fed to the decompressor
        self.d = zlib.decompressobj(31)
        self.errors: list[str] = []
        self.raw_offset = 0  # raw offset of the start of `pending`
        self.eof = False
        self.out_offset = 0  # decompressed bytes returned so far
        # Decompressed offsets where a gzip member starts: a record written one member per record
        # starts there, so the scan can resume there even after garbage with no line break.
        self.boundaries: list[int] = [0]
        self.max_ratio, self.ratio_min_bytes = max_ratio, ratio_min_bytes
        self.limit: str | None = None  # set when the ratio limit stopped decompression

    def read(self) -> bytes:
        """The next decompressed chunk; b"" at the end of the file (or once the ratio limit is hit)."""
        if self.limit:
            return b""
        out = self._read()
        self.out_offset += len(out)
        if (self.max_ratio and self.out_offset > self.ratio_min_bytes
                and self.out_offset > self.max_ratio * max(self.raw_offset, 1)):
            self.limit = (f"compression ratio over {self.max_ratio:g} ({self.out_offset} bytes from {self.raw_offset} "
                          "stored); the rest of the file is not read")
        return out

    def _member_starts(self, extra: int = 0) -> None:
        at = self.out_offset + extra
        if self.boundaries[-1] != at:
            self.boundaries.append(at)

    def _read(self) -> bytes:
        while True:
            if not self.pending:
                self.pending = self.raw.read(CHUNK)
                if not self.pending:
                    if not self.eof and self._started:
                        self.errors.append(f"gzip member truncated at raw offset {self.raw_offset}")
                    self.eof = True
                    return b""
            try:
                out = self.d.decompress(self.pending, CHUNK)
            except zlib.error as exc:
                self.errors.append(f"corrupt gzip member near raw offset {self.raw_offset}: {exc}")
                self._resync(1)
                self._member_starts()
                continue
            consumed = len(self.pending) - len(self.d.unconsumed_tail)
            if self.d.eof:
                consumed = len(self.pending) - len(self.d.unused_data)
                rest = self.d.unused_data
                self.d = zlib.decompressobj(31)
                self._started = False
                self._member_starts(len(out))  # the next member's bytes follow this output
            else:
                rest = self.d.unconsumed_tail
                self._started = True
            self.raw_offset += consumed
            self.pending = rest
            if out:
                return out

    _started = False

    def _resync(self, skip: int) -> None:
        """Drop the damaged member: continue at the next gzip header after `skip` raw bytes."""
        self.d = zlib.decompressobj(31)
        self._started = False
        buf = self.pending[skip:]
        self.raw_offset += skip
        while True:
            i = buf.find(GZIP_MAGIC)
            if i >= 0:
                self.pending = buf[i:]
                self.raw_offset += i
                return
            more = self.raw.read(CHUNK)
            if not more:
                self.pending = b""
                self.raw_offset += len(buf)
                return
            keep = buf[-(len(GZIP_MAGIC) - 1):]  # a header split across reads
            self.raw_offset += len(buf) - len(keep)
            buf = keep + more


class _Plain:
    limit: str | None = None

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.errors: list[str] = []
        self.boundaries: list[int] = []

    def read(self) -> bytes:
        return self.raw.read(CHUNK)


class _Prefixed:
    """A stream with a few bytes already read from it put back in front."""

    def __init__(self, head: bytes, raw: IO[bytes]) -> None:
        self.head, self.raw = head, raw

    def read(self, n: int = -1) -> bytes:
        if self.head:
            out, self.head = self.head, b""
            return out
        return self.raw.read(n)


def split_stream(raw: IO[bytes], max_ratio: float | None = None, ratio_min_bytes: int = 64_000_000) -> Iterator[bytes | Bad | TooLarge | Limit]:
    """split_records on a WARC or WET file as stored; gzip is recognised by its magic bytes."""
    head = raw.read(3)
    return split_records(_Prefixed(head, raw), gzipped=head == GZIP_MAGIC, max_ratio=max_ratio,  # type: ignore[arg-type]
                         ratio_min_bytes=ratio_min_bytes)


def split_records(raw: IO[bytes], gzipped: bool, max_ratio: float | None = None,
                  ratio_min_bytes: int = 64_000_000) -> Iterator[bytes | Bad | TooLarge | Limit]:
    """The raw bytes of every well-formed record (header + block), a Bad for every damaged span, a
    TooLarge for every record over MAX_RECORD_BYTES, in file order, and a final Limit when a gzip file
    expands past `max_ratio` times its stored bytes (judged past `ratio_min_bytes`)."""
    src = _GzipMembers(raw, max_ratio, ratio_min_bytes) if gzipped else _Plain(raw)
    for item in _split(src):
        yield item
        if src.limit:
            break
    if src.limit:
        yield Limit(src.out_offset, src.limit)


def _split(src: _GzipMembers | _Plain) -> Iterator[bytes | Bad | TooLarge]:
    buf = bytearray()
    base = 0  # stream offset of buf[0]
    eof = False

    def fill(n: int) -> bool:
        """Make buf hold at least n bytes; False at the end of the stream."""
        nonlocal eof
        while len(buf) < n and not eof:
            chunk = src.read()
            if not chunk:
                eof = True
            buf.extend(chunk)
        return len(buf) >= n

    def consume(n: int) -> None:
        nonlocal base
        del buf[:n]
        base += n
        while len(src.boundaries) > 1 and src.boundaries[0] < base:  # keep O(1) boundaries
            src.boundaries.pop(0)

    def member_start(start: int) -> int | None:
        """Index in buf of a gzip member start at or after `start` whose bytes begin a record."""
        for at in src.boundaries:
            i = at - base
            if i >= start and i + 7 <= len(buf) and buf[i : i + 7] == b"WARC/1.":
                return i
        return None

    def next_header(start: int) -> int | None:
        """Index in buf of the next `WARC/1.x` line (or gzip member starting with one) at or after
        `start`, reading on as needed; None at the end of the stream (buf then holds only a short tail)."""
        while True:
            m = _HEADER_START.search(buf, start)
            at = member_start(start)
            if m or at is not None:
                return min(i for i in (m.start(1) if m else None, at) if i is not None)
            if eof or src.limit:
                return None
            keep_from = max(start, len(buf) - 16)
            consume(keep_from)  # bytes before keep_from hold no header start: drop them
            start = 0
            fill(len(buf) + CHUNK)

    while True:
        while src.errors:
            # The member holding the current position is damaged: what was buffered of it is lost;
            # the scan restarts at the next record header (the next member starts with one).
            yield Bad(base, src.errors.pop(0))
        fill(1)
        # Blank lines between records are padding.
        while buf[:2] == b"\r\n" or buf[:1] == b"\n":
            consume(2 if buf[:2] == b"\r\n" else 1)
            fill(2)
        if not buf and eof:
            while src.errors:
                yield Bad(base, src.errors.pop(0))
            return
        if not buf.startswith(b"WARC/1."):
            start = next_header(0)
            if start is None:
                yield Bad(base, f"{len(buf)} bytes that are not a WARC record")
                consume(len(buf))
                continue
            if start:
                yield Bad(base, f"{start} bytes that are not a WARC record")
                consume(start)
            continue
        # Header block: up to the first blank line.
        while (end := buf.find(b"\r\n\r\n")) < 0 and len(buf) < MAX_HEADER_BYTES and not eof:
            fill(len(buf) + CHUNK)
        if end < 0 or end > MAX_HEADER_BYTES:
            if eof:  # the file (or its last gzip member) ends inside this record: one drop for all of it
                yield Bad(base, "truncated: the file ends inside a record header" + "".join(f"; {e}" for e in src.errors))
                src.errors.clear()
                consume(len(buf))
                continue
            yield Bad(base, "record header without an end")
            consume(7)
            continue
        header_len = end + 4
        m = _CONTENT_LENGTH.search(bytes(buf[: header_len]))
        if not m:
            yield Bad(base, "record header without Content-Length")
            consume(header_len)
            continue
        length = int(m.group(1))
        total = header_len + length + 4
        if total > MAX_RECORD_BYTES:
            # Not buffered: the record is whatever lies before the next header. Its size is what was
            # met, not the declared length (a lying Content-Length of 1 PB must not count as 1 PB).
            offset = base
            start = next_header(header_len)
            consume(start if start is not None else len(buf))
            yield TooLarge(offset, length, base - offset)
            continue
        fill(total)
        if len(buf) >= total and buf[header_len + length : total] == b"\r\n\r\n":
            yield bytes(buf[:total])
            consume(total)
            continue
        # The declared length overruns (or underruns) the record: it is one malformed record and
        # the records it would swallow are read from the next header on.
        start = next_header(header_len)
        why = "truncated: the file ends inside the record" if eof and len(buf) < total and start is None else (
            f"declared Content-Length {length} does not end at a record boundary"
        )
        if start is None:  # nothing follows: a damaged tail is part of this one record
            why += "".join(f"; {e}" for e in src.errors)
            src.errors.clear()
        yield Bad(base, why)
        consume(start if start is not None else len(buf))
