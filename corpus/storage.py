"""The one storage layer. Every read and write of the engine and the stages goes through here, so a run
works the same on a local folder as on `s3://`, `gs://` or `abfs://` (fsspec underneath).

Locations are plain strings ("URIs"): a local path or `scheme://bucket/key`. Writes are atomic on both:
local files are written to a temporary name and renamed; object-store files are spooled to a local
temporary file and sent with one `put` when the writer closes cleanly (a single PUT is atomic on S3, GCS
and Azure, and nothing is uploaded if the writer fails). Object stores have no rename, so nothing here
renames remote objects.

Credentials and endpoints come the standard way (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, ... read by
the SDKs) or from fsspec storage options given to `configure()` (the config's `storage_options`). The
options travel to Ray workers through the environment variable CORPUS_STORAGE_OPTIONS.
"""

from __future__ import annotations

import errno
import json
import os
import posixpath
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

OPTIONS_ENV = "CORPUS_STORAGE_OPTIONS"
PARQUET_COMPRESSION = "zstd"


# ---------------------------------------------------------------------------------- requests

# What each task asks of the store, counted here because every read and write passes through this
# module. Kinds (each about one object-store request): `opens` open an object for reading (a Parquet
# footer, or a whole small object), `reads` fetch data or metadata of an object (a row group, a whole
# body, an existence or size check), `lists` list a folder (one page of keys), `writes` create or delete
# an object. The per-task numbers are what the runners return with each task's result (next to its
# CPU time): the maximum over a step's tasks is the figure that must not grow with the number of parts.
REQUEST_KINDS = ("opens", "reads", "lists", "writes")
_KIND_INDEX = {k: i for i, k in enumerate(REQUEST_KINDS)}
_requests_lock = threading.Lock()
# The innermost counting scope gets every request: a task's scope (runner.timed_call) inside the
# driver's, so an in-process task's requests are not also the driver's.
_request_scopes: list[list[int]] = [[0] * len(REQUEST_KINDS)]


def count_request(kind: str, n: int = 1) -> None:
    """Count n requests of one kind (thread-safe: a task's threads count into the same scope)."""
    i = _KIND_INDEX[kind]
    with _requests_lock:
        _request_scopes[-1][i] += n


@contextmanager
def counting_requests() -> Iterator[dict[str, int]]:
    """Count the requests made inside the block; the dict yielded is filled in when it ends."""
    counts = [0] * len(REQUEST_KINDS)
    out: dict[str, int] = {}
    with _requests_lock:
        _request_scopes.append(counts)
    try:
        yield out
    finally:
        with _requests_lock:  # by identity: another scope may hold equal counts
            del _request_scopes[next(i for i, c in enumerate(_request_scopes) if c is counts)]
        out.update(zip(REQUEST_KINDS, counts))


def requests_total(counts: dict[str, int]) -> int:
    return sum(counts.get(k, 0) for k in REQUEST_KINDS)


# ----------------------------------------------------------------------------------- locations


def is_remote(uri: str) -> bool:
    """True for object-store (or any non-local) URIs; local paths and file:// are local."""
    return "://" in str(uri) and not str(uri).startswith("file://")


def _local(uri: str) -> str:
    return str(uri).removeprefix("file://")


def normalize(uri: str | Path) -> str:
    """An absolute local path, or the URI unchanged (without a trailing slash)."""
    uri = str(uri)
    if is_remote(uri):
        return uri.rstrip("/")
    return str(Path(_local(uri)).resolve())


def join(base: str | Path, *names: str) -> str:
    base = str(base)
    if is_remote(base):
        return posixpath.join(base.rstrip("/"), *names)
    return os.path.join(_local(base), *names)


def basename(uri: str) -> str:
    return posixpath.basename(str(uri).rstrip("/")) if is_remote(uri) else os.path.basename(_local(uri))


def parent(uri: str) -> str:
    return posixpath.dirname(str(uri).rstrip("/")) if is_remote(uri) else os.path.dirname(_local(uri))


def configure(options: dict[str, dict[str, Any]] | None) -> None:
    """fsspec storage options per protocol, e.g. {"s3": {"client_kwargs": {"endpoint_url": ...}}}.
    Set before the runner starts, so every worker process inherits them."""
    if options:
        os.environ[OPTIONS_ENV] = json.dumps(options, sort_keys=True)
    else:
        os.environ.pop(OPTIONS_ENV, None)
    _filesystem.cache_clear()


@lru_cache(maxsize=16)
def _filesystem(protocol: str, options_json: str) -> Any:
    import fsspec

    options = json.loads(options_json or "{}").get(protocol, {})
    if protocol == "s3":
        # s3fs does not read AWS_ENDPOINT_URL by itself in every version: pass it on explicitly.
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint and "endpoint_url" not in options.get("client_kwargs", {}):
            options = {**options, "client_kwargs": {**options.get("client_kwargs", {}), "endpoint_url": endpoint}}
    return fsspec.filesystem(protocol, **options)


