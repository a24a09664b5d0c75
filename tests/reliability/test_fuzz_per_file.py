"""Property-based fuzz of the per-file path: decode, detect, signals, filters; and of the archive and
WARC framing readers on arbitrary bytes. Whatever the bytes, each step returns a verdict (never an
exception), an accepted file is NUL-free valid UTF-8 that Arrow stores, and every record is counted.
Bounded for CI: derandomized, a fixed number of examples, a few seconds in all."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.filters.code_rules import check_code, load_rules
from corpus.filters.signals import code_signals
from corpus.ingest.files import file_record
from corpus.ingest.repos import read_tarball
from corpus.ingest.warc_framing import Bad, TooLarge, split_stream
from corpus.records import DOC_SCHEMA, Doc, Drop, docs_to_table
from lang_registry.detect import detect

FAST = settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
EXTENSIONS = [".py", ".c", ".h", ".m", ".pl", ".ts", ".md", ".json", ".html", ".xml", ".sh", "", ".ipynb", ".rs", ".f"]
paths = st.builds(
    lambda d, n, e: f"{d}/{n}{e}" if d else f"{n}{e}",
    st.sampled_from(["", "src", "vendor/lib", "node_modules/x", "a b/ç"]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"), min_size=1, max_size=12),
    st.sampled_from(EXTENSIONS),
)
contents = st.one_of(
    st.binary(max_size=3000),
    st.text(max_size=3000).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.builds(lambda a, b: a + b"\0" + b, st.binary(max_size=200), st.binary(max_size=200)),
    st.builds(lambda t: b"\xef\xbb\xbf" + t.encode(), st.text(max_size=500)),
    st.builds(lambda s, n: (s + "\n") * n, st.sampled_from(["#!/usr/bin/env python", "<?xml version=\"1.0\"?>", "x" * 500, "\t"]), st.integers(1, 40)).map(str.encode),
)
RULES = load_rules()
REASONS = {"empty", "binary", "bad_encoding"}


@FAST
@given(path=paths, data=contents)
def test_per_file_path_always_gives_a_verdict(path: str, data: bytes) -> None:
    item = file_record(data, source="fuzz", domain="code", repo="r", path=path)
    if isinstance(item, Drop):
        assert item.reason in REASONS and path in item.detail
        assert (item.reason == "binary") == (b"\0" in data and bool(data))
        return
    assert isinstance(item, Doc)
    assert "\0" not in item.text and not item.text.startswith("\ufeff")
    item.text.encode("utf-8")  # storable: no lone surrogates
    table = docs_to_table([item])
    assert table.schema.equals(DOC_SCHEMA, check_metadata=False) and table.column("size")[0].as_py() == len(item.text.encode())
    det = detect(path, data)
    assert det.language is None or isinstance(det.language, str)
    sig = code_signals(item.text)
    assert 0.0 <= sig.alpha_fraction <= 1.0 and sig.max_line_length >= sig.avg_line_length >= 0
    verdict = check_code(item.text, det.language, RULES)
    assert verdict is None or isinstance(verdict, str)


@pytest.fixture(scope="module")
def tar_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz_tar")


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@FAST
@given(
    members=st.lists(st.tuples(st.sampled_from(["a.py", "a.py", "../x", "/abs", "d/b.c", "c\x01", "./e.md"]), contents), max_size=5),
    cut=st.integers(0, 4000), flips=st.lists(st.integers(0, 4000), max_size=4),
)
def test_damaged_tarballs_never_raise(tar_dir: Path, members, cut: int, flips: list[int]) -> None:
    data = bytearray(_tar(members))
    for f in flips:
        if f < len(data):
            data[f] ^= 0x55
    data = data[: max(1, len(data) - cut)] if cut < len(data) else data
    path = tar_dir / "fuzz.tar.gz"  # one file rewritten per example
    path.write_bytes(bytes(data))
    items = list(read_tarball(str(path), source="fuzz", domain="code", repo="r", max_bytes=10_000))
    assert all(isinstance(i, (Doc, Drop)) for i in items)
    ids = [i.id for i in items if isinstance(i, Doc)]
    assert len(ids) == len(set(ids))
    if not flips and not cut:  # an intact archive: every member is a document or a drop, none lost
        assert len(items) == len(members)


RECORD = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:%d>\r\nWARC-Target-URI: http://e.com/%d\r\n"
          b"Content-Type: application/http; msgtype=response\r\nContent-Length: %d\r\n\r\n%s\r\n\r\n")


def _record(i: int, body: bytes) -> bytes:
    block = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n" + body
    return RECORD % (i, i, len(block), block)


@FAST
@given(bodies=st.lists(st.binary(max_size=300), min_size=1, max_size=5), gz=st.booleans(), junk=st.binary(max_size=60),
       at=st.integers(0, 2000), length_delta=st.integers(-20, 400))
def test_warc_framing_counts_every_byte_span(bodies: list[bytes], gz: bool, junk: bytes, at: int, length_delta: int) -> None:
    recs = [_record(i, b) for i, b in enumerate(bodies)]
    if length_delta and len(recs) > 1:
        head, _, rest = recs[0].partition(b"Content-Length: ")
        n, _, tail = rest.partition(b"\r\n")
        recs[0] = head + b"Content-Length: " + str(max(0, int(n) + length_delta)).encode() + b"\r\n" + tail
    raw = b"".join(gzip.compress(r) for r in recs) if gz else b"".join(recs)
    raw = raw[:at] + junk + raw[at:]
    items = list(split_stream(io.BytesIO(raw)))
    assert all(isinstance(i, (bytes, Bad, TooLarge)) for i in items)
    good = [i for i in items if isinstance(i, bytes)]
    assert all(g.startswith(b"WARC/1.") and g.endswith(b"\r\n\r\n") for g in good)
    if not junk and not length_delta:
        assert good == [_record(i, b) for i, b in enumerate(bodies)]
