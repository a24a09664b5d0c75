"""The-Stack-style Parquet: one source file per row (content + path + repo name columns).

Parquet compresses a row group's column as a whole, so a file of a few kilobytes can expand to gigabytes
(10 rows of 150 MB of one repeated character: 5.5 KB on disk). Before anything is decompressed the
footer says how large each row group's columns expand (`total_uncompressed_size`); a row group over
`max_row_group_bytes` is not read at all: each of its rows is a `too_large` drop (named from the small
path and repository columns when those fit the bound, else the row group is one drop). Smaller row
groups are read in batches of about `BATCH_BYTES`, and a row over `max_bytes` is dropped from its Arrow
length, never turned into a Python string, so a task holds at most one row group's pages and one batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from corpus.ingest.files import Occurrences, file_record, is_hostile_path
from corpus.records import Doc, Drop
from corpus.storage import open_uri

CONTENT_COLUMNS = ("content", "text")
PATH_COLUMNS = ("path", "max_stars_repo_path", "file_path")
REPO_COLUMNS = ("repo_name", "max_stars_repo_name", "repo")
BATCH_BYTES = 32 << 20  # expanded bytes of content per batch read
MAX_BATCH_ROWS = 512
MAX_ROW_GROUP_BYTES = 512 << 20  # default expanded size of a row group's columns above which it is not read


def _pick(names: list[str], candidates: tuple[str, ...]) -> str | None:
    return next((c for c in candidates if c in names), None)


def _expanded(meta: pq.RowGroupMetaData, columns: list[str]) -> int:
    """Bytes the row group's `columns` expand to, from the footer (nothing decompressed)."""
    wanted = set(columns)
    total = 0
    for j in range(meta.num_columns):
        col = meta.column(j)
        if col.path_in_schema.split(".")[0] in wanted:
            total += col.total_uncompressed_size
    return total


def _has_dictionary(meta: pq.FileMetaData, column: str) -> bool:
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        for j in range(rg.num_columns):
            if rg.column(j).path_in_schema == column and rg.column(j).has_dictionary_page:
                return True
    return False


def _byte_lengths(content: pa.Array | pa.ChunkedArray) -> list[int]:
    """Bytes of each row's value, computed in Arrow (a dictionary column: from its distinct values)."""
    chunks = content.chunks if isinstance(content, pa.ChunkedArray) else [content]
    out: list[int] = []
    for chunk in chunks:
        if pa.types.is_dictionary(chunk.type):
            out += pc.binary_length(chunk.dictionary).take(chunk.indices).fill_null(0).to_pylist()
        else:
            out += pc.binary_length(chunk).fill_null(0).to_pylist()
    return out


def read_stack_parquet(uri: str, *, source: str, domain: str, max_bytes: int,
                       max_row_group_bytes: int = MAX_ROW_GROUP_BYTES) -> Iterator[Doc | Drop]:
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
    name_cols = [c for c in (path_col, repo_col) if c]
    # A dictionary-encoded column expands past its footer size once decoded (one 150 MB value used by
    # ten rows is 1.5 GB dense): read it as a dictionary, so each distinct value is held once.
    if _has_dictionary(pf.metadata, content_col):
        pf = pq.ParquetFile(fh, metadata=pf.metadata, read_dictionary=[content_col])
    row = 0
    ids = Occurrences()  # a (repo, path) seen twice is two documents with two ids

    def where(data: dict, i: int) -> tuple[str, str]:
        path = (data[path_col][i] if path_col else None) or f"{uri.rsplit('/', 1)[-1]}/row-{row}"
        # Without a repository column each row is its own repository (a null repo means "web page" to
        # every later stage; one repo per file would glue unrelated files).
        repo = (data[repo_col][i] if repo_col else None) or f"{uri}#{path}"
        return path, repo

    try:
        with fh:
            for g in range(pf.num_row_groups):
                meta = pf.metadata.row_group(g)
                rows_in_group = meta.num_rows
                content_bytes = _expanded(meta, [content_col])
                if content_bytes + _expanded(meta, name_cols) > max_row_group_bytes:
                    why = f"row group {g} expands to {content_bytes} bytes of content > max_row_group_bytes {max_row_group_bytes}; not read"
                    if _expanded(meta, name_cols) > max_row_group_bytes:
                        yield Drop("too_large", uri, source, None, content_bytes, f"{uri}: {why} ({rows_in_group} rows)")
                        row += rows_in_group
                        continue
                    for batch in pf.iter_batches(batch_size=MAX_BATCH_ROWS, row_groups=[g], columns=name_cols or None) if name_cols else [None]:
                        n = batch.num_rows if batch is not None else rows_in_group
                        data = batch.to_pydict() if batch is not None else {}
                        for i in range(n):
                            row += 1
                            path, repo = where(data, i)
                            yield Drop("too_large", path, source, repo, 0, f"{uri}: row {row}: {why}")
                    continue
                batch_rows = max(1, min(MAX_BATCH_ROWS, rows_in_group * BATCH_BYTES // max(content_bytes, 1)))
                for batch in pf.iter_batches(batch_size=batch_rows, row_groups=[g], columns=[content_col, *name_cols]):
                    content = batch.column(content_col)
                    lengths = _byte_lengths(content)
                    data = batch.select(name_cols).to_pydict() if name_cols else {}
                    for i, size in enumerate(lengths):
                        row += 1
                        path, repo = where(data, i)
                        if is_hostile_path(path):
                            yield Drop("hostile_path", path, source, repo, 0, f"{uri}: row {row}: unsafe path {path!r}")
                            continue
                        if size > max_bytes:  # judged from the Arrow length: never copied out of Arrow
                            yield Drop("too_large", path, source, repo, size, f"{uri}: row {row}: {size} bytes > {max_bytes}")
                            continue
                        value = content[i].as_py()
                        raw = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else (value or b"")
                        yield file_record(raw, source=source, domain=domain, repo=repo, path=path, meta={"parquet_file": uri, "row": row},
                                          doc_id_=ids.id_for(source, repo, path))
    except Exception as exc:  # noqa: BLE001
        yield Drop("corrupt_archive", uri, source, None, 0, f"{uri}: damaged after row {row}: {exc}")
