"""WARC, round 2: a record in its own gzip member right after garbage with no line break is read
(the scan resumes at gzip member starts too); a gzip bomb inside a .warc.gz is cut at the
compression-ratio limit with one `archive_limit` drop; a lying Content-Length is not counted in the
bytes met (main: 1 PB shown)."""

from __future__ import annotations

import gzip
import re
import time
from pathlib import Path

from test_warc_damage import read, records

from corpus.ingest.web import read_warc


def test_a_record_after_garbage_without_a_line_break_is_read(tmp_path: Path) -> None:
    recs = records(3, gz=True)  # one gzip member per record
    path = tmp_path / "garbage.warc.gz"
    path.write_bytes(recs[0] + gzip.compress(b"garbage with no line break at its end") + recs[1] + recs[2])
    docs, drops = read(path)
    assert [d.path for d in docs] == ["http://example.com/0", "http://example.com/1", "http://example.com/2"]
    assert [d.reason for d in drops] == ["malformed_record"]
    assert "bytes that are not a WARC record" in drops[0].detail


def test_a_gzip_bomb_in_a_warc_is_cut_at_the_ratio_limit(tmp_path: Path) -> None:
    recs = records(2, gz=True)
    path = tmp_path / "bomb.warc.gz"
    with open(path, "wb") as f:
        f.write(recs[0])
        with gzip.GzipFile(fileobj=f, mode="wb", compresslevel=9) as bomb:  # 40 MB of zeros in ~40 KB
            for _ in range(40):
                bomb.write(b"\0" * (1 << 20))
        f.write(recs[1])
    assert path.stat().st_size < 100_000
    started = time.process_time()
    items = list(read_warc(str(path), source="web", domain="text", max_ratio=100, ratio_min_bytes=4_000_000))
    assert time.process_time() - started < 5
    limit = [i for i in items if getattr(i, "reason", None) == "archive_limit"]
    assert len(limit) == 1 and "compression ratio over 100" in limit[0].detail and str(path) in limit[0].detail
    assert [getattr(i, "path", None) for i in items if i.__class__.__name__ == "Doc"] == ["http://example.com/0"]


def test_a_lying_content_length_is_not_counted_as_bytes_met(tmp_path: Path, run_ingest) -> None:
    recs = records(3, gz=False)
    lie = re.sub(rb"Content-Length: \d+", b"Content-Length: 1000000000000000", recs[1], count=1)
    path = tmp_path / "lie.warc"
    path.write_bytes(recs[0] + lie + recs[2])
    r = run_ingest([{"name": "web", "kind": "warc", "domain": "text", "paths": [str(path)]}])
    assert r.reasons() == {"too_large": 1}
    assert r.stats.in_bytes < 2 * path.stat().st_size, r.stats.in_bytes
    [detail] = r.details("too_large")
    assert "declares 1000000000000000 bytes" in detail
    assert r.drops.column("size").to_pylist()[0] <= path.stat().st_size
