"""WARC damage: a record whose declared length overruns is one malformed_record drop and the records
after it are read; a corrupt gzip member costs that member only; HTML extraction is bounded in time."""

from __future__ import annotations

import gzip
import io
import os
import re
import time
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from corpus.ingest.web import HtmlExtractor, read_warc
from corpus.records import Doc, Drop


def records(n: int, gz: bool, html_of=None) -> list[bytes]:
    """n HTML response records, each on its own (one gzip member each when gz)."""
    out = []
    for i in range(n):
        buf = io.BytesIO()
        writer = WARCWriter(buf, gzip=gz)
        body = html_of(i) if html_of else (
            f"<html><body><article><p>{f'Page {i} of the test crawl has plenty of words in its paragraph. ' * 20}</p></article></body></html>"
        )
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.0")
        writer.write_record(writer.create_warc_record(f"http://example.com/{i}", "response", payload=io.BytesIO(body.encode()), http_headers=http))
        out.append(buf.getvalue())
    return out


def overrun(record: bytes, extra: int) -> bytes:
    m = re.search(rb"Content-Length: (\d+)", record)
    assert m
    return record.replace(m.group(0), b"Content-Length: %d" % (int(m.group(1)) + extra), 1)


def read(path: Path, **kw) -> tuple[list[Doc], list[Drop]]:
    items = list(read_warc(str(path), source="web", domain="text", **kw))
    return [i for i in items if isinstance(i, Doc)], [i for i in items if isinstance(i, Drop)]


def test_overrunning_content_length_is_one_drop_and_reading_goes_on(tmp_path: Path) -> None:
    recs = records(4, gz=False)
    path = tmp_path / "overrun.warc"
    path.write_bytes(recs[0] + overrun(recs[1], 300) + recs[2] + recs[3])
    docs, drops = read(path)
    assert [d.path for d in docs] == ["http://example.com/0", "http://example.com/2", "http://example.com/3"]
    assert [d.reason for d in drops] == ["malformed_record"]
    assert str(path) in drops[0].detail and "Content-Length" in drops[0].detail


def test_underrunning_length_and_garbage_between_records(tmp_path: Path) -> None:
    recs = records(4, gz=False)
    path = tmp_path / "under.warc"
    path.write_bytes(recs[0] + overrun(recs[1], -50) + b"junk that is no record\r\n" + recs[2] + recs[3])
    docs, drops = read(path)
    assert [d.path for d in docs] == ["http://example.com/0", "http://example.com/2", "http://example.com/3"]
    assert drops and {d.reason for d in drops} == {"malformed_record"}
    assert len(docs) + len(drops) >= 4


def test_corrupt_gzip_member_resynchronises_at_the_next_member(tmp_path: Path) -> None:
    recs = records(5, gz=True)
    damaged = bytearray(recs[2])
    for i in range(len(damaged) // 2, len(damaged) // 2 + 40):
        damaged[i] ^= 0xFF
    path = tmp_path / "members.warc.gz"
    path.write_bytes(recs[0] + recs[1] + bytes(damaged) + recs[3] + recs[4])
    docs, drops = read(path)
    assert [d.path for d in docs] == [f"http://example.com/{i}" for i in (0, 1, 3, 4)]
    assert [d.reason for d in drops] == ["malformed_record"]  # the damaged member is one record lost
    assert all(str(path) in d.detail for d in drops)


def test_overrun_inside_a_gzip_member_and_a_truncated_last_member(tmp_path: Path) -> None:
    plain = records(4, gz=False)
    members = [gzip.compress(plain[0]), gzip.compress(overrun(plain[1], 500)), gzip.compress(plain[2]), gzip.compress(plain[3])]
    path = tmp_path / "cut.warc.gz"
    path.write_bytes(b"".join(members)[: -len(members[3]) // 2])  # the last member is cut in half
    docs, drops = read(path)
    assert [d.path for d in docs] == ["http://example.com/0", "http://example.com/2"]
    assert [d.reason for d in drops] == ["malformed_record", "malformed_record"]  # records 1 and 3
    assert "Content-Length" in drops[0].detail and "truncated" in drops[1].detail
    plain_cut = tmp_path / "cut.warc"
    plain_cut.write_bytes(b"".join(plain)[:-300])
    docs, drops = read(plain_cut)
    assert len(docs) == 3 and [d.reason for d in drops] == ["malformed_record"] and "truncated" in drops[0].detail


def test_whole_file_gzip_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "whole.warc.gz"
    path.write_bytes(gzip.compress(b"".join(records(3, gz=False))))
    docs, drops = read(path)
    assert len(docs) == 3 and not drops


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _children() -> list[str]:
    me = str(os.getpid())
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1] == me:
                out.append(pid)
        except OSError:
            continue
    return out


def test_html_extraction_is_bounded_in_time_without_leaks(tmp_path: Path) -> None:
    """The reported page: ~4.6 MB of 140k <p> took a minute of CPU in Trafilatura."""
    big = "<html><body>" + "".join(f"<p>paragraph {i} has words</p>" for i in range(140_000)) + "</body></html>"
    assert 4_000_000 < len(big) < 5_000_000
    path = tmp_path / "slow.warc"
    path.write_bytes(b"".join(records(3, gz=False, html_of=lambda i: big if i == 1 else None or (
        f"<html><body><article><p>{f'Page {i} of the test crawl has plenty of words in its paragraph. ' * 20}</p></article></body></html>"))))
    threads, children = _threads(), _children()
    started = time.time()
    docs, drops = read(path, extractor=HtmlExtractor(timeout_s=1.0))
    elapsed = time.time() - started
    assert [d.path for d in docs] == ["http://example.com/0", "http://example.com/2"]
    assert [(d.reason, d.path) for d in drops] == [("timeout", "http://example.com/1")]
    assert str(path) in drops[0].detail
    assert elapsed < 15
    assert _threads() == threads and _children() == children
    # the alarm is disarmed after each page: nothing fires later
    time.sleep(1.2)


def test_record_over_the_memory_cap_is_skipped_not_buffered(tmp_path: Path) -> None:
    from corpus.ingest.warc_framing import MAX_RECORD_BYTES

    huge = "<html><body>" + "x" * (MAX_RECORD_BYTES + 1000) + "</body></html>"
    recs = records(3, gz=False, html_of=lambda i: huge if i == 1 else (
        f"<html><body><article><p>{f'Page {i} of the test crawl has plenty of words in its paragraph. ' * 20}</p></article></body></html>"))
    path = tmp_path / "huge.warc"
    path.write_bytes(b"".join(recs))
    docs, drops = read(path)
    assert [d.path for d in docs] == ["http://example.com/0", "http://example.com/2"]
    assert [d.reason for d in drops] == ["too_large"] and str(path) in drops[0].detail
