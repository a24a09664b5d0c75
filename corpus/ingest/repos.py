"""Repository readers: a local folder, a git URL (shallow clone), a tarball, an installed Python
distribution. Each yields one Doc per readable file and one Drop per refused file, folder or archive;
every entry met is one or the other (symbolic links are never followed, not even to folders)."""

from __future__ import annotations

import bz2
import errno
import gzip
import hashlib
import lzma
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import IO

from corpus.ingest.files import (
    Occurrences,
    file_record,
    has_bad_encoding,
    is_hostile_path,
    path_too_long,
    printable_path,
)
from corpus.ingest.limits import CountingReader, Limits, RepoBudget
from corpus.ingest.walk import walk
from corpus.records import Doc, Drop
from corpus.storage import open_raw

SKIP_DIRS = {".git", ".hg", ".svn"}


def _limits(max_bytes: int, limits: Limits | None) -> Limits:
    return limits if limits is not None else Limits(max_file_bytes=max_bytes)


def walk_local_repo(
    root: Path, *, source: str, domain: str, repo: str, max_bytes: int, limits: Limits | None = None
) -> Iterator[Doc | Drop]:
    """Every entry under root, in sorted order. Symlinks (to files or folders) are refused, never
    followed (they may point outside); a folder that cannot be listed is one `unreadable` drop."""
    limits = _limits(max_bytes, limits)
    budget = RepoBudget(limits)
    errors: list[OSError] = []
    for dirpath, dirnames, filenames in walk(root, onerror=errors.append):
        yield from _walk_errors(errors, root, source, repo)
        kept_dirs = []
        for d in sorted(dirnames):
            if d in SKIP_DIRS:
                continue
            if os.path.islink(os.path.join(dirpath, d)):
                # os.walk lists a link to a folder among the folders and then silently skips it.
                rel = printable_path((Path(dirpath) / d).relative_to(root).as_posix())
                yield Drop("symlink", rel, source, repo, 0, f"{repo}/{rel}: symbolic link to a folder, not followed")
                continue
            kept_dirs.append(d)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            refusal = path_drop(full, rel, source=source, repo=repo)
            if refusal is not None:
                yield refusal
                continue
            item = read_local_file(full, rel, source=source, domain=domain, repo=repo, max_bytes=limits.max_file_bytes)
            exceeded = budget.take(item.size if isinstance(item, Drop) else len(item.text.encode("utf-8", "surrogatepass")))
            if exceeded:
                yield Drop("repo_limit", str(root), source, repo, 0, f"{repo} ({root}): {exceeded}; the rest of the repository is not read")
                return
            yield item
    yield from _walk_errors(errors, root, source, repo)


def _walk_errors(errors: list[OSError], root: Path, source: str, repo: str) -> Iterator[Drop]:
    for exc in errors:
        where = printable_path(str(exc.filename or root))
        try:
            rel = Path(where).relative_to(root).as_posix()
        except ValueError:
            rel = where
        if exc.errno == errno.ENAMETOOLONG or path_too_long(where):
            yield Drop("path_too_long", rel[:200] + "...", source, repo, 0, f"{repo}/{rel[:200]}...: folder path over 4096 bytes, not listed")
        else:
            yield Drop("unreadable", rel, source, repo, 0, f"{repo}/{rel}: folder cannot be listed: {exc.strerror or exc}")
    errors.clear()


def path_drop(full: Path, rel: str, *, source: str, repo: str) -> Drop | None:
    """The refusal of a walked file for its name alone (not UTF-8, too long, control characters), or None.
    `corpus decont` applies it too, so both refuse the same files."""
    if has_bad_encoding(rel):
        shown = printable_path(rel)
        return Drop("bad_path_encoding", shown, source, repo, 0, f"{repo}/{shown}: file name is not valid UTF-8")
    if path_too_long(str(full)):
        return Drop("path_too_long", rel[:200] + "...", source, repo, 0, f"{repo}/{rel[:200]}...: path over 4096 bytes")
    if is_hostile_path(rel):  # a newline or other control character: the rule the archive readers apply
        return Drop("hostile_path", rel, source, repo, 0, f"{repo}/{rel!r}: unsafe path (control character)")
    return None


