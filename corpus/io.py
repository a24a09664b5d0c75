"""Reading the run's *inputs* (local paths, object-store URIs, globs, compressed files) through
smart-open / fsspec. Everything the run writes goes through corpus.storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from corpus.storage import count_request, is_remote

# Schemes served by smart-open directly (plain HTTP); every other remote scheme goes through the storage
# layer's fsspec filesystems, so `storage_options` and AWS_ENDPOINT_URL apply to inputs as to OUT.
_HTTP = ("http://", "https://")


def _fs(uri: str) -> tuple[Any, str]:
    from corpus import storage

    return storage.filesystem(uri)


def uri_exists(uri: str) -> bool:
    """Existence check for local paths and object-store URIs (s3://, gs://, https://) alike."""
    count_request("reads")
    if not is_remote(uri):
        return Path(uri.removeprefix("file://")).exists()
    try:
        if uri.startswith(_HTTP):
            import fsspec

            fs, path = fsspec.core.url_to_fs(uri)  # no glob expansion: the literal name must exist
        else:
            fs, path = _fs(uri)
        return fs.exists(path)
    except Exception:  # noqa: BLE001 - any failure to reach the URI is "not usable" for pre-flight
        return False


def expand_remote_glob(uri: str) -> list[str]:
    """s3://bucket/dir/*.warc.gz -> the matching object URIs, sorted (same scheme as the pattern)."""
    count_request("lists")
    fs, path = _fs(uri)
    scheme = uri.split("://", 1)[0]
    return sorted(f"{scheme}://{m.lstrip('/')}" if scheme != "memory" else f"{scheme}://{m}" for m in fs.glob(path))


def open_raw(uri: str) -> Any:
    """The stored bytes of a local path or remote URI, never decompressed (readers that frame gzip
    members themselves, or count compressed bytes against limits)."""
    count_request("opens")
    if is_remote(uri) and not uri.startswith(_HTTP):
        fs, path = _fs(uri)
        return fs.open(path, "rb")
    import smart_open

    return smart_open.open(uri, "rb", compression="disable")


def open_uri(uri: str, mode: str = "rb") -> Any:
    """Open a local path or a remote URI; compression follows the file extension."""
    count_request("opens")
    if is_remote(uri) and not uri.startswith(_HTTP):
        fs, path = _fs(uri)
        return fs.open(path, mode, compression="infer")
    import smart_open

    return smart_open.open(uri, mode)
