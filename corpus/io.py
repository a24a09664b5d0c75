"""Reading the run's *inputs* (local paths, object-store URIs, globs, compressed files) through
smart-open / fsspec. Everything the run writes goes through corpus.storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def is_remote(uri: str) -> bool:
    return "://" in uri and not uri.startswith("file://")


def uri_exists(uri: str) -> bool:
    """Existence check for local paths and object-store URIs (s3://, gs://, https://) alike."""
    if not is_remote(uri):
        return Path(uri.removeprefix("file://")).exists()
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(uri)  # no glob expansion: the literal name must exist
        return fs.exists(path)
    except Exception:  # noqa: BLE001 - any failure to reach the URI is "not usable" for pre-flight
        return False


def expand_remote_glob(uri: str) -> list[str]:
    """s3://bucket/dir/*.warc.gz -> the matching object URIs, sorted (same scheme as the pattern)."""
    import fsspec

    fs, _, _ = fsspec.get_fs_token_paths(uri)
    scheme = uri.split("://", 1)[0]
    return sorted(m if "://" in m else f"{scheme}://{m.lstrip('/') if scheme != 'memory' else m}" for m in fs.glob(uri))


def open_uri(uri: str, mode: str = "rb") -> Any:
    """Open a local path or any smart-open URI; compression follows the file extension."""
    import smart_open

    return smart_open.open(uri, mode)
