"""`corpus optout OUT --list FILE`: the listed repositories and hosts leave a finished run's shards. Only
the shard files that held them are rewritten (the others keep their bytes), no token sequence of theirs
is left, every other document's tokens stay, and the manifest, provenance and report follow."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from corpus import storage
from corpus.cli import main
from corpus.commands.optout import optout_run
from corpus.engine.context import RunContext
from corpus.ingest.optout import OptOut
from corpus.layout import PROVENANCE_DIR
from corpus.stages.shards import ShardsConfig, ShardsStage
from tests.corpus.stages.test_provenance import docs
from tests.corpus.stages.test_shards_stage import CFG, _inputs

LIST = "py/json\nown1/*\nsite2.example.org  # a host\n"


def _removed(row: dict) -> bool:
    return OptOut.parse(LIST).entry(row["repo"], row["path"] or "") is not None


def _finished(out: str, tmp: Path) -> None:
    """A finished run's shards stage (and its report) in OUT."""
    ctx = RunContext(out, stage_name="shards", seed=7, stage_key="k1")
    ShardsStage(ShardsConfig(**{**CFG, "rows_per_shard": 4})).run(ctx, _inputs(tmp, docs(), 2)).check("shards")


def _files(out: str) -> dict[str, bytes]:
    shards = storage.join(out, "shards")
    m = storage.read_json(storage.join(shards, "manifest.json"))
    return {e["path"]: storage.read_bytes(storage.join(shards, *e["path"].split("/"))) for e in m["shards"] + m["provenance"]}


def _copies(files: dict[str, bytes], seq_len: int) -> tuple[dict[tuple, np.ndarray], dict[str, np.ndarray]]:
    """Every chunk copy's tokens (its segments joined) and every shard's rows, from the files."""
    import io

    rows = {n: np.asarray(pq.read_table(io.BytesIO(b)).column("input_ids").to_pylist(), dtype=np.int32)
            for n, b in files.items() if not n.startswith(PROVENANCE_DIR + "/")}
    pieces: dict[tuple, list] = {}
    for n, b in files.items():
        if n.startswith(PROVENANCE_DIR + "/"):
            for r in pq.read_table(io.BytesIO(b)).to_pylist():
                seg = rows[r["shard"]][r["row"], r["offset"] : r["offset"] + r["length"]]
                pieces.setdefault((r["chunk_id"], r["rep"], _removed(r)), []).append((r["start"], seg))
    return {k: np.concatenate([s for _, s in sorted(v, key=lambda x: x[0])]) for k, v in pieces.items()}, rows


def _holds(rows: dict[str, np.ndarray], seq: np.ndarray) -> bool:
    needle = seq.astype("<i4").tobytes()
    for arr in rows.values():
        hay = arr.astype("<i4").tobytes()
        pos = hay.find(needle)
        while pos >= 0:
            if pos % 4 == 0:
                return True
            pos = hay.find(needle, pos + 1)
    return False


