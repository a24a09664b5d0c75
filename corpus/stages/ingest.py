"""ingest: external inputs -> DOC_SCHEMA parts. One work unit per repository, archive or file."""

from __future__ import annotations

import errno
import glob
import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from datetime import date
from typing import Any, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field

from corpus import storage
from corpus.errors import EmptyOutputError, PreflightError
from corpus.ingest.files import path_too_long, printable_path
from corpus.ingest import github as gh
from corpus.ingest.limits import Limits
from corpus.ingest.repos import SKIP_DIRS, clone_git_repo, read_python_distribution, read_tarball, walk_local_repo
from corpus.ingest.stack_parquet import read_stack_parquet
from corpus.ingest.walk import walk
from corpus.ingest.web import HtmlExtractor, read_warc
from corpus.io import expand_remote_glob, is_remote, uri_exists
from corpus.per_item import describe, is_environment_error
from corpus.records import Doc, Drop
from corpus.stage import SourceStage

LISTABLE_SCHEMES = {"s3", "gs", "gcs", "az", "abfs", "file", "memory", "hdfs"}
TARBALL_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar.zst")


class InputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="source name recorded on every document (e.g. github, web)")
    kind: Literal["repos", "python_dists", "warc", "wet", "stack_parquet", "github"]
    domain: Literal["code", "text", "math"] = "code"
    paths: list[str] = Field(default_factory=list, description="local paths, globs, git URLs, tarballs or s3:// gs:// https:// URIs")
    distributions: list[str] = Field(default_factory=list, description="kind=python_dists: installed distribution names")
    each_subdir: bool = Field(False, description="kind=repos: every sub-folder of a path is its own repository")
    # kind=github (docs/github.md): discovery through the search API, download of each repository's tarball.
    api_url: str = Field("https://api.github.com", description="kind=github: REST API root (Enterprise: https://HOST/api/v3)")
    token_env: str = Field("GITHUB_TOKEN", description="kind=github: environment variable holding the token (never written anywhere)")
    query: str = Field("", description="kind=github: search qualifiers, as on github.com (e.g. 'stars:>=10')")
    created_after: date = Field(date(2008, 1, 1), description="kind=github: first creation day listed")
    created_before: date = Field(date(2023, 11, 1), description="kind=github: repositories created before this day (the recipe's cutoff)")
    include_forks: bool = Field(False, description="kind=github: list forks too")
    max_repos: int | None = Field(None, gt=0, description="kind=github: stop after this many repositories (in creation order)")
    repos_per_part: int = Field(32, gt=0, description="kind=github: repositories downloaded per ingest part (one task)")
    resolve_sha: bool = Field(True, description="kind=github: pin each default branch's head commit at discovery (GraphQL)")
    licenses: list[str] | None = Field(None, description="kind=github: SPDX ids allowed (e.g. [MIT, Apache-2.0]); other "
                                       "repositories are one `license_not_allowed` drop each, not downloaded. None: all")
    archive_url: str | None = Field(None, description="kind=github: archive URL template instead of the API's tarball endpoint, "
                                    "e.g. https://codeload.github.com/{full_name}/tar.gz/{sha} (no API request per repository; no token sent)")


class IngestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: list[InputSpec] = Field(min_length=1)
    max_file_bytes: int = Field(1_000_000, gt=0, description="larger files are dropped as too_large without being read")
    allow_empty: bool = Field(False, description="an input that yields no document is a warning, not an error")
    units_per_part: int = Field(256, gt=0, description="at most this many repositories / files per output part")
    max_archive_bytes: int = Field(4_000_000_000, gt=0, description="an archive expanding past this many bytes is cut there (archive_limit)")
    max_archive_members: int = Field(500_000, gt=0, description="an archive with more members is cut there (archive_limit)")
    max_compression_ratio: float = Field(100.0, gt=1, description="expanded/compressed bytes past 64 MB above which an archive is cut (archive_limit)")
    max_repo_files: int = Field(500_000, gt=0, description="a repository with more files is cut there (repo_limit)")
    max_repo_bytes: int = Field(4_000_000_000, gt=0, description="a repository with more bytes of files is cut there (repo_limit)")
    max_parquet_row_group_bytes: int = Field(512 << 20, gt=0, description="kind=stack_parquet: a row group whose columns expand "
                                             "past this many bytes (footer sizes) is not read; each of its rows is a too_large drop")
    extract_timeout_s: float = Field(10.0, gt=0, description="HTML-to-text time per page before the page is dropped as timeout")
    part_bytes: int = Field(64_000_000, gt=0, description="a part closes once its units hold this many input bytes "
                            "(where a unit's size is known when planning: local files, installed distributions)")
    min_parts: int = Field(8, gt=0, description="when unit sizes are known, parts close at min(part_bytes, total / min_parts) "
                           "so a small input still gives the CPUs several parts (the same parts on any cluster)")


