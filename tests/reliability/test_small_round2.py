"""Smaller round-2 faults: one path rule for folders and archives (a file name holding a newline is a
`hostile_path` drop in both; the folder reader kept it), and a store error at the run's first touch of
its output (wrong credentials) names the URI."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from corpus import storage
from corpus.engine.fatal import one_line
from corpus.engine.lock import acquire


def test_a_newline_in_a_file_name_is_refused_by_folder_and_tar_readers_alike(tmp_path: Path, run_ingest) -> None:
    repo = tmp_path / "repos" / "r"
    repo.mkdir(parents=True)
    (repo / "evil\nname.py").write_text("x = 1\n")
    (repo / "ok.py").write_text("y = 2\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in ("evil\nname.py", "ok.py"):
            info = tarfile.TarInfo(name)
            info.size = 6
            tar.addfile(info, io.BytesIO(b"x = 1\n"))
    (tmp_path / "repos" / "t.tar.gz").write_bytes(buf.getvalue())
    r = run_ingest([{"name": "gh", "kind": "repos", "paths": [str(tmp_path / "repos")], "each_subdir": True}])
    assert sorted(r.docs.column("path").to_pylist()) == ["ok.py", "ok.py"]
    assert r.reasons() == {"hostile_path": 2}


def test_wrong_credentials_at_the_lock_name_the_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(uri: str) -> None:  # what s3fs raises for InvalidAccessKeyId: no errno, no file name
        raise PermissionError("The AWS Access Key Id you provided does not exist in our records.")

    monkeypatch.setattr(storage, "makedirs", denied)
    out = str(tmp_path / "out")
    with pytest.raises(PermissionError) as exc:
        acquire(out)
    assert one_line(exc.value) == (f"cannot write {out}/_RUN_LOCK.json: The AWS Access Key Id you provided does not exist "
                                   "in our records.")


def test_every_leading_byte_order_mark_is_removed() -> None:
    """Found by the fuzz test: a file starting with two BOMs kept one in its text."""
    from corpus.ingest.files import file_record

    item = file_record(b"\xef\xbb\xbf\xef\xbb\xbfx = 1\n", source="s", domain="code", repo="r", path="a.py")
    assert item.text == "x = 1\n"
