"""Hostile inputs that already held, kept as tests so they keep holding: deep nesting, devices and
FIFOs, binaries, bad encodings, huge lines, traversal names, git hooks, a truncated WARC."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import tarfile
from pathlib import Path

from corpus.ingest.kinds import make_input
from corpus.stages.ingest import IngestConfig, IngestStage


def _deep(root: Path, levels: int) -> None:
    fd = os.open(root, os.O_RDONLY)
    for _ in range(levels):
        os.mkdir("a", dir_fd=fd)
        nfd = os.open("a", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    w = os.open("bottom.py", os.O_WRONLY | os.O_CREAT, dir_fd=fd)
    os.write(w, b"depth = 1500\n")
    os.close(w)
    os.close(fd)


def test_deep_nesting_is_walked_without_recursion(tmp_path: Path, run_ingest) -> None:
    """1,500 nested folders: os.walk (recursive in Python 3.11) raised RecursionError here."""
    repo = tmp_path / "repos" / "deep"
    repo.mkdir(parents=True)
    _deep(repo, 1500)
    spec = {"name": "gh", "kind": "repos", "paths": [str(tmp_path / "repos")], "each_subdir": True}
    try:
        stage = IngestStage(IngestConfig(inputs=[make_input(**spec)]))
        stage.input_fingerprint(stage.plan())  # the driver walks the tree too
        r = run_ingest([spec])
        assert r.docs.column("path").to_pylist() == ["a/" * 1500 + "bottom.py"]
    finally:
        # shutil.rmtree (pytest's tmp_path cleanup) recurses per level too and would fail on it.
        subprocess.run(["rm", "-rf", str(repo)], check=True)


def test_devices_fifos_binaries_encodings_huge_lines(tmp_path: Path, run_ingest) -> None:
    repo = tmp_path / "repos" / "r"
    repo.mkdir(parents=True)
    os.mkfifo(repo / "pipe")  # opening it would block the worker forever
    (repo / "zero").symlink_to("/dev/zero")
    (repo / "blob.bin").write_bytes(bytes(range(256)) * 10)
    (repo / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    (repo / "one_line.js").write_text("var x=" + "1+" * 400_000 + "1;\n")  # 800 KB on one line
    (repo / "ok.py").write_text("print('ok')\n")
    r = run_ingest([{"name": "gh", "kind": "repos", "paths": [str(tmp_path / "repos")], "each_subdir": True}])
    assert sorted(r.docs.column("path").to_pylist()) == ["ok.py", "one_line.js"]  # long lines are the filter's job
    assert r.reasons() == {"not_a_file": 1, "symlink": 1, "binary": 1, "bad_encoding": 1}


def test_traversal_names_never_write_outside(tmp_path: Path, run_ingest) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in ("../../escape.py", "/tmp/abs.py", "ok/../../x.py", "ok/fine.py"):
            info = tarfile.TarInfo(name)
            info.size = 6
            tar.addfile(info, io.BytesIO(b"x = 1\n"))
    archive = tmp_path / "trav.tar.gz"
    archive.write_bytes(buf.getvalue())
    before = set(os.listdir(tmp_path.parent))
    r = run_ingest([{"name": "gh", "kind": "repos", "paths": [str(archive)]}])
    assert r.docs.column("path").to_pylist() == ["ok/fine.py"] and r.reasons() == {"hostile_path": 3}
    assert set(os.listdir(tmp_path.parent)) == before and not Path("/tmp/abs.py").exists()


def test_git_hooks_of_a_cloned_repository_never_run(tmp_path: Path, run_ingest) -> None:
    src = tmp_path / "upstream"
    src.mkdir()
    (src / "lib.rs").write_text("fn main() {}\n")
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-C", str(src)]
    subprocess.run(["git", "init", "-q", str(src)], check=True)
    marker = tmp_path / "hook_ran"
    for hook in ("post-checkout", "post-merge", "pre-commit"):
        h = src / ".git" / "hooks" / hook
        h.write_text(f"#!/bin/sh\ntouch {marker}\n")
        h.chmod(0o755)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "init", "--no-verify"], check=True)
    r = run_ingest([{"name": "gh", "kind": "repos", "paths": [f"file://{src}"]}])
    assert r.docs.column("path").to_pylist() == ["lib.rs"]
    assert not marker.exists()


def test_truncated_warc_keeps_what_came_before(tmp_path: Path, shared_dir: Path, run_ingest) -> None:
    data = gzip.decompress((shared_dir / "web" / "dolma_sample-0000.warc.gz").read_bytes())
    path = tmp_path / "cut.warc"
    path.write_bytes(data[: len(data) * 2 // 3])
    r = run_ingest([{"name": "web", "kind": "warc", "domain": "text", "paths": [str(path)]}])
    assert r.stats.kept > 0
    assert r.reasons().get("malformed_record") == 1 and "truncated" in r.details("malformed_record")[0]
