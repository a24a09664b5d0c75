"""Common Crawl WARC (HTML responses, text extracted) and WET (already-extracted text) readers.

Record framing comes from warcio; HTML-to-text is datatrove's Trafilatura extractor block.
A malformed record ends the file (WARC has no resync marker) and is counted with its offset.
"""

from __future__ import annotations

from typing import Iterator

from corpus.io import open_uri
from corpus.records import Doc, Drop

MAX_HTML_BYTES = 5_000_000


class HtmlExtractor:
    """datatrove's Trafilatura block, created lazily on the worker (it is not cheap to import)."""

    def __init__(self) -> None:
        self._impl = None

    def __call__(self, html: str) -> str:
        if self._impl is None:
            from datatrove.pipeline.extractors import Trafilatura

            # trafilatura's `deduplicate` keeps a per-process cache of seen text and drops repeats:
            # output would depend on which pages a reused worker saw before. Dedup is our own stage.
            self._impl = Trafilatura(favour_precision=True, deduplicate=False)
        return self._impl.extract(html) or ""


def _charset(content_type: str) -> str:
    for piece in content_type.split(";"):
        piece = piece.strip().lower()
        if piece.startswith("charset="):
            return piece.split("=", 1)[1].strip("\"' ") or "utf-8"
    return "utf-8"


def read_warc(uri: str, *, source: str, domain: str, extractor: HtmlExtractor | None = None) -> Iterator[Doc | Drop]:
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    extractor = extractor or HtmlExtractor()
    try:
        fh = open_uri(uri, "rb")
    except OSError as exc:
        yield Drop("unreadable", uri, source, None, 0, f"{uri}: {exc}")
        return
    n = 0
    with fh:
        iterator = ArchiveIterator(fh)
        while True:
            try:
                record = next(iterator)
            except StopIteration:
                break
            except Exception as exc:  # noqa: BLE001 - warcio, gzip and zlib all raise their own types
                kind = "bad framing" if isinstance(exc, ArchiveLoadFailed) else type(exc).__name__
                yield Drop("malformed_record", uri, source, None, 0, f"{uri}: record #{n + 1}: {kind}: {exc}")
                break
            n += 1
            yield from _warc_record(record, uri, n, source, domain, extractor)


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
        text = extractor(html).strip()
        if not text:
            yield Drop("no_text", url, source, None, len(data), f"{uri}: {url}: no main text extracted")
            return
        yield Doc(source=source, domain=domain, path=url, text=text, meta=_meta(record, uri), id=_record_id(source, url, record))
    except Exception as exc:  # noqa: BLE001 - one bad page never ends the run
        yield Drop("malformed_record", url, source, None, 0, f"{uri}: {url}: {type(exc).__name__}: {exc}")


def _record_id(source: str, url: str, record) -> str:
    """A crawl can hold the same URL twice: the WARC record id keeps their document ids apart."""
    from corpus.records import doc_id

    return doc_id(source, None, f"{url}\0{record.rec_headers.get_header('WARC-Record-ID') or ''}")


def _meta(record, uri: str) -> dict:
    h = record.rec_headers
    return {
        "warc_file": uri,
        "warc_record_id": h.get_header("WARC-Record-ID"),
        "warc_date": h.get_header("WARC-Date"),
    }