def _check(out: str, before: dict[str, bytes], report: dict) -> None:
    after = _files(out)
    m = storage.read_json(storage.join(out, "shards", "manifest.json"))
    rewritten = set(report["files_rewritten"])
    assert rewritten and report["files_kept"] > 0
    assert set(before) - set(after) == set(report["files_deleted"])
    assert not any(storage.exists(storage.join(out, "shards", n)) for n in report["files_deleted"])
    for name, data in before.items():
        if name in rewritten or name in report["files_deleted"] or name.startswith(PROVENANCE_DIR + "/"):
            continue
        assert hashlib.sha256(after[name]).digest() == hashlib.sha256(data).digest(), name  # untouched: same bytes
    for e in m["shards"] + m["provenance"]:
        assert hashlib.sha256(after[e["path"]]).hexdigest() == e["sha256"]
    assert all(after[n] != before[n] for n in rewritten)
    seq = m["seq_len"]
    old, _ = _copies(before, seq)
    new, rows = _copies(after, seq)
    # No copy of a listed document is left, nor any of its token sequences (a chunk of 16+ tokens).
    assert not any(k[2] for k in new)
    gone = [v for k, v in old.items() if k[2]]
    assert gone and all(not _holds(rows, v) for v in gone if len(v) >= 16)
    # Every other copy keeps its exact tokens.
    assert {k: v.tobytes() for k, v in old.items() if not k[2]} == {k: v.tobytes() for k, v in new.items()}
    totals = m["totals"]
    assert totals["rows"] == sum(len(r) for r in rows.values()) == sum(e["rows"] for e in m["shards"])
    assert totals["tokens"] == sum(e["tokens"] for e in m["shards"])
    assert m["optout"][-1]["documents_removed"] == report["documents_removed"] > 0
    assert set(report["matched"]) == {"py/json", "own1/*", "site2.example.org"}
    for e, r in zip(m["shards"], [pq.read_table(__import__("io").BytesIO(after[e["path"]])) for e in m["shards"]]):
        assert e["rows"] == r.num_rows and e["tokens"] == r.num_rows * seq - sum(r.column("n_pad").to_pylist())


def test_optout_rewrites_only_the_files_that_held_listed_documents(tmp_path) -> None:
    out = str(tmp_path / "out")
    _finished(out, tmp_path / "in")
    storage.write_json(storage.join(out, "reports", "shards.json"), {"totals": {}})
    before = _files(out)
    (tmp_path / "list.txt").write_text(LIST)
    report = optout_run(out, OptOut.load(str(tmp_path / "list.txt")))
    _check(out, before, report)
    assert storage.read_json(storage.join(out, "reports", "shards.json"))["totals"]["rows"] > 0
    assert not (tmp_path / "out" / "shards" / "_optout").exists()
    # A second pass finds nothing left to remove and changes no byte.
    again = _files(out)
    assert main(["optout", out, "--list", str(tmp_path / "list.txt")]) == 0
    assert _files(out) == again


def test_a_killed_optout_is_finished_by_the_next_one(tmp_path, monkeypatch) -> None:
    out = str(tmp_path / "out")
    _finished(out, tmp_path / "in")
    before = _files(out)
    from corpus.commands import optout as mod

    real, calls = mod._finish, []

    def killed(shards_uri: str) -> bool:
        calls.append(1)
        if len(calls) == 2:  # the plan is staged: die before anything is moved into place
            raise KeyboardInterrupt
        return real(shards_uri)

    monkeypatch.setattr(mod, "_finish", killed)
    with pytest.raises(KeyboardInterrupt):
        optout_run(out, OptOut.parse(LIST))
    monkeypatch.setattr(mod, "_finish", real)
    assert _files(out) == before  # nothing moved yet
    report = optout_run(out, OptOut.parse(LIST))  # finishes the staged plan, then finds nothing more
    assert report["files_rewritten"] == []
    staged = storage.read_json(storage.join(out, "reports", "optout.json"))
    _check(out, before, staged)


def test_optout_on_an_object_store(tmp_path, s3_server, monkeypatch) -> None:
    local = str(tmp_path / "local")
    _finished(local, tmp_path / "in")
    expected = optout_run(local, OptOut.parse(LIST))
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    storage.configure(None)
    try:
        out = f"s3://{s3_server.bucket}/optout-run"
        fresh = str(tmp_path / "fresh")
        _finished(fresh, tmp_path / "in2")
        for p in Path(fresh).rglob("*"):
            if p.is_file():
                storage.write_bytes(storage.join(out, *p.relative_to(fresh).parts), p.read_bytes())
        before = _files(out)
        storage.write_bytes(f"s3://{s3_server.bucket}/list.txt", LIST.encode())
        report = optout_run(out, OptOut.load(f"s3://{s3_server.bucket}/list.txt"))
        _check(out, before, report)
        assert report["files_rewritten"] == expected["files_rewritten"]
        assert _files(out) == _files(local)
    finally:
        storage.configure(None)
    shutil.rmtree(tmp_path / "fresh", ignore_errors=True)