@dataclass(frozen=True)
class Unit:
    input_index: int
    kind: str  # local_repo | git | tarball | python_dist | warc | wet | stack_parquet
    uri: str
    repo: str | None
    reason: str | None = None  # kind "refused": an entry met while planning that is counted as a drop


def resolve_uri(path: str) -> str:
    """`pkg:corpus/samples/x` names a file shipped inside an installed package."""
    if path.startswith("pkg:"):
        package, _, rel = path[4:].partition("/")
        return str(resources.files(package).joinpath(rel))
    return path


def _is_git_url(path: str) -> bool:
    return path.endswith(".git") or path.startswith(("git@", "git://", "ssh://")) or (path.startswith("file://") and Path(path[7:], ".git").exists())


class IngestStage(SourceStage):
    name = "ingest"
    config: IngestConfig

    # Test hook: keyword arguments for the GitHub client (a fake sleep/clock); not config, not hashed.
    github_client_kwargs: dict[str, Any] = {}
    _out_uri: str | None = None
    _resume: bool = False

    def bind_output(self, out_uri: str, resume: bool) -> None:
        """kind=github: discovery writes OUT/github/repos.parquet and reuses it on --resume."""
        self._out_uri, self._resume = out_uri, resume

    def units_per_part(self) -> int:
        return self.config.units_per_part

    def part_groups(self, units: list[Unit]) -> list[list[Unit]]:
        """A github unit is one row group of repos.parquet (repos_per_part repositories): a part of its own."""
        groups: list[list[Unit]] = []
        run: list[Unit] = []
        for unit in units:
            if unit.kind == "github":
                groups += super().part_groups(run) if run else []
                groups.append([unit])
                run = []
            else:
                run.append(unit)
        return groups + (super().part_groups(run) if run else [])

    def part_bytes(self) -> int | None:
        return self.config.part_bytes

    def min_parts(self) -> int:
        return self.config.min_parts

    def unit_bytes(self, unit: Unit) -> int | None:
        """Sizes known without reading: a local file's size, a distribution's RECORD sizes."""
        import os
        from importlib import metadata

        if unit.kind == "python_dist":
            try:
                return sum(f.size or 0 for f in metadata.files(unit.uri) or [])
            except metadata.PackageNotFoundError:
                return None
        if unit.kind == "local_repo":
            return getattr(self, "_repo_bytes", {}).get(unit.uri)
        if not is_remote(unit.uri):
            try:
                return os.path.getsize(unit.uri)
            except OSError:
                return None
        return None

    def plan(self) -> list[Unit]:
        return self._plan(discover=True)

    def _plan(self, discover: bool) -> list[Unit]:
        units: list[Unit] = []
        for i, spec in enumerate(self.config.inputs):
            if spec.kind == "github":
                units += self._github_units(i, spec, discover)
                continue
            if spec.kind == "python_dists":
                units += [Unit(i, "python_dist", d, f"pypi/{d}") for d in spec.distributions]
                continue
            for raw in spec.paths:
                units += self._expand(i, spec, resolve_uri(raw))
        if not units:
            raise PreflightError("ingest: the configured inputs name no repositories or files")
        return units

    def _github_units(self, i: int, spec: InputSpec, discover: bool) -> list[Unit]:
        """Discovery on the driver (O(repositories) of small rows, streamed to a table); the units are
        row groups of that table, so the driver holds O(parts). Preflight only checks the token."""
        client = gh.client_from_env(spec.api_url, spec.token_env, **self.github_client_kwargs)
        if not discover:
            return [Unit(i, "github", spec.api_url, None)]
        if self._out_uri is None:
            raise PreflightError(f"input {spec.name!r}: kind github needs the run's output location (Executor binds it)")
        query = gh.GitHubQuery(spec.api_url, spec.query, spec.created_after, spec.created_before, spec.include_forks, spec.resolve_sha)
        # OUT/github for the usual name, OUT/github-<name> otherwise: never a stage's folder, which discovery would empty.
        folder = storage.join(self._out_uri, "github" if spec.name == "github" else f"github-{spec.name}")
        found = gh.discover(client, query, folder, resume=self._resume, max_repos=spec.max_repos,
                            repos_per_part=spec.repos_per_part)
        self.discovery = getattr(self, "discovery", {}) | {spec.name: found}
        if not found.repos and not self.config.allow_empty:
            raise PreflightError(f"input {spec.name!r}: the search {spec.query!r} found no repositories created in "
                                 f"[{spec.created_after}, {spec.created_before})")
        # The digest of the listing is in the unit: another listing gives other part keys.
        return [Unit(i, "github", f"{found.repos_uri}#{g}", f"digest={found.digest}") for g in range(found.row_groups)]

    def _expand(self, i: int, spec: InputSpec, path: str) -> list[Unit]:
        if spec.kind == "repos" and _is_git_url(path):
            return [Unit(i, "git", path, _repo_name(path))]
        # A remote pattern is a glob only where the store can list and no object has that exact name
        # (presigned https URLs carry '?' in their query).
        if is_remote(path) and glob.has_magic(path) and path.split("://", 1)[0] in LISTABLE_SCHEMES and not uri_exists(path):
            matches = expand_remote_glob(path)
            if not matches:
                raise PreflightError(f"input {spec.name!r}: {path} matches nothing")
            return [self._file_unit(i, spec, m) for m in matches]
        if is_remote(path):
            if not uri_exists(path):
                raise PreflightError(f"input {spec.name!r}: {path} does not exist or is unreachable")
            return [self._file_unit(i, spec, path)]
        # glob.glob lists only entries that exist (broken links included); a literal path must exist.
        matches = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
        if not matches or (not glob.has_magic(path) and not Path(path).exists()):
            raise PreflightError(f"input {spec.name!r}: path {path} does not exist")
        units = []
        for m in matches:
            # The configured path itself may be a link (the user named it); whatever is discovered
            # under it or through a glob is never followed: a link to /etc must not become a repository.
            if m != path and os.path.islink(m):
                units.append(_refused(i, m, "symlink"))
                continue
            p = Path(m)
            if spec.kind == "repos" and p.is_dir():
                units += _repo_folder_units(i, p) if spec.each_subdir else [Unit(i, "local_repo", str(p.resolve()), printable_path(p.resolve().name))]
            elif p.is_dir():
                units += self._tree_units(i, spec, p)
            else:
                units.append(self._file_unit(i, spec, str(p)))
        return units

    def _tree_units(self, i: int, spec: InputSpec, root: Path) -> list[Unit]:
        """Every entry under a folder of input files (WARC, Parquet, tarballs), links not followed."""
        units: list[Unit] = []
        errors: list[OSError] = []
        for dirpath, dirnames, filenames in walk(root, onerror=errors.append):
            for d in sorted(dirnames):
                if os.path.islink(os.path.join(dirpath, d)):
                    units.append(_refused(i, os.path.join(dirpath, d), "symlink"))
            dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d)))
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                if path_too_long(full):
                    units.append(_refused(i, full, "path_too_long"))
                elif os.path.islink(full):
                    units.append(_refused(i, full, "symlink"))
                elif not os.path.isfile(full):
                    units.append(_refused(i, full, "not_a_file"))
                else:
                    units.append(self._file_unit(i, spec, full))
        units += [_refused(i, str(e.filename or root), "path_too_long" if e.errno == errno.ENAMETOOLONG else "unreadable") for e in errors]
        return sorted(units, key=lambda u: u.uri)

    def _file_unit(self, i: int, spec: InputSpec, uri: str) -> Unit:
        if spec.kind == "repos":
            if not uri.endswith(TARBALL_SUFFIXES):
                raise PreflightError(f"input {spec.name!r}: {uri} is neither a folder, a git URL nor a tarball")
            return Unit(i, "tarball", uri, _repo_name(uri))
        return Unit(i, spec.kind, uri, None)

    def preflight(self) -> None:
        self._plan(discover=False)  # missing inputs fail here, before Ray starts (github: the token only)

    def check_yield(self, docs_by_source: dict[str, int], stats) -> None:
        """Every configured input must give documents: git URLs that all fail to clone, a WARC of
        non-HTML records or a folder of binaries would otherwise make a run that silently holds none."""
        empty = [spec.name for spec in self.config.inputs if not docs_by_source.get(spec.name)]
        if not empty:
            return
        reasons = ", ".join(f"{r}={n}" for r, n in stats.dropped.most_common(5)) or "nothing was read"
        message = f"input(s) {empty} yielded no documents (records dropped: {reasons}; see ingest/_dropped/)"
        if not self.config.allow_empty:
            raise EmptyOutputError(message + "; set allow_empty: true to accept an empty input")
        import logging

        logging.getLogger("corpus").warning(message)

    def input_fingerprint(self, units: list[Unit]) -> str:
        """Names plus what says their content changed: size and mtime of local files and folders'
        files, the version of an installed distribution (remote objects: their names only)."""
        import hashlib
        import os
        from importlib import metadata

        h = hashlib.sha256()
        repo_bytes: dict[str, int] = {}
        self._repo_bytes = repo_bytes
        for u in units:
            h.update(repr(u).encode())
            if u.kind == "python_dist":
                try:
                    h.update(metadata.version(u.uri).encode())
                except metadata.PackageNotFoundError:
                    h.update(b"missing")
            elif u.kind == "local_repo":
                total = 0
                for dirpath, dirnames, filenames in walk(u.uri):  # iterative: deep trees do not recurse
                    dirnames[:] = sorted(d for d in dirnames if d != ".git")
                    for name in sorted(filenames):
                        try:
                            st = os.lstat(os.path.join(dirpath, name))
                        except OSError:
                            continue
                        total += st.st_size
                        h.update(f"{dirpath}/{name}:{st.st_size}:{st.st_mtime_ns}".encode("utf-8", "surrogateescape"))
                # Remembered for part_groups(): the walk already paid for the sizes.
                repo_bytes[u.uri] = total
            elif not is_remote(u.uri) and os.path.exists(u.uri):
                st = os.stat(u.uri)
                h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        return h.hexdigest()[:16]

    def limits(self) -> Limits:
        c = self.config
        return Limits(
            max_file_bytes=c.max_file_bytes, max_archive_bytes=c.max_archive_bytes, max_archive_members=c.max_archive_members,
            max_compression_ratio=c.max_compression_ratio, max_repo_files=c.max_repo_files, max_repo_bytes=c.max_repo_bytes,
        )

    def read(self, units: list[Unit]) -> Iterator[Doc | Drop]:
        extractor = HtmlExtractor(timeout_s=self.config.extract_timeout_s)
        limits = self.limits()
        for unit in units:
            items = self._read_unit(unit, extractor, limits)
            # A GitHub unit (a row group of repositories) handles its own errors: an API failure must fail
            # the task (and be retried), not drop 32 repositories.
            yield from items if unit.kind == "github" else _contained(items, unit, self.config.inputs[unit.input_index].name)

    def _read_unit(self, unit: Unit, extractor: HtmlExtractor, limits: Limits) -> Iterator[Doc | Drop]:
        spec = self.config.inputs[unit.input_index]
        common = {"source": spec.name, "domain": spec.domain}
        limit = self.config.max_file_bytes
        if unit.kind == "refused":
            shown = printable_path(unit.uri)
            shown = shown if not path_too_long(shown) else shown[:200] + "..."
            yield Drop(unit.reason or "unreadable", shown, spec.name, unit.repo, 0, f"{shown}: {REFUSED.get(unit.reason or '', unit.reason)}")
        elif unit.kind == "local_repo":
            yield from walk_local_repo(Path(unit.uri), repo=unit.repo, max_bytes=limit, limits=limits, **common)
        elif unit.kind == "git":
            # Clones go to the worker's own disk (OUT may be an object store); removed after reading.
            with tempfile.TemporaryDirectory(prefix="corpus-clone-") as tmp:
                yield from clone_git_repo(unit.uri, repo=unit.repo, max_bytes=limit, tmp_dir=Path(tmp), limits=limits, **common)
        elif unit.kind == "tarball":
            yield from read_tarball(unit.uri, repo=unit.repo, max_bytes=limit, limits=limits, **common)
        elif unit.kind == "python_dist":
            yield from read_python_distribution(unit.uri, max_bytes=limit, **common)
        elif unit.kind in ("warc", "wet"):
            yield from read_warc(unit.uri, extractor=extractor, max_ratio=limits.max_compression_ratio,
                                 ratio_min_bytes=limits.ratio_min_bytes, **common)
        elif unit.kind == "stack_parquet":
            yield from read_stack_parquet(unit.uri, max_bytes=limit, max_row_group_bytes=self.config.max_parquet_row_group_bytes, **common)
        elif unit.kind == "github":
            # The token is read from the worker's environment, never shipped in task arguments. Archives
            # from an archive host (archive_url) need none: workers without the variable still download.
            client = (gh.GitHubClient(spec.api_url, os.environ.get(spec.token_env), **self.github_client_kwargs) if spec.archive_url
                      else gh.client_from_env(spec.api_url, spec.token_env, **self.github_client_kwargs))
            repos_uri, _, group = unit.uri.rpartition("#")
            yield from gh.read_repos(client, repos_uri, int(group), max_bytes=limit, limits=limits, licenses=spec.licenses,
                                     archive_url=spec.archive_url, **common)
        else:  # pragma: no cover - plan() only makes the kinds above
            raise ValueError(f"unknown unit kind {unit.kind}")


