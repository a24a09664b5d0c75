"""What every input kind is: a config section (a pydantic model whose `kind` names it) that plans work
units on the driver and reads them in tasks. The ingest stage (corpus/stages/ingest.py) only loops over
the configured inputs and asks each one; adding a kind is one module here and one line in __init__.py.

A kind implements:
- plan(i, ctx) -> units          on the driver, in a stable order (missing inputs: PreflightError)
- read(unit, ctx) -> docs/drops  in a task; every record read is a Doc, every one refused a Drop
- unit_bytes(unit)               the unit's input bytes when cheaply known at planning (part sizes)
- fingerprint(unit, h)           feeds what says the unit's content changed into a hash (--resume)
"""

from __future__ import annotations

import errno
import glob
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from corpus.errors import PreflightError
from corpus.ingest.files import path_too_long, printable_path
from corpus.ingest.limits import Limits
from corpus.ingest.walk import walk
from corpus.ingest.web import HtmlExtractor
from corpus.records import Doc, Drop
from corpus.storage import expand_remote_glob, is_remote, uri_exists

LISTABLE_SCHEMES = {"s3", "gs", "gcs", "az", "abfs", "file", "memory", "hdfs"}


@dataclass(frozen=True)
class Unit:
    input_index: int
    kind: str  # the kind's own sub-kind (local_repo | git | tarball | python_dist | warc | ...) or "refused"
    uri: str
    repo: str | None
    reason: str | None = None  # kind "refused": an entry met while planning that is counted as a drop


@dataclass
class PlanContext:
    """What planning may need besides the input's own config."""

    out_uri: str | None = None  # where the run writes (a crawl keeps its listing there)
    resume: bool = False
    discover: bool = True  # False in pre-flight: check that inputs exist, do no expensive discovery
    allow_empty: bool = False
    github_client_kwargs: dict[str, Any] = field(default_factory=dict)  # test hook (a fake clock)
    notes: dict[str, Any] = field(default_factory=dict)  # what planning found, by input name (e.g. a crawl)


class ReadContext:
    """What reading needs besides the unit: the stage's limits and per-task helpers made once per task."""

    def __init__(self, limits: Limits, extract_timeout_s: float, github_client_kwargs: dict[str, Any] | None = None,
                 optout: Any = None) -> None:
        self.limits = limits
        self.extract_timeout_s = extract_timeout_s
        self.github_client_kwargs = github_client_kwargs or {}
        self.optout = optout  # corpus.ingest.optout.OptOut: a kind that lists repositories itself checks it
        self._extractor = None

    @property
    def extractor(self):
        """The HTML-to-text extractor, made once per task and only by kinds that read HTML."""
        if self._extractor is None:
            self._extractor = HtmlExtractor(timeout_s=self.extract_timeout_s)
        return self._extractor


class InputKind(BaseModel):
    """The fields every input has; a kind adds its own and `kind: Literal[...]`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="source name recorded on every document (e.g. github, web)")
    domain: Literal["code", "text", "math"] = "code"
    # A kind whose every unit must be a part of its own (a crawl's row group of repositories).
    unit_is_part: ClassVar[bool] = False

    def plan(self, i: int, ctx: PlanContext) -> list[Unit]:
        raise NotImplementedError

    def read(self, unit: Unit, ctx: ReadContext) -> Iterator[Doc | Drop]:
        raise NotImplementedError

    def unit_bytes(self, unit: Unit) -> int | None:
        if not is_remote(unit.uri):
            try:
                return os.path.getsize(unit.uri)
            except OSError:
                return None
        return None

    def fingerprint(self, unit: Unit, h: hashlib._Hash) -> int | None:
        """Size and mtime of a local file (remote objects: their names only, already in the unit).
        Returns the unit's bytes when measuring them was part of the work, else None."""
        if not is_remote(unit.uri) and os.path.exists(unit.uri):
            st = os.stat(unit.uri)
            h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        return None

    def common(self) -> dict[str, str]:
        """The fields every document of this input carries."""
        return {"source": self.name, "domain": self.domain}