def read_local_file(full: Path, rel: str, *, source: str, domain: str, repo: str, max_bytes: int) -> Doc | Drop:
    try:
        if full.is_symlink():
            return Drop("symlink", rel, source, repo, 0, f"{repo}/{rel}: symbolic link, not followed")
        size = full.stat().st_size
        if size > max_bytes:
            return Drop("too_large", rel, source, repo, size, f"{repo}/{rel}: {size} bytes > max_file_bytes {max_bytes}")
        if not full.is_file():
            return Drop("not_a_file", rel, source, repo, 0, f"{repo}/{rel}: not a regular file")
        # O_NOFOLLOW: a file swapped for a link between the check above and the open is refused too.
        fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(max_bytes + 1)  # a file that grew since stat() cannot exceed the cap
        if len(data) > max_bytes:
            return Drop("too_large", rel, source, repo, len(data), f"{repo}/{rel}: over max_file_bytes {max_bytes}")
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Drop("symlink", rel, source, repo, 0, f"{repo}/{rel}: symbolic link, not followed")
        if exc.errno == errno.ENAMETOOLONG:
            return Drop("path_too_long", rel, source, repo, 0, f"{repo}/{rel}: path too long to open")
        return Drop("unreadable", rel, source, repo, 0, f"{repo}/{rel}: {exc}")
    return file_record(data, source=source, domain=domain, repo=repo, path=rel)


def _open_raw(uri: str) -> CountingReader:
    """The archive's bytes as stored (no decompression by extension), counted for the ratio limit."""
    return CountingReader(open_raw(uri))


def _decompressor(uri: str, raw: CountingReader) -> IO[bytes]:
    """Decompression by extension with the library's own integrity checks (gzip CRC and length):
    tarfile's built-in stream mode skips the CRC, so a damaged member would pass as garbage text."""
    name = uri.lower()
    if name.endswith((".gz", ".tgz")):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if name.endswith(".bz2"):
        return bz2.BZ2File(raw)  # type: ignore[arg-type]
    if name.endswith(".xz"):
        return lzma.LZMAFile(raw)  # type: ignore[arg-type]
    if name.endswith(".zst"):
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw)
    return raw  # type: ignore[return-value]