def _contained(items: Iterator[Doc | Drop], unit: Unit, source: str) -> Iterator[Doc | Drop]:
    """A unit's records; an exception a reader did not turn into a drop itself (a decoder or parser
    raising on hostile bytes) ends that unit with one `read_error` drop naming it and the cause, and
    the task goes on with the next unit. What was read before is kept. Failures of the machine (disk
    full, out of memory) still fail the task (corpus.per_item)."""
    try:
        yield from items
    except Exception as exc:
        if is_environment_error(exc) or isinstance(exc, PreflightError):
            raise
        shown = printable_path(unit.uri)[:300]
        yield Drop("read_error", shown, source, unit.repo, 0, f"{shown}: reading stopped: {describe(exc)}")


REFUSED = {
    "symlink": "symbolic link, not followed",
    "unreadable": "cannot be listed or read",
    "path_too_long": "path over 4096 bytes",
    "not_a_repository": "neither a folder nor a tarball, in a folder of repositories",
    "not_a_file": "not a regular file",
}


def _refused(i: int, uri: str, reason: str) -> Unit:
    return Unit(i, "refused", uri, None, reason)


def _repo_folder_units(i: int, folder: Path) -> list[Unit]:
    """each_subdir: every entry of the folder is a repository (a sub-folder or a tarball) or a drop."""
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        return [_refused(i, str(folder), "path_too_long" if exc.errno == errno.ENAMETOOLONG else "unreadable")]
    units = []
    for e in entries:
        if e.name in SKIP_DIRS:
            continue
        if path_too_long(e.path):
            units.append(_refused(i, e.path, "path_too_long"))
        elif e.is_symlink():
            units.append(_refused(i, e.path, "symlink"))
        elif e.is_dir(follow_symlinks=False):
            units.append(Unit(i, "local_repo", str(Path(e.path).resolve()), printable_path(e.name)))
        elif e.is_file(follow_symlinks=False) and e.name.endswith(TARBALL_SUFFIXES):
            units.append(Unit(i, "tarball", e.path, _repo_name(e.path)))
        else:
            units.append(_refused(i, e.path, "not_a_repository"))
    return units


def _repo_name(uri: str) -> str:
    name = printable_path(uri.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])
    for suffix in (".git",) + TARBALL_SUFFIXES:
        name = name.removesuffix(suffix)
    return name or uri