def filesystem(uri: str) -> tuple[Any, str]:
    """(fsspec filesystem, path inside it) for a remote URI."""
    protocol, _, rest = str(uri).partition("://")
    return _filesystem(protocol, os.environ.get(OPTIONS_ENV, "")), rest


# --------------------------------------------------------------------------------------- queries


def exists(uri: str) -> bool:
    count_request("reads")
    if not is_remote(uri):
        return os.path.exists(_local(uri))
    fs, path = filesystem(uri)
    return fs.exists(path)


def size(uri: str) -> int:
    count_request("reads")
    if not is_remote(uri):
        return os.path.getsize(_local(uri))
    fs, path = filesystem(uri)
    return int(fs.size(path))


def list_sizes(folder: str) -> dict[str, int]:
    """{name: bytes} of the files directly inside a folder (one listing; empty if it does not exist)."""
    count_request("lists")
    if not is_remote(folder):
        try:
            with os.scandir(_local(folder)) as entries:
                return {e.name: e.stat().st_size for e in entries if e.is_file()}
        except (FileNotFoundError, NotADirectoryError):
            return {}
    fs, path = filesystem(folder)
    try:
        fs.invalidate_cache(path)
        entries = fs.ls(path, detail=True)
    except FileNotFoundError:
        return {}
    return {posixpath.basename(e["name"].rstrip("/")): int(e.get("size") or 0) for e in entries if e.get("type") == "file"}



def sizes_of(uris: list[str]) -> list[int]:
    """Bytes of each file, -1 when missing: one listing per folder, not a request per file."""
    listed: dict[str, dict[str, int]] = {}
    out = []
    for uri in uris:
        folder = parent(uri)
        if folder not in listed:
            listed[folder] = list_sizes(folder)
        out.append(listed[folder].get(basename(uri), -1))
    return out

def find(folder: str) -> list[str]:
    """Every file under a folder, recursively, as sorted paths relative to it (empty if none). Object
    stores may keep an empty "folder" after its objects are deleted; only files count here."""
    count_request("lists")
    if not is_remote(folder):
        root = _local(folder)
        out = []
        for dirpath, _dirs, files in os.walk(root):
            out += [os.path.relpath(os.path.join(dirpath, f), root) for f in files]
        return sorted(out)
    fs, path = filesystem(folder)
    fs.invalidate_cache()
    try:
        found = fs.find(path)
    except FileNotFoundError:
        return []
    prefix = path.rstrip("/") + "/"
    return sorted(f[len(prefix):] for f in found if f.startswith(prefix))


def listdir(folder: str) -> list[str]:
    """Sorted names of the files directly inside a folder."""
    return sorted(list_sizes(folder))


def remove(uri: str, recursive: bool = False) -> None:
    """Delete a file (or a folder with recursive=True); missing is fine."""
    count_request("writes")
    if recursive:
        count_request("lists")
    if not is_remote(uri):
        path = _local(uri)
        if recursive and os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except (FileNotFoundError, IsADirectoryError):
                pass
        return
    fs, path = filesystem(uri)
    try:
        fs.rm(path, recursive=recursive)
    except FileNotFoundError:
        pass
    fs.invalidate_cache()


def makedirs(uri: str) -> None:
    """Local folders only; object stores have none to make."""
    if not is_remote(uri):
        os.makedirs(_local(uri), exist_ok=True)


# ------------------------------------------------------------------------------------ read / write


def open_read(uri: str, mode: str = "rb") -> IO:
    count_request("opens")
    if not is_remote(uri):
        return open(_local(uri), mode)
    fs, path = filesystem(uri)
    return fs.open(path, mode)


@contextmanager
def atomic_write(uri: str, mode: str = "wb") -> Iterator[IO]:
    """A file that appears at `uri` whole when the block ends cleanly, and not at all otherwise."""
    count_request("writes")
    if not is_remote(uri):
        path = Path(_local(uri))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
        try:
            with open(tmp, mode) as f:
                yield f
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return
    fd, tmp = tempfile.mkstemp(prefix="corpus-upload-")
    os.close(fd)
    try:
        with open(tmp, mode) as f:
            yield f
        upload_file(tmp, uri)
    finally:
        os.unlink(tmp)