def read_tarball(
    uri: str, *, source: str, domain: str, repo: str, max_bytes: int, limits: Limits | None = None
) -> Iterator[Doc | Drop]:
    """Members are read in memory one at a time, never extracted, so hostile names cannot write
    anywhere and a worker holds at most one member (<= max_file_bytes) of the archive at once.
    Expanded bytes, member count, compression ratio and the repository limits stop an archive bomb
    after a bounded amount of decompression."""
    limits = _limits(max_bytes, limits)
    budget = RepoBudget(limits)
    ids = Occurrences()
    members = 0

    def over_limit(tar: tarfile.TarFile, raw: CountingReader) -> str | None:
        expanded = tar.offset  # end of the current member's data in the expanded stream, before reading it
        if expanded > limits.max_archive_bytes:
            return f"expands past max_archive_bytes={limits.max_archive_bytes}"
        if members > limits.max_archive_members:
            return f"more than max_archive_members={limits.max_archive_members} members"
        if expanded > limits.ratio_min_bytes and expanded > limits.max_compression_ratio * max(raw.count, 1):
            return f"compression ratio over {limits.max_compression_ratio:g} ({expanded} bytes from {raw.count})"
        return None

    def limit_drop(why: str) -> Drop:
        return Drop("archive_limit", uri, source, repo, 0, f"{uri}: archive limit: {why}, after {members} members; the rest is not read")

    try:
        raw = _open_raw(uri)
        with raw:
            stream = _decompressor(uri, raw)
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for member in tar:
                    members += 1
                    why = over_limit(tar, raw)
                    if why:
                        yield limit_drop(why)
                        return
                    name = member.name
                    if member.isdir():
                        continue
                    if has_bad_encoding(name):
                        shown = printable_path(name)
                        yield Drop("bad_path_encoding", shown, source, repo, member.size, f"{uri}: member {shown!r}: name is not valid UTF-8")
                        continue
                    if is_hostile_path(name):
                        yield Drop("hostile_path", name, source, repo, member.size, f"{uri}: member {name!r} has an unsafe path")
                        continue
                    rel = name.removeprefix("./")
                    if path_too_long(rel):
                        yield Drop("path_too_long", rel[:200] + "...", source, repo, 0, f"{uri}: member {rel[:200]}...: path over 4096 bytes")
                        continue
                    if member.issym() or member.islnk():
                        yield Drop("symlink", rel, source, repo, 0, f"{uri}: {rel} is a link, not followed")
                        continue
                    if not member.isfile():
                        yield Drop("not_a_file", rel, source, repo, 0, f"{uri}: {rel} is not a regular file")
                        continue
                    exceeded = budget.take(member.size)
                    if exceeded:
                        yield Drop("repo_limit", uri, source, repo, 0, f"{uri}: {exceeded}; the rest of the archive is not read")
                        return
                    if member.size > limits.max_file_bytes:
                        yield Drop("too_large", rel, source, repo, member.size, f"{uri}: {rel}: {member.size} bytes > {limits.max_file_bytes}")
                        continue
                    extracted = tar.extractfile(member)
                    data = extracted.read() if extracted else b""
                    yield file_record(data, source=source, domain=domain, repo=repo, path=rel, doc_id_=ids.id_for(source, repo, rel))
                # Damage can look like an early end-of-archive block: read the compressed stream to its
                # end so a broken deflate stream or CRC is reported instead of members vanishing silently.
                # Bounded like the members: a bomb can hide behind the end-of-archive marker.
                drained = tar.offset
                while chunk := tar.fileobj.read(1 << 20):
                    drained += len(chunk)
                    if drained > limits.max_archive_bytes or (
                        drained > limits.ratio_min_bytes and drained > limits.max_compression_ratio * max(raw.count, 1)
                    ):
                        yield limit_drop(f"{drained} bytes after the end-of-archive marker from {raw.count} stored")
                        return
    except Exception as exc:  # noqa: BLE001 - tarfile, gzip, zlib and lzma each raise their own types
        # Whatever was read before the damage is kept; the archive itself is counted as one refusal.
        yield Drop("corrupt_archive", uri, source, repo, 0, f"{uri}: {type(exc).__name__}: {exc}")


# Transports a repository may be cloned over; everything else (ext::, fd::, remote helpers) is refused
# whatever the machine's git configuration says.
GIT_PROTOCOLS = ("https", "http", "ssh", "git", "file")
# Variables a clone may need from the caller's environment (proxies, an ssh agent); nothing else passes.
_GIT_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "SSH_AUTH_SOCK", "http_proxy", "https_proxy", "no_proxy",
                 "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "GIT_SSL_CAINFO", "SSL_CERT_FILE", "SSL_CERT_DIR")


def _git_env(home: Path) -> dict[str, str]:
    """A minimal environment: no user or system git configuration, no prompts, an empty HOME."""
    env = {k: os.environ[k] for k in _GIT_ENV_KEEP if k in os.environ}
    env.update({"HOME": str(home), "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
                "GIT_ASKPASS": "", "SSH_ASKPASS": "", "GIT_LITERAL_PATHSPECS": "1"})
    env.setdefault("PATH", os.defpath)
    return env


def _git(hooks: Path) -> list[str]:
    """`git` with the settings every call here uses: hooks from an empty folder, transports allow-listed."""
    cmd = ["git", "-c", f"core.hooksPath={hooks}", "-c", "protocol.allow=never", "-c", "core.fsmonitor=false"]
    for proto in GIT_PROTOCOLS:
        cmd += ["-c", f"protocol.{proto}.allow=always"]
    return cmd


