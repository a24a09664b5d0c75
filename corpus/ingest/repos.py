"""Repository readers: a local folder, a git URL (shallow clone), a tarball, an installed Python
distribution. Each yields one Doc per readable file and one Drop per refused file or archive."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from importlib import metadata
from pathlib import Path
from typing import Iterator

from corpus.ingest.files import file_record, has_bad_encoding, is_hostile_path, printable_path
from corpus.io import open_uri
from corpus.records import Doc, Drop

SKIP_DIRS = {".git", ".hg", ".svn"}


def walk_local_repo(root: Path, *, source: str, domain: str, repo: str, max_bytes: int) -> Iterator[Doc | Drop]:
    """Every file under root, in sorted order; symlinks are never followed (they may point outside)."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            if has_bad_encoding(rel):
                shown = printable_path(rel)
                yield Drop("bad_path_encoding", shown, source, repo, 0, f"{repo}/{shown}: file name is not valid UTF-8")
                continue
            yield read_local_file(full, rel, source=source, domain=domain, repo=repo, max_bytes=max_bytes)


def read_local_file(full: Path, rel: str, *, source: str, domain: str, repo: str, max_bytes: int) -> Doc | Drop:
    try:
        if full.is_symlink():
            return Drop("symlink", rel, source, repo, 0, f"{repo}/{rel}: symbolic link, not followed")
        size = full.stat().st_size
        if size > max_bytes:
            return Drop("too_large", rel, source, repo, size, f"{repo}/{rel}: {size} bytes > max_file_bytes {max_bytes}")
        if not full.is_file():
            return Drop("not_a_file", rel, source, repo, 0, f"{repo}/{rel}: not a regular file")
        data = full.read_bytes()
    except OSError as exc:
        return Drop("unreadable", rel, source, repo, 0, f"{repo}/{rel}: {exc}")
    return file_record(data, source=source, domain=domain, repo=repo, path=rel)


def read_tarball(uri: str, *, source: str, domain: str, repo: str, max_bytes: int) -> Iterator[Doc | Drop]:
    """Members are read in memory, never extracted, so hostile names cannot write anywhere."""
    try:
        with open_uri(uri, "rb") as fh, tarfile.open(fileobj=fh, mode="r|*") as tar:
            for member in tar:
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
                if member.issym() or member.islnk():
                    yield Drop("symlink", rel, source, repo, 0, f"{uri}: {rel} is a link, not followed")
                    continue
                if not member.isfile():
                    yield Drop("not_a_file", rel, source, repo, 0, f"{uri}: {rel} is not a regular file")
                    continue
                if member.size > max_bytes:
                    yield Drop("too_large", rel, source, repo, member.size, f"{uri}: {rel}: {member.size} bytes > {max_bytes}")
                    continue
                extracted = tar.extractfile(member)
                data = extracted.read() if extracted else b""
                yield file_record(data, source=source, domain=domain, repo=repo, path=rel)
            # Damage can look like an early end-of-archive block: read the compressed stream to its
            # end so a broken deflate stream or CRC is reported instead of members vanishing silently.
            while tar.fileobj.read(1 << 20):
                pass
    except Exception as exc:  # noqa: BLE001 - tarfile, gzip, zlib and lzma each raise their own types
        # Whatever was read before the damage is kept; the archive itself is counted as one refusal.
        yield Drop("corrupt_archive", uri, source, repo, 0, f"{uri}: {type(exc).__name__}: {exc}")


def clone_git_repo(url: str, *, source: str, domain: str, repo: str, max_bytes: int, tmp_dir: Path, timeout_s: int = 600) -> Iterator[Doc | Drop]:
    """Shallow clone into the run's temporary folder (inside OUT), read, then delete."""
    dest = tmp_dir / hashlib.sha1(url.encode()).hexdigest()[:16]
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        subprocess.run(
            ["git", "clone", "--depth", "1", "--quiet", "--no-tags", "--", url, str(dest)],
            check=True,
            capture_output=True,
            timeout=timeout_s,
            env=env,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        yield Drop("clone_failed", url, source, repo, 0, f"{url}: git clone failed: {err.decode(errors='replace').strip() or exc}")
        shutil.rmtree(dest, ignore_errors=True)
        return
    try:
        yield from walk_local_repo(dest, source=source, domain=domain, repo=repo, max_bytes=max_bytes)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


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
