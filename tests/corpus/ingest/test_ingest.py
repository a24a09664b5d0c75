"""Ingest readers: every bad input is refused with a reason that names the file, nothing crashes."""

from __future__ import annotations

import gzip
import io
import subprocess
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus.ingest.files import is_hostile_path
from corpus.ingest.repos import clone_git_repo, read_python_distribution, read_tarball, walk_local_repo
from corpus.ingest.stack_parquet import read_stack_parquet
from corpus.ingest.web import read_warc
from corpus.records import Doc, Drop


def split(items):
    items = list(items)
    return [i for i in items if isinstance(i, Doc)], [i for i in items if isinstance(i, Drop)]


@pytest.fixture
def messy_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.py").write_text("def main():\n    return 1\n")
    (root / "bom.py").write_bytes("\ufeffx = 1\n".encode())
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0binary")
    (root / "latin1.c").write_bytes("/* caf\xe9 */".encode("latin-1"))
    (root / "empty.txt").write_bytes(b"")
    (root / "big.txt").write_text("a" * 5000)
    (root / "link.py").symlink_to("/etc/passwd")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return root


def test_local_repo_keeps_text_and_refuses_the_rest(messy_repo: Path) -> None:
    docs, drops = split(walk_local_repo(messy_repo, source="gh", domain="code", repo="r", max_bytes=1000))
    assert sorted(d.path for d in docs) == ["bom.py", "src/main.py"]
    assert next(d for d in docs if d.path == "bom.py").text == "x = 1\n"  # BOM removed
    reasons = {d.path: d.reason for d in drops}
    assert reasons == {"image.png": "binary", "latin1.c": "bad_encoding", "empty.txt": "empty", "big.txt": "too_large", "link.py": "symlink"}
    assert all("r/" in d.detail for d in drops)  # the error names the file


@pytest.mark.parametrize("path,hostile", [("a/b.py", False), ("../etc/passwd", True), ("/abs", True), ("a/../../x", True), ("C:\\x", True), ("ok\x00", True), ("", True)])
def test_hostile_paths(path: str, hostile: bool) -> None:
    assert is_hostile_path(path) is hostile