def _tree_files(git: list[str], dest: Path, env: dict[str, str], timeout_s: int) -> list[tuple[str, int]]:
    """(path, size) of every file of HEAD's tree, in git's order, without checking anything out."""
    out = subprocess.run(git + ["-C", str(dest), "ls-tree", "-r", "-l", "-z", "--full-tree", "HEAD"],
                         check=True, capture_output=True, timeout=timeout_s, env=env).stdout
    files = []
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        fields = meta.split()
        if len(fields) < 4 or fields[1] != b"blob":  # submodules (commit entries) are not files here
            continue
        size = int(fields[3]) if fields[3].isdigit() else 0
        files.append((os.fsdecode(path), size))
    return files


def clone_git_repo(
    url: str, *, source: str, domain: str, repo: str, max_bytes: int, tmp_dir: Path, timeout_s: int = 600, limits: Limits | None = None
) -> Iterator[Doc | Drop]:
    """Shallow clone without a checkout, count the tree against the repository limits, then check out
    only what the limits allow (a tiny repository of 100,000 files is never written out whole); read,
    then delete. git runs with a minimal environment, no user or system configuration, an empty hooks
    folder and only the GIT_PROTOCOLS transports."""
    limits = _limits(max_bytes, limits)
    dest = tmp_dir / hashlib.sha1(url.encode()).hexdigest()[:16]
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    home = dest.with_name(dest.name + "-home")  # git's HOME: empty, removed with the clone
    hooks = home / "no-hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    env, git = _git_env(home), _git(hooks)
    cut: str | None = None
    try:
        subprocess.run(git + ["clone", "--depth", "1", "--no-checkout", "--quiet", "--no-tags", "--", url, str(dest)],
                       check=True, capture_output=True, timeout=timeout_s, env=env)
        files = _tree_files(git, dest, env, timeout_s)
        keep, total = [], 0
        for path, size in files:
            if len(keep) + 1 > limits.max_repo_files:
                cut = f"more than max_repo_files={limits.max_repo_files} files ({len(files)} in its tree)"
                break
            if total + size > limits.max_repo_bytes:
                cut = f"more than max_repo_bytes={limits.max_repo_bytes} bytes of files"
                break
            keep.append(path)
            total += size
        if keep:
            subprocess.run(git + ["-C", str(dest), "checkout", "--quiet", "HEAD", "--pathspec-from-file=-", "--pathspec-file-nul"],
                           input=b"\0".join(os.fsencode(p) for p in keep), check=True, capture_output=True, timeout=timeout_s, env=env)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        yield Drop("clone_failed", url, source, repo, 0, f"{url}: git clone failed: {err.decode(errors='replace').strip() or exc}")
        shutil.rmtree(dest, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
        return
    try:
        yield from walk_local_repo(dest, source=source, domain=domain, repo=repo, max_bytes=max_bytes, limits=limits)
        if cut:
            yield Drop("repo_limit", url, source, repo, 0, f"{repo} ({url}): {cut}; the rest of the repository is not read")
    finally:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


def read_python_distribution(dist_name: str, *, source: str, domain: str, max_bytes: int) -> Iterator[Doc | Drop]:
    """The files an installed distribution put in site-packages (its RECORD), as one repository."""
    repo = f"pypi/{dist_name}"
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        yield Drop("missing_input", dist_name, source, repo, 0, f"Python distribution {dist_name!r} is not installed")
        return
    files = sorted((f for f in (dist.files or []) if ".dist-info" not in str(f) and "__pycache__" not in str(f)), key=str)
    for f in files:
        rel = str(f)
        if is_hostile_path(rel):
            # RECORD entries like ../../bin/tool point outside site-packages: not part of the package tree.
            yield Drop("outside_package", rel, source, repo, 0, f"{repo}: RECORD entry {rel!r} points outside the package")
            continue
        yield read_local_file(Path(dist.locate_file(f)), rel, source=source, domain=domain, repo=repo, max_bytes=max_bytes)
