"""Turning raw file bytes into a document or a reasoned refusal; shared by every repository reader."""

from __future__ import annotations

from pathlib import PurePosixPath

from corpus.records import Doc, Drop

BINARY_SNIFF_BYTES = 8192


def printable_path(path: str) -> str:
    """A file name as valid UTF-8 for the records; undecodable bytes become U+FFFD."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def has_bad_encoding(path: str) -> bool:
    """Undecodable bytes in a file name arrive as lone surrogates, which Parquet cannot store."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def is_hostile_path(path: str) -> bool:
    """Absolute paths, parent references and control characters: never trusted as names."""
    if not path or path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        return True
    if any(ord(c) < 32 for c in path):
        return True
    return any(part == ".." for part in PurePosixPath(path.replace("\\", "/")).parts)


def decode_text(data: bytes) -> str | None:
    """UTF-8 (with or without BOM) or None. Other encodings are refused rather than guessed:
    a wrong guess silently corrupts training text."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text.removeprefix("\ufeff")


def file_record(data: bytes, *, source: str, domain: str, repo: str | None, path: str, meta: dict | None = None) -> Doc | Drop:
    size = len(data)
    if not data:
        return Drop("empty", path, source, repo, 0, f"{repo}/{path}: empty file")
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return Drop("binary", path, source, repo, size, f"{repo}/{path}: NUL byte in the first {BINARY_SNIFF_BYTES} bytes")
    text = decode_text(data)
    if text is None:
        return Drop("bad_encoding", path, source, repo, size, f"{repo}/{path}: not valid UTF-8")
    return Doc(source=source, domain=domain, repo=repo, path=path, text=text, meta=meta or {})
