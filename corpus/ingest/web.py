"""Common Crawl WARC (HTML responses, text extracted) and WET (already-extracted text) readers.

Records are cut by corpus.ingest.warc_framing (a damaged record is one drop and reading goes on at
the next), parsed by warcio; HTML-to-text is datatrove's Trafilatura extractor block, bounded in time.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator

from corpus.ingest.warc_framing import Bad, Limit, TooLarge, split_stream
from corpus.records import Doc, Drop, doc_id
from corpus.storage import open_raw

MAX_HTML_BYTES = 5_000_000


class ExtractTimeout(Exception):
    """HTML-to-text took longer than the per-page budget."""


class HtmlExtractor:
    """datatrove's Trafilatura block, created lazily on the worker (it is not cheap to import).

    Each page gets `timeout_s` of wall time, enforced with a SIGALRM interval timer in the calling
    thread: no helper thread or process exists to leak, and the interrupted page is a `timeout`
    drop. Ray runs task functions in the worker's main thread, where signals are delivered; called
    from another thread (no signals there) the page is extracted without a limit."""

    def __init__(self, timeout_s: float | None = 10.0) -> None:
        self._impl = None
        self.timeout_s = timeout_s

    def _extractor(self):
        if self._impl is None:
            from datatrove.pipeline.extractors import Trafilatura

            # trafilatura's `deduplicate` keeps a per-process cache of seen text and drops repeats:
            # output would depend on which pages a reused worker saw before. Dedup is our own stage.
            # (Its `timeout` applies only to its own run() sandbox process; extract() is unbounded,
            # so the alarm below bounds the time instead.)
            self._impl = Trafilatura(favour_precision=True, deduplicate=False)
        return self._impl

    def __call__(self, html: str) -> str:
        impl = self._extractor()
        if not self.timeout_s or threading.current_thread() is not threading.main_thread():
            return impl.extract(html) or ""

        def on_alarm(signum, frame):  # noqa: ANN001 - signal handler signature
            raise ExtractTimeout(f"HTML extraction over {self.timeout_s:g} s")

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, self.timeout_s)
        try:
            return impl.extract(html) or ""
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def _charset(content_type: str) -> str:
    for piece in content_type.split(";"):
        piece = piece.strip().lower()
        if piece.startswith("charset="):
            return piece.split("=", 1)[1].strip("\"' ") or "utf-8"
    return "utf-8"


def _open_stored(uri: str):
    """The file's bytes as stored: gzip is undone by the framer, member by member (see warc_framing)."""
    return open_raw(uri)


def read_warc(uri: str, *, source: str, domain: str, extractor: HtmlExtractor | None = None,
              max_ratio: float | None = 100.0, ratio_min_bytes: int = 64_000_000) -> Iterator[Doc | Drop]:
    """Every record of a WARC/WET file is a document or a drop; a damaged record is one
    `malformed_record` drop (naming the file and the offset) and reading goes on at the next record.
    A gzip file expanding past `max_ratio` x its stored bytes is cut there with one `archive_limit` drop."""
    import io

    from warcio.archiveiterator import ArchiveIterator

    extractor = extractor or HtmlExtractor()
    try:
        fh = _open_stored(uri)
    except OSError as exc:
        yield Drop("unreadable", uri, source, None, 0, f"{uri}: {exc}")
        return
    n = 0
    with fh:
        try:
            for item in split_stream(fh, max_ratio=max_ratio, ratio_min_bytes=ratio_min_bytes):
                if isinstance(item, Limit):
                    yield Drop("archive_limit", uri, source, None, 0, f"{uri}: archive limit after record #{n}: {item.why}")
                    continue
                n += 1
                if isinstance(item, Bad):
                    yield Drop("malformed_record", uri, source, None, 0, f"{uri}: record #{n} at offset {item.offset}: {item.why}")
                    continue
                if isinstance(item, TooLarge):
                    yield Drop("too_large", uri, source, None, item.seen,
                               f"{uri}: record #{n} at offset {item.offset}: declares {item.length} bytes, {item.seen} met")
                    continue
                try:
                    record = next(iter(ArchiveIterator(io.BytesIO(item))))
                except Exception as exc:  # noqa: BLE001 - warcio raises its own types for bad headers
                    yield Drop("malformed_record", uri, source, None, 0, f"{uri}: record #{n}: {type(exc).__name__}: {exc}")
                    continue
                yield from _warc_record(record, uri, n, source, domain, extractor)
        except OSError as exc:  # the storage failing mid-file: what was read is kept, the rest is named
            yield Drop("unreadable", uri, source, None, 0, f"{uri}: read failed after record #{n}: {exc}")


def _warc_record(record, uri: str, n: int, source: str, domain: str, extractor: HtmlExtractor) -> Iterator[Doc | Drop]:
    url = record.rec_headers.get_header("WARC-Target-URI") or f"{uri}#{n}"
    rtype = record.rec_type
    try:
        if rtype == "conversion":  # WET: text already extracted
            data = record.content_stream().read(MAX_HTML_BYTES + 1)
            if len(data) > MAX_HTML_BYTES:
                yield Drop("too_large", url, source, None, len(data), f"{uri}: {url}: text over {MAX_HTML_BYTES} bytes")
                return
            text = data.decode("utf-8", errors="replace").strip()
            if not text:
                yield Drop("no_text", url, source, None, len(data), f"{uri}: {url}: empty conversion record")
                return
            yield Doc(source=source, domain=domain, path=url, text=text, meta=_meta(record, uri), id=_record_id(source, url, record))
            return
        if rtype != "response":
            yield Drop(f"warc_{rtype}", url, source, None, 0, f"{uri}: {url}: {rtype} record carries no page")
            return
        http = record.http_headers
        status = http.get_statuscode() if http else None
        ctype = (http.get_header("Content-Type") or "") if http else ""
        if status and not status.startswith("2"):
            yield Drop("http_status", url, source, None, 0, f"{uri}: {url}: HTTP {status}")
            return
        if "html" not in ctype.lower():
            yield Drop("non_html", url, source, None, 0, f"{uri}: {url}: content type {ctype or 'missing'}")
            return
        data = record.content_stream().read(MAX_HTML_BYTES + 1)
        if len(data) > MAX_HTML_BYTES:
            yield Drop("too_large", url, source, None, len(data), f"{uri}: {url}: page over {MAX_HTML_BYTES} bytes")
            return
        html = data.decode(_charset(ctype), errors="replace")
        try:
            text = extractor(html).strip()
        except ExtractTimeout as exc:
            yield Drop("timeout", url, source, None, len(data), f"{uri}: {url}: {exc}")
            return
        if not text:
            yield Drop("no_text", url, source, None, len(data), f"{uri}: {url}: no main text extracted")
            return
        yield Doc(source=source, domain=domain, path=url, text=text, meta=_meta(record, uri), id=_record_id(source, url, record))
    except Exception as exc:  # noqa: BLE001 - one bad page never ends the run
        yield Drop("malformed_record", url, source, None, 0, f"{uri}: {url}: {type(exc).__name__}: {exc}")


def _record_id(source: str, url: str, record) -> str:
    """A crawl can hold the same URL twice: the WARC record id keeps their document ids apart."""
    return doc_id(source, None, f"{url}\0{record.rec_headers.get_header('WARC-Record-ID') or ''}")


def _meta(record, uri: str) -> dict:
    h = record.rec_headers
    return {
        "warc_file": uri,
        "warc_record_id": h.get_header("WARC-Record-ID"),
        "warc_date": h.get_header("WARC-Date"),
    }