class FileInput(InputKind):
    """A kind read from files: local paths, globs, folders of files, or object-store URIs."""

    paths: list[str] = Field(default_factory=list, description="local paths, globs, folders or s3:// gs:// https:// URIs")

    def plan(self, i: int, ctx: PlanContext) -> list[Unit]:
        return [u for raw in self.paths for u in self.expand(i, resolve_uri(raw))]

    def file_unit(self, i: int, uri: str) -> Unit:
        return Unit(i, self.kind, uri, None)  # type: ignore[attr-defined]

    def folder_units(self, i: int, folder: Path) -> list[Unit]:
        """A folder named by the config (or matched by its glob): every file under it."""
        return tree_units(i, folder, self.file_unit)

    def expand(self, i: int, path: str) -> list[Unit]:
        # A remote pattern is a glob only where the store can list and no object has that exact name
        # (presigned https URLs carry '?' in their query).
        if is_remote(path) and glob.has_magic(path) and path.split("://", 1)[0] in LISTABLE_SCHEMES and not uri_exists(path):
            matches = expand_remote_glob(path)
            if not matches:
                raise PreflightError(f"input {self.name!r}: {path} matches nothing")
            return [self.file_unit(i, m) for m in matches]
        if is_remote(path):
            if not uri_exists(path):
                raise PreflightError(f"input {self.name!r}: {path} does not exist or is unreachable")
            return [self.file_unit(i, path)]
        # glob.glob lists only entries that exist (broken links included); a literal path must exist.
        matches = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
        if not matches or (not glob.has_magic(path) and not Path(path).exists()):
            raise PreflightError(f"input {self.name!r}: path {path} does not exist")
        units = []
        for m in matches:
            # The configured path itself may be a link (the user named it); whatever is discovered
            # under it or through a glob is never followed: a link to /etc must not become a repository.
            if m != path and os.path.islink(m):
                units.append(refused(i, m, "symlink"))
            elif Path(m).is_dir():
                units += self.folder_units(i, Path(m))
            else:
                units.append(self.file_unit(i, m))
        return units


def tree_units(i: int, root: Path, file_unit) -> list[Unit]:
    """Every entry under a folder of input files (WARC, Parquet, tarballs), links not followed."""
    units: list[Unit] = []
    errors: list[OSError] = []
    for dirpath, dirnames, filenames in walk(root, onerror=errors.append):
        for d in sorted(dirnames):
            if os.path.islink(os.path.join(dirpath, d)):
                units.append(refused(i, os.path.join(dirpath, d), "symlink"))
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if path_too_long(full):
                units.append(refused(i, full, "path_too_long"))
            elif os.path.islink(full):
                units.append(refused(i, full, "symlink"))
            elif not os.path.isfile(full):
                units.append(refused(i, full, "not_a_file"))
            else:
                units.append(file_unit(i, full))
    units += [refused(i, str(e.filename or root), "path_too_long" if e.errno == errno.ENAMETOOLONG else "unreadable") for e in errors]
    return sorted(units, key=lambda u: u.uri)


REFUSED = {
    "symlink": "symbolic link, not followed",
    "unreadable": "cannot be listed or read",
    "path_too_long": "path over 4096 bytes",
    "not_a_repository": "neither a folder nor a tarball, in a folder of repositories",
    "not_a_file": "not a regular file",
}


def refused(i: int, uri: str, reason: str) -> Unit:
    """An entry met while planning that is counted as a drop when its part is read."""
    return Unit(i, "refused", uri, None, reason)


def read_refused(unit: Unit, source: str) -> Drop:
    shown = printable_path(unit.uri)
    shown = shown if not path_too_long(shown) else shown[:200] + "..."
    return Drop(unit.reason or "unreadable", shown, source, unit.repo, 0, f"{shown}: {REFUSED.get(unit.reason or '', unit.reason)}")


def resolve_uri(path: str) -> str:
    """`pkg:corpus/samples/x` names a file shipped inside an installed package."""
    if path.startswith("pkg:"):
        package, _, rel = path[4:].partition("/")
        return str(resources.files(package).joinpath(rel))
    return path
