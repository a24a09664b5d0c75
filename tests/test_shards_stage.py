"""The Ray shards stage: byte-identical shards whatever the partitioning of its input."""

from __future__ import annotations

import hashlib
import sysconfig
from pathlib import Path

import pyarrow.parquet as pq

from corpus.context import RunContext
from corpus.records import Doc, docs_to_table
from corpus.stages.shards import ShardsConfig, ShardsStage


def _docs() -> list[Doc]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(stdlib.glob("json/*.py")) + sorted(stdlib.glob("email/*.py"))[:8]
    docs = [Doc(source="github", domain="code", repo="cpython", path=str(f.relative_to(stdlib)), text=f.read_text(), language="Python") for f in files]
    docs.append(Doc(source="web", domain="text", path="https://example.org/a", text="Plain prose about parsing text. " * 40))
    return docs


def _run(tmp: Path, parts: int) -> Path:
    docs = _docs()
    tmp.mkdir(parents=True)
    inputs = []
    for i in range(parts):
        path = tmp / f"in-{i}.parquet"
        pq.write_table(docs_to_table(docs[i::parts]), path)
        inputs.append(str(path))
    ctx = RunContext(tmp / "out", seed=7, stage_name="shards")
    stage = ShardsStage(ShardsConfig(vocab_size=700, seq_len=65, rows_per_shard=16, keep_shares=False))
    stats = stage.run(ctx, inputs)
    stats.check("shards")
    return ctx.stage_dir


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_partitioning_does_not_change_a_byte(tmp_path, ray_local) -> None:
    one = _digest(_run(tmp_path / "one", 1))
    three = _digest(_run(tmp_path / "three", 3))
    assert "manifest.json" in one and any(n.startswith("train-") for n in one)
    assert one == three


def test_unencodable_documents_are_quarantined(tmp_path, ray_local) -> None:
    docs = _docs()[:4] + [Doc(source="github", domain="code", repo="cpython", path="empty.py", text="")]
    tmp_path.mkdir(exist_ok=True)
    src = tmp_path / "in.parquet"
    pq.write_table(docs_to_table(docs), src)
    ctx = RunContext(tmp_path / "out", seed=7, stage_name="shards")
    stats = ShardsStage(ShardsConfig(vocab_size=600, seq_len=65, rows_per_shard=16, keep_shares=False)).run(ctx, [str(src)])
    stats.check("shards")
    dropped = pq.read_table(ctx.stage_dir / "_dropped" / "part-00000.parquet").to_pylist()
    assert [(d["path"], d["reason"]) for d in dropped if d["reason"].startswith("encode_")] == [("empty.py", "encode_empty_text")]
    assert stats.dropped["encode_empty_text"] == 1