def _tar_bytes(members: dict[str, bytes], symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo(symlink)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/shadow"
            tar.addfile(info)
    return buf.getvalue()


def test_tarball_members_read_in_memory_hostile_names_refused(tmp_path: Path) -> None:
    archive = tmp_path / "proj.tar.gz"
    archive.write_bytes(_tar_bytes({"proj/a.py": b"print(1)\n", "../../evil.sh": b"rm -rf /\n", "/abs.py": b"x\n"}, symlink="proj/l"))
    docs, drops = split(read_tarball(str(archive), source="gh", domain="code", repo="proj", max_bytes=1000))
    assert [d.path for d in docs] == ["proj/a.py"]
    assert sorted(d.reason for d in drops) == ["hostile_path", "hostile_path", "symlink"]
    assert not (tmp_path.parent / "evil.sh").exists()


def test_corrupt_tarball_keeps_what_was_read_and_names_the_archive(tmp_path: Path) -> None:
    data = _tar_bytes({f"p/f{i}.py": (f"x = {i}\n" * 2000).encode() for i in range(5)})
    archive = tmp_path / "broken.tar.gz"
    archive.write_bytes(data[: len(data) // 2])
    docs, drops = split(read_tarball(str(archive), source="gh", domain="code", repo="broken", max_bytes=10**6))
    assert drops and drops[-1].reason == "corrupt_archive"
    assert str(archive) in drops[-1].detail
    assert len(docs) < 5


def test_git_clone_of_a_local_repository(tmp_path: Path) -> None:
    src = tmp_path / "upstream"
    src.mkdir()
    (src / "lib.rs").write_text("fn main() {}\n")
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", str(src)], check=True)
    subprocess.run(git + ["-C", str(src), "add", "."], check=True)
    subprocess.run(git + ["-C", str(src), "commit", "-qm", "init"], check=True)
    work = tmp_path / "work"
    docs, drops = split(clone_git_repo(f"file://{src}", source="gh", domain="code", repo="upstream", max_bytes=1000, tmp_dir=work))
    assert [d.path for d in docs] == ["lib.rs"] and not drops
    assert not any(work.iterdir())  # the clone is removed after reading
    docs, drops = split(clone_git_repo(f"file://{tmp_path}/nope", source="gh", domain="code", repo="x", max_bytes=1000, tmp_dir=work))
    assert not docs and drops[0].reason == "clone_failed"


def test_python_distribution_as_a_repository() -> None:
    docs, drops = split(read_python_distribution("warcio", source="gh", domain="code", max_bytes=10**6))
    assert any(d.path == "warcio/archiveiterator.py" for d in docs)
    assert all(d.repo == "pypi/warcio" for d in docs)
    _, missing = split(read_python_distribution("no-such-dist-xyz", source="gh", domain="code", max_bytes=1))
    assert missing[0].reason == "missing_input"


def test_stack_parquet_rows(tmp_path: Path) -> None:
    path = tmp_path / "stack.parquet"
    pq.write_table(pa.table({"content": ["int main() {}\n", "x" * 50, "ok\n"], "max_stars_repo_path": ["a.c", "big.txt", "../x"], "max_stars_repo_name": ["o/r", "o/r", "o/r"]}), path)
    docs, drops = split(read_stack_parquet(str(path), source="stack", domain="code", max_bytes=20))
    assert [d.path for d in docs] == ["a.c"] and docs[0].repo == "o/r"
    assert sorted(d.reason for d in drops) == ["hostile_path", "too_large"]
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    _, drops = split(read_stack_parquet(str(bad), source="stack", domain="code", max_bytes=20))
    assert drops[0].reason == "corrupt_archive" and str(bad) in drops[0].detail


def test_real_warc_files(shared_dir: Path) -> None:
    docs, drops = split(read_warc(str(shared_dir / "web" / "pywb_iana.warc.gz"), source="web", domain="text"))
    assert docs, "iana.org HTML pages give text"
    assert all(d.path.startswith("http") for d in docs)
    total = len(docs) + len(drops)
    assert total == 343  # every record is accounted for (shared/README: 343 records)
    assert {"warc_request"} <= {d.reason for d in drops}
    docs, _ = split(read_warc(str(shared_dir / "web" / "dolma_sample-0000.warc.gz"), source="web", domain="text"))
    assert len(docs) > 5


def test_malformed_warc_is_refused_with_its_name(tmp_path: Path, shared_dir: Path) -> None:
    good = gzip.decompress((shared_dir / "web" / "dolma_sample-0000.warc.gz").read_bytes())
    bad = tmp_path / "bad.warc"
    bad.write_bytes(good + b"this is not a WARC record\r\n\r\n" + b"\xff" * 100)
    docs, drops = split(read_warc(str(bad), source="web", domain="text"))
    assert docs, "records before the damage are kept"
    assert drops and drops[-1].reason == "malformed_record"
    assert str(bad) in drops[-1].detail
    garbage = tmp_path / "garbage.warc.gz"
    garbage.write_bytes(b"\x1f\x8b\x08 definitely not gzip")
    docs, drops = split(read_warc(str(garbage), source="web", domain="text"))
    assert not docs and drops[0].reason == "malformed_record"


def test_non_utf8_file_names_are_refused_not_fatal(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "ok.py").write_text("x = 1\n")
    with open(bytes(root) + b"/bad\xffname.py", "wb") as fh:
        fh.write(b"y = 2\n")
    docs, drops = split(walk_local_repo(root, source="gh", domain="code", repo="r", max_bytes=1000))
    assert [d.path for d in docs] == ["ok.py"]
    assert [d.reason for d in drops] == ["bad_path_encoding"]
    drops[0].path.encode("utf-8")  # storable in Parquet


def test_corrupted_gzip_stream_is_one_refusal(tmp_path: Path) -> None:
    data = bytearray(_tar_bytes({f"p/f{i}.py": (f"value_{i} = {i}\n" * 3000).encode() for i in range(4)}))
    for i in range(len(data) // 2, len(data) // 2 + 64):
        data[i] ^= 0xFF  # damage the deflate stream in the middle, keep the length
    archive = tmp_path / "damaged.tar.gz"
    archive.write_bytes(bytes(data))
    docs, drops = split(read_tarball(str(archive), source="gh", domain="code", repo="damaged", max_bytes=10**6))
    assert drops[-1].reason == "corrupt_archive" and str(archive) in drops[-1].detail
    assert len(docs) >= 1, "members before the damage are kept"


def test_stack_parquet_without_repo_column_is_not_a_web_page(tmp_path: Path) -> None:
    path = tmp_path / "files.parquet"
    pq.write_table(pa.table({"content": ["int main() { return 0; }\n"], "path": ["m.c"]}), path)
    docs, _ = split(read_stack_parquet(str(path), source="stack", domain="code", max_bytes=1000))
    assert docs[0].repo == f"{path}#m.c"


def test_remote_globs_expand_to_one_unit_per_object() -> None:
    import fsspec

    from corpus.ingest.kinds import make_input
    from corpus.stages.ingest import IngestConfig, IngestStage

    fs = fsspec.filesystem("memory")
    fs.pipe("/bucket/tars/a.tar.gz", b"x")
    fs.pipe("/bucket/tars/b.tar.gz", b"y")
    stage = IngestStage(IngestConfig(inputs=[make_input(name="gh", kind="repos", paths=["memory://bucket/tars/*.tar.gz"])]))
    units = stage.plan()
    assert [u.repo for u in units] == ["a", "b"] and all(u.kind == "tarball" for u in units)