def upload_file(local_path: str | Path, uri: str, move: bool = False) -> None:
    """Copy a finished local file to `uri` (one PUT on object stores; atomic rename locally). With
    move=True the local file is the caller's to give away: on the same disk it is renamed, not copied."""
    if not is_remote(uri):
        if move:
            count_request("writes")
            dest = Path(_local(uri))
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}")
            try:
                shutil.move(str(local_path), tmp)  # a rename on one filesystem, a copy across
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
            return
        with atomic_write(uri) as dst, open(local_path, "rb") as src:
            shutil.copyfileobj(src, dst, 1 << 20)
        return
    count_request("writes")
    fs, path = filesystem(uri)
    fs.put_file(str(local_path), path)
    fs.invalidate_cache(posixpath.dirname(path))


class ExclusiveCreateUnsupported(NotImplementedError):
    """The store at this URI has no create-if-absent write that this layer knows how to make."""


def create_exclusive(uri: str, data: bytes) -> bool:
    """Write `data` at `uri` only if nothing is there, atomically: True when this call created it,
    False when an object was already there. Locally a finished temporary file is hard-linked into
    place (a link fails if the name exists, and readers never see a half-written file); on S3 a PUT
    with `If-None-Match: *` (AWS, MinIO, SeaweedFS honour it). Other stores raise
    ExclusiveCreateUnsupported."""
    if not is_remote(uri):
        path = Path(_local(uri))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
        try:
            tmp.write_bytes(data)
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            except OSError as exc:  # a file system without hard links: O_EXCL (a reader may see it half-written)
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                    raise
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                except FileExistsError:
                    return False
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
            return True
        finally:
            tmp.unlink(missing_ok=True)
    if uri.split("://", 1)[0] not in ("s3", "s3a"):
        raise ExclusiveCreateUnsupported(f"{uri}: no conditional create on this store")
    fs, path = filesystem(uri)
    try:
        fs.pipe_file(path, data, mode="create")
    except FileExistsError:
        return False
    except OSError as exc:
        # s3fs maps 412 to FileExistsError only when the server names the condition (AWS does,
        # SeaweedFS does not); 409 ConditionalRequestConflict: another conditional PUT is in flight.
        code = (getattr(exc.__cause__, "response", None) or {}).get("Error", {}).get("Code")
        if code in ("PreconditionFailed", "ConditionalRequestConflict"):
            return False
        raise
    finally:
        fs.invalidate_cache(posixpath.dirname(path))
    return True


def copy(src: str, dst: str) -> None:
    """Copy a file whole: atomic rename locally, one server-side copy within an object store (no
    bytes through this process), else streamed through an atomic write."""
    if not is_remote(src) and not is_remote(dst):
        count_request("reads")
        with atomic_write(dst) as out, open(_local(src), "rb") as f:
            shutil.copyfileobj(f, out, 1 << 20)
        return
    if is_remote(src) and is_remote(dst):
        count_request("writes")
        sfs, spath = filesystem(src)
        dfs, dpath = filesystem(dst)
        if type(sfs) is type(dfs) and src.split("://", 1)[0] == dst.split("://", 1)[0]:
            sfs.copy(spath, dpath)
            sfs.invalidate_cache(posixpath.dirname(dpath))
            return
    count_request("reads")
    with atomic_write(dst) as out, open_read(src) as f:
        shutil.copyfileobj(f, out, 1 << 20)


@contextmanager
def local_copy(uri: str) -> Iterator[str]:
    """A local path holding the file's bytes (for libraries that only open paths, e.g. fastText)."""
    count_request("opens")
    count_request("reads")
    if not is_remote(uri):
        yield _local(uri)
        return
    fs, path = filesystem(uri)
    fd, tmp = tempfile.mkstemp(prefix="corpus-download-", suffix="-" + posixpath.basename(path))
    os.close(fd)
    try:
        fs.get_file(path, tmp)
        yield tmp
    finally:
        os.unlink(tmp)


def read_bytes(uri: str) -> bytes:
    count_request("reads")
    with open_read(uri) as f:
        return f.read()


def write_bytes(uri: str, data: bytes) -> None:
    with atomic_write(uri) as f:
        f.write(data)


def read_text(uri: str) -> str:
    return read_bytes(uri).decode("utf-8")


def write_text(uri: str, text: str) -> None:
    write_bytes(uri, text.encode("utf-8"))


def read_json(uri: str) -> Any:
    return json.loads(read_bytes(uri))


