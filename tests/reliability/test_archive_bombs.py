"""Archive bombs: expanded bytes, member count, compression ratio and repository limits stop an
archive after bounded work, as one drop naming the archive; a worker's memory stays bounded."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest


def write_tar(path: Path, members: list[tuple[str, bytes]], trailer: bytes = b"") -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buf.getvalue() + trailer, compresslevel=6))
    return path


def bomb(path: Path, n: int, member_bytes: int = 1_000_000) -> Path:
    """n members of member_bytes of one letter: ~1000x compression, like the 11 MB / 5.6 GB report."""
    with gzip.open(path, "wb", compresslevel=6) as gz, tarfile.open(fileobj=gz, mode="w|") as tar:
        blob = b"a" * (member_bytes - 1) + b"\n"
        for i in range(n):
            info = tarfile.TarInfo(f"bomb/f{i:05d}.txt")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def test_compression_ratio_bomb_is_cut_and_named(tmp_path: Path, run_ingest) -> None:
    archive = bomb(tmp_path / "bomb.tar.gz", 300)  # 300 MB expanded from ~0.3 MB
    assert archive.stat().st_size < 2_000_000
    started = time.time()
    r = run_ingest([{"name": "gh", "kind": "repos", "paths": [str(archive)]}], max_file_bytes=2_000_000)
    assert time.time() - started < 30
    assert r.reasons() == {"archive_limit": 1}
    (detail,) = r.details("archive_limit")
    assert str(archive) in detail and "compression ratio" in detail
    # Stopped at ratio_min_bytes (64 MB): what was read before is kept, nothing after.
    assert 50 <= r.stats.kept <= 66


@pytest.mark.parametrize(
    "limit,why",
    [({"max_archive_members": 10}, "max_archive_members=10"), ({"max_archive_bytes": 100_000}, "max_archive_bytes=100000"),
     ({"max_repo_files": 7}, "max_repo_files=7"), ({"max_repo_bytes": 50_000}, "max_repo_bytes=50000")],
)
def test_archive_and_repo_limits(tmp_path: Path, run_ingest, limit: dict, why: str) -> None:
    members = [(f"p/m{i:03d}.py", f"value_{i} = {i}\n".encode() * 700) for i in range(40)]  # ~10 KB each
    archive = write_tar(tmp_path / "many.tar.gz", members)
    r = run_ingest([{"name": "gh", "kind": "repos", "paths": [str(archive)]}], **limit)
    reason = "repo_limit" if "repo" in why else "archive_limit"
    assert r.reasons() == {reason: 1}
    (detail,) = r.details(reason)
    assert str(archive) in detail and why in detail
    assert 0 < r.stats.kept < 40


def test_bomb_behind_the_end_of_archive_marker(tmp_path: Path, run_ingest) -> None:
    """The reader drains the stream after the tar end marker (to catch damage); that drain is bounded too."""
    archive = write_tar(tmp_path / "trail.tar.gz", [("p/a.py", b"x = 1\n")], trailer=b"\0" * 200_000_000)
    r = run_ingest([{"name": "gh", "kind": "repos", "paths": [str(archive)]}])
    assert r.stats.kept == 1 and r.reasons() == {"archive_limit": 1}
    assert str(archive) in r.details("archive_limit")[0]


def test_local_repository_limits(tmp_path: Path, run_ingest) -> None:
    repo = tmp_path / "repos" / "big"
    repo.mkdir(parents=True)
    for i in range(30):
        (repo / f"f{i:02d}.py").write_text(f"x = {i}\n")
    r = run_ingest([{"name": "gh", "kind": "repos", "paths": [str(tmp_path / "repos")], "each_subdir": True}], max_repo_files=12)
    assert r.stats.kept == 12 and r.reasons() == {"repo_limit": 1}
    assert str(repo) in r.details("repo_limit")[0]


READER = """
import json, sys
def hwm():
    # VmHWM: this process image's peak RSS (ru_maxrss would include the forking parent's peak).
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
from corpus.ingest.repos import read_tarball
reasons = [getattr(x, "reason", "doc") for x in read_tarball(sys.argv[1], source="gh", domain="code", repo="r", max_bytes=2_000_000)]
print(json.dumps({"peak_mb": hwm(), "docs": reasons.count("doc"), "last": reasons[-1]}))
"""

TASK = """
import json, sys
def hwm():
    # VmHWM: this process image's peak RSS (ru_maxrss would include the forking parent's peak).
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
from corpus.engine.executor import run_source_part
from corpus.stages.ingest import IngestConfig, IngestStage
from corpus.ingest.kinds import make_input
stage = IngestStage(IngestConfig(inputs=[make_input(name="gh", kind="repos", paths=[sys.argv[1]])], max_file_bytes=2_000_000))
record = run_source_part(stage, stage.plan(), sys.argv[2], "k")
print(json.dumps({"peak_mb": hwm(), "stats": record["stats"]}))
"""


def _child(code: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_memory_of_an_ingest_task_reading_a_bomb_is_bounded(tmp_path: Path) -> None:
    """A fresh process reads a 1 GB bomb (1,000 x 1 MB, 1 MB stored) with the default limits.
    The reader holds one member at a time: peak RSS under 250 MB (117 MB measured, imports
    included). The whole ingest task (the engine buffers up to 1,024 documents before writing),
    cut at 64 MB of text by the ratio limit: under 600 MB (350 MB measured)."""
    archive = bomb(tmp_path / "big.tar.gz", 1000)
    reader = _child(READER, str(archive))
    task = _child(TASK, str(archive), str(tmp_path / "part-00000.parquet"))
    print(f"1 GB bomb: reader peak {reader['peak_mb']:.0f} MB, ingest task peak {task['peak_mb']:.0f} MB")
    assert reader["last"] == "archive_limit" and reader["docs"] <= 66
    assert reader["peak_mb"] < 250
    assert task["stats"]["dropped"] == {"archive_limit": 1}
    assert task["peak_mb"] < 600
