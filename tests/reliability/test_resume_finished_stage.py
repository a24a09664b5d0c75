"""`--resume` checks a finished stage before skipping it: each part and quarantine file must still have
the size its _SUCCESS.json recorded (one listing per folder) and a Parquet footer that reads. A truncated or deleted file makes the stage
run again (a map or source stage recomputes only the damaged parts; a global stage starts over), and the
rebuilt output is byte-identical (main: exit 0, every stage skipped, an unreadable output)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from corpus import storage
from corpus.engine.executor import Executor
from corpus.engine.parts import commit_uri
from corpus.ingest.kinds import make_input
from corpus.stages.dedup import ExactDedupConfig, ExactDedupStage
from corpus.stages.ingest import IngestConfig, IngestStage
from corpus.stages.langid import LangIdStage


def _stages(tmp_path: Path) -> list:
    for r in range(4):
        repo = tmp_path / "repos" / f"r{r}"
        repo.mkdir(parents=True, exist_ok=True)
        for i in range(3):
            if not (repo / f"m{i}.py").exists():  # rewritten files would change ingest's input fingerprint
                (repo / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n" * (20 + (r % 2)))  # copies across repos
    inputs = [make_input(name="github", kind="repos", paths=[str(tmp_path / "repos")], each_subdir=True)]
    return [IngestStage(IngestConfig(inputs=inputs, units_per_part=1, min_parts=1)), LangIdStage(), ExactDedupStage(ExactDedupConfig())]


def _digest(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*part-*.parquet"))}


def test_a_truncated_part_of_a_finished_map_stage_is_rebuilt(tmp_path: Path) -> None:
    out = tmp_path / "out"
    Executor(str(out), seed=1).run(_stages(tmp_path))
    before = _digest(out)
    part = out / "langid" / "part-00001.parquet"
    part.write_bytes(part.read_bytes()[:100])
    intact_record = Path(commit_uri(str(out / "langid" / "part-00000.parquet")))
    mtime = intact_record.stat().st_mtime_ns
    again = Executor(str(out), seed=1, resume=True)
    again.run(_stages(tmp_path))
    assert again.ran == ["langid"]
    assert _digest(out) == before
    assert intact_record.stat().st_mtime_ns == mtime, "intact parts are reused, not recomputed"


def test_a_torn_part_of_the_same_size_in_a_finished_stage_is_rebuilt(tmp_path: Path) -> None:
    out = tmp_path / "out"
    Executor(str(out), seed=1).run(_stages(tmp_path))
    before = _digest(out)
    part = out / "langid" / "part-00000.parquet"
    data = bytearray(part.read_bytes())
    data[-12:] = b"\0" * 12  # footer length and magic destroyed, size unchanged
    part.write_bytes(bytes(data))
    again = Executor(str(out), seed=1, resume=True)
    again.run(_stages(tmp_path))
    assert again.ran == ["langid"]
    assert _digest(out) == before


def test_a_deleted_quarantine_of_a_finished_source_stage_is_rebuilt(tmp_path: Path) -> None:
    out = tmp_path / "out"
    Executor(str(out), seed=1).run(_stages(tmp_path))
    before = _digest(out)
    (out / "ingest" / "_dropped" / "part-00002.parquet").unlink()
    again = Executor(str(out), seed=1, resume=True)
    again.run(_stages(tmp_path))
    assert again.ran == ["ingest"], "the rebuilt part is the same bytes: later stages stay valid"
    assert _digest(out) == before


def test_a_damaged_part_of_a_finished_global_stage_is_rebuilt(tmp_path: Path) -> None:
    out = tmp_path / "out"
    Executor(str(out), seed=1).run(_stages(tmp_path))
    before = _digest(out)
    part = out / "dedup_exact" / "part-00003.parquet"
    part.write_bytes(part.read_bytes()[:-40])
    again = Executor(str(out), seed=1, resume=True)
    again.run(_stages(tmp_path))
    assert again.ran == ["dedup_exact"]
    assert _digest(out) == before
    assert storage.read_table(str(part)).num_rows >= 0


def test_a_deleted_part_of_a_finished_stage_on_s3_is_rebuilt(tmp_path: Path, s3_server, monkeypatch) -> None:
    import os

    from corpus.engine.lock import acquire

    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    storage.configure(None)
    out = f"s3://{s3_server.bucket}/resume-finished-{os.getpid()}"
    stages = _stages(tmp_path)[:2]
    with acquire(out) as lock:
        Executor(out, seed=1, guard=lock.verify).run(stages)
        part = storage.join(out, "langid", "part-00002.parquet")
        whole = storage.read_bytes(part)
        storage.remove(part)
        again = Executor(out, seed=1, resume=True, guard=lock.verify)
        again.run(_stages(tmp_path)[:2])
        assert again.ran == ["langid"]
        assert storage.read_bytes(part) == whole
    storage.configure(None)
