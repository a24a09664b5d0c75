"""`corpus decont` reads a folder as ingest reads a repository: the same files refused for the same reasons."""

from __future__ import annotations

import os
from pathlib import Path

from corpus.commands.decont.inputs import plan_inputs, read_chunk
from corpus.ingest.repos import walk_local_repo
from corpus.records import Doc, Drop


def _hostile_tree(root: Path) -> Path:
    repo = root / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "ok.py").write_text("def f():\n    return 1\n")
    # A NUL far past the first 8 KB: still a binary (the old reader sniffed only the head).
    (repo / "pkg" / "blob.dat").write_bytes(b"x = 1\n" * 4000 + b"\0tail")
    (repo / "latin1.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    (repo / "evil\nname.py").write_text("print('hi')\n")  # a control character in the name
    fd = os.open(os.fsencode(repo) + b"/bad\xffname.py", os.O_WRONLY | os.O_CREAT, 0o644)  # name not UTF-8
    os.write(fd, b"x = 2\n")
    os.close(fd)
    (repo / "empty.py").write_bytes(b"")
    (repo / "link.py").symlink_to(repo / "pkg" / "ok.py")
    (repo / "linkdir").symlink_to(repo / "pkg", target_is_directory=True)
    (repo / ".git").mkdir()
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return repo


def _decont_view(repo: Path) -> tuple[set[str], dict[str, str]]:
    chunks, problems = plan_inputs([str(repo)])
    assert problems == []
    scanned, skipped = set(), {}
    for chunk in chunks:
        for rec in read_chunk(chunk):
            if rec["text"] is None:
                skipped[rec["path"]] = rec["skip_reason"]
            else:
                scanned.add(rec["path"])
    return scanned, skipped


def test_decont_skips_what_ingest_skips_for_the_same_reason(tmp_path: Path) -> None:
    repo = _hostile_tree(tmp_path)
    items = list(walk_local_repo(repo, source="github", domain="code", repo="repo", max_bytes=1 << 20))
    ingest_docs = {d.path for d in items if isinstance(d, Doc)}
    ingest_drops = {d.path: d.reason for d in items if isinstance(d, Drop)}

    scanned, skipped = _decont_view(repo)

    assert scanned == ingest_docs == {"pkg/ok.py"}
    assert skipped == ingest_drops
    assert set(skipped.values()) == {"binary", "bad_encoding", "hostile_path", "bad_path_encoding", "empty", "symlink"}
    assert skipped["pkg/blob.dat"] == "binary" and skipped["evil\nname.py"] == "hostile_path"


def test_decont_skips_files_over_the_size_cap_as_ingest_does(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    (repo / "big.py").write_text("y = 2\n" * 1000)
    (chunk,) = plan_inputs([str(repo)])[0]
    (rec,) = read_chunk(chunk, max_file_bytes=100)
    (drop,) = walk_local_repo(repo, source="local", domain="code", repo="r", max_bytes=100)
    assert rec["skip_reason"] == drop.reason == "too_large"
