"""Turning raw file bytes into a document or a reasoned refusal; shared by every repository reader."""

from __future__ import annotations

from pathlib import PurePosixPath

from corpus.records import Doc, Drop, doc_id

# Linux PATH_MAX: a longer path cannot be opened by name, so it is refused (counted) up front.
MAX_PATH_BYTES = 4096


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


def path_too_long(path: str) -> bool:
    return len(path.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES


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
    return text.lstrip("\ufeff")  # every leading BOM (hypothesis found a file starting with two)


class Occurrences:
    """Ids unique per (source, repo, path, occurrence): an archive may hold one member name twice
    (tar appends), and both copies are documents. The first keeps the plain id, so ids of ordinary
    inputs do not change; the n-th repeat hashes the occurrence number in."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str | None, str], int] = {}

    def id_for(self, source: str, repo: str | None, path: str) -> str:
        n = self._seen.get((repo, path), 0)
        self._seen[(repo, path)] = n + 1
        return doc_id(source, repo, path) if n == 0 else doc_id(source, repo, f"{path}\0#{n + 1}")


def file_record(
    data: bytes, *, source: str, domain: str, repo: str | None, path: str, meta: dict | None = None, doc_id_: str = ""
) -> Doc | Drop:
    size = len(data)
    if not data:
        return Drop("empty", path, source, repo, 0, f"{repo}/{path}: empty file")
    # The whole file, not a prefix: a NUL past the first kilobytes still marks a binary (or a text
    # file with an embedded blob) and would otherwise reach the token shards.
    nul = data.find(b"\0")
    if nul >= 0:
        return Drop("binary", path, source, repo, size, f"{repo}/{path}: NUL byte at offset {nul}")
    text = decode_text(data)
    if text is None:
        return Drop("bad_encoding", path, source, repo, size, f"{repo}/{path}: not valid UTF-8")
    return Doc(source=source, domain=domain, repo=repo, path=path, text=text, meta=meta or {}, id=doc_id_)