def write_json(uri: str, data: Any) -> None:
    write_text(uri, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------------------------------ Parquet


def parquet_file(uri: str) -> pq.ParquetFile:
    """An open Parquet file (local: memory-mapped; remote: a seekable fsspec handle). Counts one open
    (its footer); what is read from it is counted by read_row_groups / iter_batches."""
    if not is_remote(uri):
        count_request("opens")
        return pq.ParquetFile(_local(uri), memory_map=True)
    return pq.ParquetFile(open_read(uri))


def read_row_groups(pf: pq.ParquetFile, groups: list[int], columns: list[str] | None = None) -> pa.Table:
    """Row groups of an open Parquet file: one read per run of consecutive groups (one ranged GET)."""
    runs = sum(1 for i, g in enumerate(groups) if i == 0 or g != groups[i - 1] + 1)
    count_request("reads", runs)
    return pf.read_row_groups(groups, columns=columns)


def read_table(uri: str, columns: list[str] | None = None) -> pa.Table:
    if not is_remote(uri):
        count_request("opens")
        count_request("reads")
        return pq.read_table(_local(uri), columns=columns)
    count_request("reads")
    with open_read(uri) as f:
        return pq.read_table(f, columns=columns)


def read_tables(uris: list[str], columns: list[str] | None = None) -> pa.Table:
    tables = [read_table(u, columns=columns) for u in uris]
    return pa.concat_tables(tables) if tables else pa.table({})


def iter_batches(uri: str, batch_rows: int, columns: list[str] | None = None) -> Iterator[pa.Table]:
    pf = parquet_file(uri)
    count_request("reads", max(1, pf.metadata.num_row_groups))  # a ranged read per row group, at most
    try:
        for batch in pf.iter_batches(batch_size=batch_rows, columns=columns):
            yield pa.Table.from_batches([batch])
    finally:
        pf.close()


def write_table(uri: str, table: pa.Table, row_group_size: int | None = None) -> None:
    with atomic_write(uri) as f:
        pq.write_table(table, f, compression=PARQUET_COMPRESSION, row_group_size=row_group_size)


class PartWriter:
    """Streams tables into one Parquet file that appears (atomically) only on a clean close."""

    def __init__(self, uri: str | Path, schema: pa.Schema, row_group_rows: int = 2048) -> None:
        self.uri = str(uri)
        self.schema = schema
        self.row_group_rows = row_group_rows
        self._ctx = atomic_write(self.uri)
        self._file = self._ctx.__enter__()
        self._writer = pq.ParquetWriter(self._file, schema, compression=PARQUET_COMPRESSION)
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table.cast(self.schema), row_group_size=self.row_group_rows)
            self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()
        self._ctx.__exit__(None, None, None)

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            err = RuntimeError("part writer aborted")
            try:
                self._ctx.__exit__(type(err), err, None)
            except RuntimeError:
                pass

    def __enter__(self) -> PartWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


# ------------------------------------------------------------------ the run's inputs
# Reading inputs (local paths, object-store URIs, globs, compressed files): the same filesystems, so
# `storage_options` and AWS_ENDPOINT_URL apply to inputs as to OUT; plain HTTP(S) through smart-open.

# Schemes served by smart-open directly (plain HTTP); every other remote scheme goes through the storage
# layer's fsspec filesystems, so `storage_options` and AWS_ENDPOINT_URL apply to inputs as to OUT.
_HTTP = ("http://", "https://")


def uri_exists(uri: str) -> bool:
    """Existence check for local paths and object-store URIs (s3://, gs://, https://) alike."""
    count_request("reads")
    if not is_remote(uri):
        return Path(uri.removeprefix("file://")).exists()
    try:
        if uri.startswith(_HTTP):
            import fsspec

            fs, path = fsspec.core.url_tofilesystem(uri)  # no glob expansion: the literal name must exist
        else:
            fs, path = filesystem(uri)
        return fs.exists(path)
    except Exception:  # noqa: BLE001 - any failure to reach the URI is "not usable" for pre-flight
        return False


def expand_remote_glob(uri: str) -> list[str]:
    """s3://bucket/dir/*.warc.gz -> the matching object URIs, sorted (same scheme as the pattern)."""
    count_request("lists")
    fs, path = filesystem(uri)
    scheme = uri.split("://", 1)[0]
    return sorted(f"{scheme}://{m.lstrip('/')}" if scheme != "memory" else f"{scheme}://{m}" for m in fs.glob(path))


def open_raw(uri: str) -> Any:
    """The stored bytes of a local path or remote URI, never decompressed (readers that frame gzip
    members themselves, or count compressed bytes against limits)."""
    count_request("opens")
    if is_remote(uri) and not uri.startswith(_HTTP):
        fs, path = filesystem(uri)
        return fs.open(path, "rb")
    import smart_open

    return smart_open.open(uri, "rb", compression="disable")


def open_uri(uri: str, mode: str = "rb") -> Any:
    """Open a local path or a remote URI; compression follows the file extension."""
    count_request("opens")
    if is_remote(uri) and not uri.startswith(_HTTP):
        fs, path = filesystem(uri)
        return fs.open(path, mode, compression="infer")
    import smart_open

    return smart_open.open(uri, mode)
