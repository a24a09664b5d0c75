"""Discovery never follows a symbolic link (sub-folders, globs, files) and counts every entry it
meets: links, unreadable folders and paths over 4,096 bytes are drops, never silently skipped."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest


def _tarball(path: Path) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("t/main.c")
        data = b"int main(void) { return 0; }\n"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return path


def _deep_file(root: Path) -> None:
    """A file whose path is over 4,096 bytes (built with directory fds: the path cannot be opened whole)."""
    fd = os.open(root, os.O_RDONLY)
    for i in range(18):
        name = f"{i:02d}" + "d" * 240
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    wfd = os.open("deep.py", os.O_WRONLY | os.O_CREAT, dir_fd=fd)
    os.write(wfd, b"x = 1\n")
    os.close(wfd)
    os.close(fd)


@pytest.fixture
def repos(tmp_path: Path) -> Path:
    root = tmp_path / "repos"
    real = root / "real"
    (real / "src").mkdir(parents=True)
    (real / "src" / "a.py").write_text("print('a')\n")
    (real / "libs").symlink_to("/usr/lib", target_is_directory=True)  # a link to a folder inside a repo
    (real / "passwd").symlink_to("/etc/passwd")
    (root / "etc").symlink_to("/etc", target_is_directory=True)  # a link to a folder among the repos
    (root / "notes.txt").write_text("not a repository\n")
    _tarball(root / "t.tar.gz")
    return root


def test_each_subdir_never_follows_a_linked_folder(repos: Path, run_ingest) -> None:
    r = run_ingest([{"name": "gh", "kind": "repos", "paths": [str(repos)], "each_subdir": True}])
    assert sorted(zip(r.docs.column("repo").to_pylist(), r.docs.column("path").to_pylist())) == [("real", "src/a.py"), ("t", "t/main.c")]
    assert r.reasons() == {"symlink": 3, "not_a_repository": 1}
    symlink_paths = {p for p, why in zip(r.drops.column("path").to_pylist(), r.drops.column("reason").to_pylist()) if why == "symlink"}
    assert symlink_paths == {str(repos / "etc"), "libs", "passwd"}
    assert not any("/etc/" in p for p in r.docs.column("path").to_pylist())


def test_globs_never_follow_links(tmp_path: Path, run_ingest) -> None:
    tars = tmp_path / "tars"
    tars.mkdir()
    _tarball(tars / "real.tar.gz")
    elsewhere = _tarball(tmp_path / "elsewhere.tar.gz")
    (tars / "link.tar.gz").symlink_to(elsewhere)
    (tars / "dangling.tar.gz").symlink_to(tmp_path / "missing.tar.gz")
    r = run_ingest([{"name": "gh", "kind": "repos", "paths": [str(tars / "*.tar.gz")]}])
    assert r.docs.column("repo").to_pylist() == ["real"]
    assert r.reasons() == {"symlink": 2}


def test_input_folder_walk_counts_links_and_long_paths(tmp_path: Path, run_ingest, shared_dir: Path) -> None:
    web = tmp_path / "web"
    web.mkdir()
    (web / "a.warc.gz").write_bytes((shared_dir / "web" / "dolma_sample-0000.warc.gz").read_bytes())
    (web / "b.warc.gz").symlink_to(shared_dir / "web" / "dolma_sample-0001.warc.gz")
    (web / "linked").symlink_to(shared_dir / "web", target_is_directory=True)
    r = run_ingest([{"name": "web", "kind": "warc", "domain": "text", "paths": [str(web)]}], allow_empty=True)
    assert r.reasons()["symlink"] == 2
    assert set(r.drops.filter(r.drops.column("reason").to_numpy(zero_copy_only=False) == "symlink").column("path").to_pylist()) == {
        str(web / "b.warc.gz"), str(web / "linked")}


def test_path_over_4096_bytes_is_counted(tmp_path: Path, run_ingest) -> None:
    repo = tmp_path / "repos" / "deep"
    repo.mkdir(parents=True)
    (repo / "ok.py").write_text("x = 0\n")
    _deep_file(repo)
    r = run_ingest([{"name": "gh", "kind": "repos", "paths": [str(tmp_path / "repos")], "each_subdir": True}])
    assert r.docs.column("path").to_pylist() == ["ok.py"]
    assert r.reasons() == {"path_too_long": 1}
    assert "4096" in r.details("path_too_long")[0]


def test_unreadable_folder_is_counted(tmp_path: Path, run_ingest, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repos" / "r"
    (repo / "secret").mkdir(parents=True)
    (repo / "secret" / "key.py").write_text("k = 1\n")
    (repo / "a.py").write_text("a = 1\n")
    if os.geteuid() == 0:
        # root reads any folder: make listing this one fail the way EACCES does.
        real_scandir = os.scandir

        def scandir(path=".", *a, **k):
            if str(path).endswith("secret"):
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path, *a, **k)

        monkeypatch.setattr(os, "scandir", scandir)
    else:
        (repo / "secret").chmod(0)
    try:
        r = run_ingest([{"name": "gh", "kind": "repos", "paths": [str(tmp_path / "repos")], "each_subdir": True}])
    finally:
        (repo / "secret").chmod(0o755)
    assert r.docs.column("path").to_pylist() == ["a.py"]
    assert r.reasons() == {"unreadable": 1}
    assert "r/secret" in r.details("unreadable")[0]
