"""Shard provenance: every segment of every shard row is named (document, repository, path, licence,
commit or archive, a repository sample's files), the files are written by the pack tasks, listed in the
manifest, and the same whatever the partitioning; the shards themselves do not change."""

from __future__ import annotations

import hashlib
import json
import sysconfig
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from corpus import storage
from corpus.engine.context import RunContext
from corpus.records import Doc, docs_to_table
from corpus.stages.shards import ShardsConfig, ShardsStage
from tests.corpus.stages.test_shards_stage import CFG, _run
from tokenizer import load_tokenizer


def _sample(repo: str, files: list[Path], root: Path) -> Doc:
    pieces, spans, langs, names, pos = [], [], [], [], 0
    for f in files:
        head = f"# path: {f.relative_to(root)}\n"
        text = f.read_text()
        spans.append([pos, pos + len(head), pos + len(head) + len(text)])
        langs.append("Python")
        names.append(str(f.relative_to(root)))
        pieces.append(head + text)
        pos += len(head) + len(text) + 1
    return Doc(source="github", domain="code", repo=repo, path=repo, text="\n".join(pieces), language="Python", license="PSF-2.0",
               meta={"spans": spans, "languages": langs, "files": names, "github": {"commit_sha": "ab" * 20}})


def docs() -> list[Doc]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    out = [_sample("py/json", sorted(stdlib.glob("json/*.py")), stdlib), _sample("py/email", sorted(stdlib.glob("email/*.py"))[:6], stdlib)]
    out += [Doc(source="github", domain="code", repo=f"own{i % 3}/r{i}", path="main.py", license="MIT",
                text=f"def function_{i}(value):\n    return value * {i} + {i * 7}\n" * 4, language="Python") for i in range(12)]
    out += [Doc(source="web", domain="text", path=f"https://site{i % 4}.example.org/p{i}", meta={"warc_file": "w.warc.gz", "warc_record_id": f"<r{i}>"},
                text=f"Plain prose number {i} about parsing text and tokens. " * 30) for i in range(8)]
    return out


def _prov(stage_uri: str) -> tuple[dict, list[dict]]:
    m = storage.read_json(storage.join(stage_uri, "manifest.json"))
    rows = [r for e in m["provenance"] for r in pq.read_table(Path(stage_uri) / e["path"]).to_pylist()]
    return m, rows


def test_every_segment_of_every_row_is_named(tmp_path) -> None:
    ctx, _ = _run(tmp_path / "a", 2, docs=docs())
    m, rows = _prov(ctx.stage_uri)
    by_doc = {d.id: d for d in docs()}
    tok = load_tokenizer(Path(ctx.stage_uri) / "tokenizer.json")
    seq = m["seq_len"]
    by_shard: dict[str, list[dict]] = {}
    for r in rows:
        by_shard.setdefault(r["shard"], []).append(r)
    assert set(by_shard) == {e["path"] for e in m["shards"]}
    copies: dict[tuple, list] = {}
    for e in m["shards"]:
        t = pq.read_table(Path(ctx.stage_uri) / e["path"]).to_pylist()
        segs = sorted(by_shard[e["path"]], key=lambda r: (r["row"], r["segment"]))
        # Segments as the shard's own columns say: offsets, sources, languages; lengths fill the row.
        assert [(r["row"], r["offset"], r["source"], r["language"]) for r in segs] == [
            (i, o, s, lang) for i, row in enumerate(t) for o, s, lang in zip(row["doc_offsets"], row["doc_sources"], row["doc_languages"])]
        for i, row in enumerate(t):
            assert sum(r["length"] for r in segs if r["row"] == i) == seq - row["n_pad"]
        for r in segs:
            ids = np.asarray(t[r["row"]]["input_ids"][r["offset"] : r["offset"] + r["length"]])
            copies.setdefault((r["chunk_id"], r["rep"]), []).append((r["start"], ids, r))
    for (cid, _), pieces in copies.items():
        pieces.sort(key=lambda x: x[0])
        first = pieces[0][2]
        doc = by_doc[first["doc_id"]]
        assert cid.startswith(doc.id + "#")
        assert (first["repo"], first["path"], first["license"]) == (doc.repo, doc.path, doc.license)
        assert first["commit"] == (doc.meta.get("github") or {}).get("commit_sha")
        assert first["archive"] == (f"w.warc.gz#{doc.meta['warc_record_id']}" if doc.source == "web" else None)
        ids = np.concatenate([p[1] for p in pieces])
        assert [p[0] for p in pieces] == list(np.cumsum([0] + [len(p[1]) for p in pieces[:-1]]))  # contiguous copy
        assert ids[-1] == tok.specials.eos
        text = tok.plain.decode(ids.tolist(), skip_special_tokens=True)
        if first["fim"] == "none" and not first["files"]:
            assert text in doc.text  # a plain chunk of a single-file document is a piece of its text
        # A repository sample's chunk names the files whose text it holds: each one's path line is in a
        # plain chunk (a chunk that starts inside a file repeats it), and no other path line is.
        assert set(first["files"]) <= set(doc.meta.get("files") or [])
        if first["fim"] == "none" and first["files"]:
            assert sorted(first["files"]) == sorted(f for f in doc.meta["files"] if f"# path: {f}\n" in text), cid
    assert any(p[0][2]["files"] for p in copies.values())


def test_provenance_is_deterministic_and_leaves_the_shards_as_they_were(tmp_path) -> None:
    one, _ = _run(tmp_path / "one", 1, docs=docs())
    three, _ = _run(tmp_path / "three", 3, docs=docs())
    m1, m3 = (storage.read_json(storage.join(c.stage_uri, "manifest.json")) for c in (one, three))
    assert m1["provenance"] == m3["provenance"] and len(m1["provenance"]) == m1["pack_ranges"]["train"] + m1["pack_ranges"]["eval"]
    for e in m1["provenance"]:
        for c in (one, three):
            assert hashlib.sha256((Path(c.stage_uri) / e["path"]).read_bytes()).hexdigest() == e["sha256"]
    # The shard files are those the single-process reference (which writes no provenance) writes.
    from tokenizer import ShardConfig, build_shards

    tok = load_tokenizer(Path(one.stage_uri) / "tokenizer.json")
    ref = build_shards([d.row() for d in docs()], tok, tmp_path / "ref", seed=7,
                       config=ShardConfig(seq_len=129, rows_per_shard=16, range_tokens=6000, eval_fraction=0.2))
    assert "provenance" not in ref
    assert [(s["path"], s["sha256"]) for s in ref["shards"]] == [(s["path"], s["sha256"]) for s in m1["shards"]]
    assert json.dumps(ref["totals"], sort_keys=True) == json.dumps(m1["totals"], sort_keys=True)


def test_parts_without_a_license_column_still_get_provenance(tmp_path) -> None:
    """Parts written before ingest recorded licences: the shards are the same, the licence is null."""
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "in-0.parquet"
    table = docs_to_table(docs())
    pq.write_table(table.drop_columns(["license"]), path)
    ctx = RunContext(str(tmp_path / "out"), stage_name="shards", seed=7, stage_key="k1")
    ShardsStage(ShardsConfig(**CFG)).run(ctx, [str(path)]).check("shards")
    with_license, _ = _run(tmp_path / "with", 1, docs=docs())
    m, rows = _prov(ctx.stage_uri)
    assert [s["sha256"] for s in m["shards"]] == [s["sha256"] for s in _prov(with_license.stage_uri)[0]["shards"]]
    assert rows and all(r["license"] is None for r in rows) and {r["repo"] for r in rows} >= {"py/json", "own0/r0"}
