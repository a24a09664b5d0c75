"""kind: repos — repositories as local folders, git URLs or tarballs (local or on an object store)."""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import Field

from corpus.errors import PreflightError
from corpus.ingest.files import path_too_long, printable_path
from corpus.ingest.kinds.base import FileInput, PlanContext, ReadContext, Unit, refused, resolve_uri
from corpus.ingest.repos import SKIP_DIRS, clone_git_repo, read_tarball, walk_local_repo
from corpus.ingest.walk import walk
from corpus.records import Doc, Drop

TARBALL_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar.zst")


class ReposInput(FileInput):
    kind: Literal["repos"]
    each_subdir: bool = Field(False, description="every sub-folder of a path is its own repository")

    def plan(self, i: int, ctx: PlanContext) -> list[Unit]:
        units: list[Unit] = []
        for raw in self.paths:
            path = resolve_uri(raw)
            units += [Unit(i, "git", path, repo_name(path))] if is_git_url(path) else self.expand(i, path)
        return units

    def file_unit(self, i: int, uri: str) -> Unit:
        if not uri.endswith(TARBALL_SUFFIXES):
            raise PreflightError(f"input {self.name!r}: {uri} is neither a folder, a git URL nor a tarball")
        return Unit(i, "tarball", uri, repo_name(uri))

    def folder_units(self, i: int, folder: Path) -> list[Unit]:
        if self.each_subdir:
            return repo_folder_units(i, folder)
        return [Unit(i, "local_repo", str(folder.resolve()), printable_path(folder.resolve().name))]

    def unit_bytes(self, unit: Unit) -> int | None:
        return None if unit.kind == "local_repo" else super().unit_bytes(unit)  # a folder's bytes: fingerprint()

    def fingerprint(self, unit: Unit, h: hashlib._Hash) -> int | None:
        if unit.kind != "local_repo":
            return super().fingerprint(unit, h)
        total = 0
        for dirpath, dirnames, filenames in walk(unit.uri):  # iterative: deep trees do not recurse
            dirnames[:] = sorted(d for d in dirnames if d != ".git")
            for name in sorted(filenames):
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                total += st.st_size
                h.update(f"{dirpath}/{name}:{st.st_size}:{st.st_mtime_ns}".encode("utf-8", "surrogateescape"))
        return total  # the walk already paid for the folder's size: the stage keeps it for part sizes

    def read(self, unit: Unit, ctx: ReadContext) -> Iterator[Doc | Drop]:
        args = {"repo": unit.repo, "max_bytes": ctx.limits.max_file_bytes, "limits": ctx.limits, **self.common()}
        if unit.kind == "local_repo":
            yield from walk_local_repo(Path(unit.uri), **args)
        elif unit.kind == "git":
            # Clones go to the worker's own disk (OUT may be an object store); removed after reading.
            with tempfile.TemporaryDirectory(prefix="corpus-clone-") as tmp:
                yield from clone_git_repo(unit.uri, tmp_dir=Path(tmp), **args)
        else:
            yield from read_tarball(unit.uri, **args)


def repo_folder_units(i: int, folder: Path) -> list[Unit]:
    """each_subdir: every entry of the folder is a repository (a sub-folder or a tarball) or a drop."""
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        return [refused(i, str(folder), "path_too_long" if exc.errno == errno.ENAMETOOLONG else "unreadable")]
    units = []
    for e in entries:
        if e.name in SKIP_DIRS:
            continue
        if path_too_long(e.path):
            units.append(refused(i, e.path, "path_too_long"))
        elif e.is_symlink():
            units.append(refused(i, e.path, "symlink"))
        elif e.is_dir(follow_symlinks=False):
            units.append(Unit(i, "local_repo", str(Path(e.path).resolve()), printable_path(e.name)))
        elif e.is_file(follow_symlinks=False) and e.name.endswith(TARBALL_SUFFIXES):
            units.append(Unit(i, "tarball", e.path, repo_name(e.path)))
        else:
            units.append(refused(i, e.path, "not_a_repository"))
    return units


def is_git_url(path: str) -> bool:
    return path.endswith(".git") or path.startswith(("git@", "git://", "ssh://")) or (path.startswith("file://") and Path(path[7:], ".git").exists())


def repo_name(uri: str) -> str:
    name = printable_path(uri.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])
    for suffix in (".git",) + TARBALL_SUFFIXES:
        name = name.removesuffix(suffix)
    return name or uri
