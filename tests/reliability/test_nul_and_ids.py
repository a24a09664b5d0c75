"""NUL bytes anywhere make a file binary; ids are unique per (source, repo, path, occurrence)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from corpus.ingest.files import file_record
from corpus.records import Doc, Drop, doc_id


def test_nul_after_the_first_8_kib_is_binary() -> None:
    data = b"x = 1\n" * 5000 + b"\0" + b"y = 2\n"
    item = file_record(data, source="gh", domain="code", repo="r", path="late.py")
    assert isinstance(item, Drop) and item.reason == "binary" and "r/late.py" in item.detail and "30000" in item.detail
    assert isinstance(file_record(b"x = 1\n" * 5000, source="gh", domain="code", repo="r", path="ok.py"), Doc)


def test_repeated_tar_member_names_give_distinct_ids(tmp_path: Path, run_ingest) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for body in (b"v = 1\n", b"v = 2\n", b"v = 3\n"):  # tar -r appends a newer copy under the same name
            info = tarfile.TarInfo("p/same.py")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        late_nul = b"s = 'x'\n" * 2000 + b"\0"
        info = tarfile.TarInfo("p/late_nul.py")
        info.size = len(late_nul)
        tar.addfile(info, io.BytesIO(late_nul))
    archive = tmp_path / "dup.tar.gz"
    archive.write_bytes(buf.getvalue())
    r = run_ingest([{"name": "gh", "kind": "repos", "paths": [str(archive)]}])  # checks id uniqueness
    assert r.docs.column("text").to_pylist() == ["v = 1\n", "v = 2\n", "v = 3\n"]
    assert r.docs.column("id").to_pylist()[0] == doc_id("gh", "dup", "p/same.py")  # first copy: the plain id
    assert r.reasons() == {"binary": 1}
