"""The-Stack-style Parquet: one source file per row (content + path + repo name columns)."""

from __future__ import annotations

from typing import Iterator

import pyarrow.parquet as pq

from corpus.ingest.files import Occurrences, file_record, is_hostile_path
from corpus.io import open_uri
from corpus.records import Doc, Drop

CONTENT_COLUMNS = ("content", "text")
PATH_COLUMNS = ("path", "max_stars_repo_path", "file_path")
REPO_COLUMNS = ("repo_name", "max_stars_repo_name", "repo")


def _pick(names: list[str], candidates: tuple[str, ...]) -> str | None:
    return next((c for c in candidates if c in names), None)


def read_stack_parquet(uri: str, *, source: str, domain: str, max_bytes: int) -> Iterator[Doc | Drop]:
    try:
        fh = open_uri(uri, "rb")
        pf = pq.ParquetFile(fh)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one refusal, named
        yield Drop("corrupt_archive", uri, source, None, 0, f"{uri}: not readable as Parquet: {exc}")
        return
    names = pf.schema_arrow.names
    content_col = _pick(names, CONTENT_COLUMNS)
    path_col = _pick(names, PATH_COLUMNS)
    repo_col = _pick(names, REPO_COLUMNS)
    if content_col is None:
        yield Drop("bad_schema", uri, source, None, 0, f"{uri}: no content column (looked for {CONTENT_COLUMNS})")
        return
    columns = [c for c in (content_col, path_col, repo_col) if c]
    row = 0
    ids = Occurrences()  # a (repo, path) seen twice is two documents with two ids
    try:
        with fh:
            for batch in pf.iter_batches(batch_size=512, columns=columns):
                data = batch.to_pydict()
                for i, content in enumerate(data[content_col]):
                    row += 1
                    path = (data[path_col][i] if path_col else None) or f"{uri.rsplit('/', 1)[-1]}/row-{row}"
                    # Without a repository column each row is its own repository (a null repo means
                    # "web page" to every later stage; one repo per file would glue unrelated files).
                    repo = (data[repo_col][i] if repo_col else None) or f"{uri}#{path}"
                    if is_hostile_path(path):
                        yield Drop("hostile_path", path, source, repo, 0, f"{uri}: row {row}: unsafe path {path!r}")
                        continue
                    raw = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else (content or b"")
                    if len(raw) > max_bytes:
                        yield Drop("too_large", path, source, repo, len(raw), f"{uri}: row {row}: {len(raw)} bytes > {max_bytes}")
                        continue
                    yield file_record(raw, source=source, domain=domain, repo=repo, path=path, meta={"parquet_file": uri, "row": row},
                                      doc_id_=ids.id_for(source, repo, path))
    except Exception as exc:  # noqa: BLE001
        yield Drop("corrupt_archive", uri, source, None, 0, f"{uri}: damaged after row {row}: {exc}")
