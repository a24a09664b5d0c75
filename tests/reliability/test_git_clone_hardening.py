"""Git inputs: a small repository with many files is counted from its tree before anything is checked
out, and only what `max_repo_files` allows is written to disk (main checked out every file first); git
runs with a minimal environment and its own settings, so the machine's git configuration cannot add
hooks or enable transports such as `ext::` (which runs a command)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from corpus.ingest import repos
from corpus.ingest.limits import Limits
from corpus.records import Doc, Drop

GIT = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]


def _upstream(tmp_path: Path, n_files: int) -> Path:
    src = tmp_path / "upstream"
    (src / "pkg").mkdir(parents=True)
    for i in range(n_files):
        (src / "pkg" / f"m{i:05d}.py").write_text(f"x = {i}\n")
    subprocess.run(["git", "init", "-q", str(src)], check=True)
    subprocess.run(GIT + ["-C", str(src), "add", "."], check=True)
    subprocess.run(GIT + ["-C", str(src), "commit", "-qm", "init", "--no-verify"], check=True)
    return src


def test_a_repository_over_max_repo_files_is_never_checked_out_whole(tmp_path: Path, monkeypatch) -> None:
    src = _upstream(tmp_path, 2000)
    on_disk = []
    real_walk = repos.walk_local_repo

    def counting_walk(root: Path, **kw):
        on_disk.append(sum(len(files) for folder, _, files in os.walk(root) if ".git" not in Path(folder).relative_to(root).parts))
        yield from real_walk(root, **kw)

    monkeypatch.setattr(repos, "walk_local_repo", counting_walk)
    items = list(repos.clone_git_repo(f"file://{src}", source="gh", domain="code", repo="upstream", max_bytes=10_000,
                                      tmp_dir=tmp_path / "work", limits=Limits(max_repo_files=50)))
    docs = [i for i in items if isinstance(i, Doc)]
    drops = [i for i in items if isinstance(i, Drop)]
    assert on_disk == [50], "only the files the limit allows were checked out"
    assert len(docs) == 50 and [d.reason for d in drops] == ["repo_limit"]
    assert "max_repo_files=50" in drops[0].detail and "2000 in its tree" in drops[0].detail


@pytest.fixture
def hostile_git_config(tmp_path: Path, monkeypatch) -> Path:
    """A machine whose global git configuration adds a post-checkout hook and allows `ext::`."""
    hooks = tmp_path / "global-hooks"
    hooks.mkdir()
    marker = tmp_path / "hook-ran"
    hook = hooks / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    config = tmp_path / "gitconfig"
    config.write_text(f"[core]\n\thooksPath = {hooks}\n[protocol \"ext\"]\n\tallow = always\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    return marker


def test_the_machines_git_config_cannot_add_hooks(tmp_path: Path, hostile_git_config: Path) -> None:
    src = _upstream(tmp_path, 3)
    items = list(repos.clone_git_repo(f"file://{src}", source="gh", domain="code", repo="upstream", max_bytes=10_000,
                                      tmp_dir=tmp_path / "work"))
    assert len([i for i in items if isinstance(i, Doc)]) == 3
    assert not hostile_git_config.exists(), "a hook from the global git config ran"


def test_transports_outside_the_allow_list_are_refused(tmp_path: Path, hostile_git_config: Path) -> None:
    pwned = tmp_path / "pwned"
    url = f"ext::sh -c touch% {pwned}% .git"
    items = list(repos.clone_git_repo(url, source="gh", domain="code", repo="x", max_bytes=10_000, tmp_dir=tmp_path / "work"))
    assert [i.reason for i in items] == ["clone_failed"]
    assert not pwned.exists(), "ext:: ran a command"
