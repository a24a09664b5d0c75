"""Packed Parquet shards + manifest: contract schema, counts, standard readers, determinism, mixture."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tokenizer import (
    Packer,
    ShardConfig,
    build_shards,
    load_tokenizer,
    plan_mixture,
    train_bpe,
    undo_fim_ids,
    wrap_tokenizer,
)
from tokenizer.encode import EncodedDoc
from tokenizer.sample import sample_records

SEQ = 513
CONFIG = ShardConfig(seq_len=SEQ, rows_per_shard=120, row_group_rows=16, range_tokens=250_000, fim_rate=0.5,
                     fim_domains=["code"], eval_fraction=0.03)
SEED = 1234
CONTRACT_KEYS = {"format", "seq_len", "dtype", "vocab_size", "tokenizer", "special_tokens", "fim", "seed",
                 "mixture", "shards", "totals"}


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return sample_records(1_200_000, math_docs=600)


@pytest.fixture(scope="module")
def tok(records):
    return wrap_tokenizer(train_bpe((r["text"] for r in records), 1500))


@pytest.fixture(scope="module")
def built(records, tok, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("shards")
    manifest = build_shards(records, tok, out, seed=SEED, config=CONFIG)
    return out, manifest


def _rows(out: Path, manifest: dict, split: str) -> list[dict]:
    rows = []
    for s in manifest["shards"]:
        if s["split"] == split:
            rows.extend(pq.read_table(out / s["path"]).to_pylist())
    return rows


def test_contract_schema_and_manifest(built, tok) -> None:
    out, manifest = built
    assert CONTRACT_KEYS <= set(manifest)
    on_disk = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk == manifest
    assert manifest["format"] == "coder-corpus-shards/2" and manifest["dtype"] == "int32"
    assert manifest["seq_len"] == SEQ and manifest["seed"] == SEED
    assert manifest["fim"] == {"rate": 0.5, "mode": "psm", "spm_rate": 0.0, "domains": ["code"], "split": "character"}
    assert manifest["special_tokens"] == tok.specials.as_dict()
    assert set(manifest["special_tokens"]) == {"bos", "eos", "fim_hole", "fim_begin", "fim_end", "pad"}
    tpath = out / manifest["tokenizer"]["path"]
    assert hashlib.sha256(tpath.read_bytes()).hexdigest() == manifest["tokenizer"]["sha256"]
    assert load_tokenizer(tpath).vocab_size == manifest["vocab_size"] == tok.vocab_size
    assert {"target", "achieved"} <= set(manifest["mixture"])
    splits = Counter(s["split"] for s in manifest["shards"])
    assert splits["train"] >= 2 and splits["eval"] >= 1 and manifest["eval"]["unit"] == "repository"
    assert len({s["path"].split("-")[1] for s in manifest["shards"] if s["split"] == "train"}) >= 2  # ranges
    expected = pa.schema([("input_ids", pa.list_(pa.int32())), ("doc_offsets", pa.list_(pa.int32())),
                          ("doc_sources", pa.list_(pa.string())), ("doc_languages", pa.list_(pa.string())),
                          ("n_pad", pa.int32())])
    for s in manifest["shards"]:
        pf = pq.ParquetFile(out / s["path"])
        assert pf.schema_arrow.equals(expected, check_metadata=False)
        assert pf.metadata.num_rows == s["rows"]
        assert pf.metadata.num_row_groups == math.ceil(s["rows"] / CONFIG.row_group_rows)
        assert pf.metadata.row_group(0).column(0).compression == "ZSTD"
        assert hashlib.sha256((out / s["path"]).read_bytes()).hexdigest() == s["sha256"]
        assert s["path"].startswith({"train": "train-", "eval": "validation-"}[s["split"]])
    assert not list(out.glob(".*tmp"))


def test_rows_and_counts_add_up(built) -> None:
    out, manifest = built
    pad = manifest["special_tokens"]["pad"]
    total_rows = total_tokens = 0
    for split in ("train", "eval"):
        shards = [s for s in manifest["shards"] if s["split"] == split]
        for _k, s in enumerate(shards):
            rows = pq.read_table(out / s["path"]).to_pylist()
            by_source, by_lang, tokens = Counter(), Counter(), 0
            for _i, row in enumerate(rows):
                ids, offs, n_pad = row["input_ids"], row["doc_offsets"], row["n_pad"]
                assert len(ids) == SEQ
                assert ids[SEQ - n_pad:] == [pad] * n_pad
                assert offs[0] == 0 and offs == sorted(set(offs)) and offs[-1] < SEQ - n_pad
                assert len(offs) == len(row["doc_sources"]) == len(row["doc_languages"])
                ends = offs[1:] + [SEQ - n_pad]
                for start, end, src, lang in zip(offs, ends, row["doc_sources"], row["doc_languages"]):
                    by_source[src] += end - start
                    by_lang[lang] += end - start
                tokens += SEQ - n_pad
            assert s["tokens"] == tokens == sum(s["tokens_by_source"].values()) == sum(s["tokens_by_language"].values())
            assert s["tokens_by_source"] == dict(by_source) and s["tokens_by_language"] == dict(by_lang)
            total_rows += len(rows)
            total_tokens += tokens
    totals = manifest["totals"]
    assert totals["rows"] == total_rows and totals["tokens"] == total_tokens
    assert totals["rows"] * SEQ - totals["tokens"] == totals["padded_tokens"]
    assert totals["padded_tokens"] < 0.02 * totals["tokens"]  # FIM-aware packing barely pads
    assert totals["train_tokens"] + totals["eval_tokens"] == total_tokens
    assert set(manifest["shards"][0]["tokens_by_language"]) <= {"Python", ""}


def test_every_packed_document_is_an_original(built, tok, records) -> None:
    """Every packed document is a chunk of an original (FIM undone), of at most seq_len ids."""
    out, manifest = built
    texts = {r["id"]: r["text"] for r in records}
    by_line = Counter(r["text"] for r in records)
    sp = tok.specials
    for split in ("train", "eval"):
        # Segments in row order; a segment without BOS continues the document cut at the row before
        # (FIM documents waiting for room may sit between a document's head and its tail).
        docs: list[list[int]] = []
        open_doc: list[int] | None = None
        for row in _rows(out, manifest, split):
            ids, offs = row["input_ids"], row["doc_offsets"]
            for a, b in zip(offs, offs[1:] + [SEQ - row["n_pad"]]):
                seg = ids[a:b]
                if seg[0] == sp.bos and seg[-1] == sp.eos:
                    assert open_doc is None or seg[1] == sp.fim_begin  # only whole FIM examples jump the queue
                    docs.append(seg)
                    continue
                if seg[0] == sp.bos:
                    assert open_doc is None
                    open_doc = seg
                else:
                    assert open_doc is not None
                    open_doc = open_doc + seg
                if open_doc[-1] == sp.eos:
                    docs.append(open_doc)
                    open_doc = None
        assert open_doc is None  # the stream ends with a whole document
        n = manifest["totals"]["documents"][f"{split}_documents"]
        assert len(docs) == n > 0
        whole = "\0".join(texts.values())
        for d in docs:
            assert len(d) <= SEQ
            text = undo_fim_ids(d, sp, tok.decode)
            assert by_line[text] > 0 or text in whole


def test_standard_readers(built) -> None:
    import datasets
    import duckdb
    import polars as pl

    out, manifest = built
    train = [str(out / s["path"]) for s in manifest["shards"] if s["split"] == "train"]
    n_rows = sum(s["rows"] for s in manifest["shards"] if s["split"] == "train")
    first = pq.read_table(train[0]).column("input_ids")[0].as_py()
    df = pl.read_parquet(train)
    assert df.height == n_rows and df["input_ids"][0].to_list() == first
    assert df.schema["input_ids"] == pl.List(pl.Int32)
    con = duckdb.connect()
    got = con.execute(f"select count(*), min(len(input_ids)), max(len(input_ids)) from read_parquet({train!r})").fetchone()
    assert got == (n_rows, SEQ, SEQ)
    ds = datasets.load_dataset("parquet", data_files={"train": train}, split="train",
                               cache_dir=str(out.parent / "hf-cache"))
    assert ds.num_rows == n_rows and ds[0]["input_ids"] == first
    assert ds.features["input_ids"].feature.dtype == "int32"
    # The folder as is: datasets names the splits from the file names (an eval- prefix would be "test").
    both = datasets.load_dataset("parquet", data_dir=str(out), cache_dir=str(out.parent / "hf-cache"))
    assert set(both) == {"train", "validation"}
    assert both["validation"].num_rows == sum(s["rows"] for s in manifest["shards"] if s["split"] == "eval")


def _files(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir()) if p.is_file()}


def test_byte_identical_across_batchings(built, records, tok, tmp_path: Path) -> None:
    """Record order and batch size change nothing; another seed changes the shards."""
    out, _ = built
    build_shards(list(reversed(records)), tok, tmp_path, seed=SEED, config=replace(CONFIG, batch_size=97))
    assert _files(tmp_path) == _files(out)
    other = build_shards(records, tok, tmp_path / "seed2", seed=SEED + 1, config=CONFIG)
    assert other["shards"][0]["sha256"] != json.loads((out / "manifest.json").read_text())["shards"][0]["sha256"]


def test_mixture_shares_reported_near_target(built) -> None:
    _, manifest = built
    mix = manifest["mixture"]
    assert mix["target"] == {"code": 0.6, "math": 0.1, "text": 0.3}
    for domain, share in mix["target"].items():
        assert abs(mix["achieved"][domain] - share) < 0.05, mix
    assert sum(mix["achieved_tokens"].values()) == manifest["totals"]["train_tokens"]
    assert mix["missing"] == [] and manifest["warnings"] == []
    assert mix["rates"]["code"] == 1.0  # the dominant domain is kept once, never down-sampled


def test_fim_share_and_whole_examples(built) -> None:
    _, manifest = built
    fim = manifest["fim_examples"]
    assert fim["made"] > 100 and fim["complete_in_one_row"] == fim["made"] and fim["complete_share"] == 1.0
    assert abs(fim["share_of_fim_domain_chunks"] - 0.5) < 0.05


def test_packer_never_cuts_a_fim_example() -> None:
    """Deferral keeps FIM documents whole; plain documents fill the rows around them."""
    import numpy as np

    def doc(i: int, n: int, fim: bool) -> EncodedDoc:
        return EncodedDoc(f"d{i}", 0, "s", "code", "Python", "train", "psm" if fim else "none",
                          np.full(n, i, dtype=np.int32))

    packer = Packer(10, pad_id=-1, max_deferred=2)
    sizes = [(7, False), (6, True), (9, True), (3, False), (10, True), (12, False), (5, True), (4, True), (8, True), (2, False)]
    rows = []
    for i, (n, fim) in enumerate(sizes):
        rows.extend(packer.add(doc(i, n, fim)))
    rows.extend(packer.finish_rows())
    placed = Counter()
    for row in rows:
        ends = row.doc_offsets[1:] + [10 - row.n_pad]
        for a, b in zip(row.doc_offsets, ends):
            seg = row.ids[a:b]
            assert len(set(seg.tolist())) == 1
            placed[int(seg[0])] += b - a
            if sizes[int(seg[0])][1]:
                assert b - a == sizes[int(seg[0])][0]  # a FIM document is one whole segment
    assert placed == Counter({i: n for i, (n, _) in enumerate(sizes)})
    assert packer.fim_documents == packer.fim_complete == 6


def test_missing_domain_is_reported(records, tok, tmp_path: Path) -> None:
    no_math = [r for r in records if r["domain"] != "math"][:300]
    manifest = build_shards(no_math, tok, tmp_path, seed=SEED, config=CONFIG)
    mix = manifest["mixture"]
    assert mix["missing"] == ["math"] and mix["achieved"]["math"] == 0.0
    assert any("math" in w and "no data" in w for w in manifest["warnings"])
    assert manifest["totals"]["train_tokens"] > 0


def test_plan_mixture_edges() -> None:
    plan = plan_mixture({}, {"code": 0.6, "text": 0.4})
    assert plan.rates == {} and plan.missing == ["code", "text"]
    assert plan.copies(0, "x", "code") == 0
    # Strict: hold the shares by down-sampling the dominant domain; untargeted domains are left out.
    plan = plan_mixture({"code": 1000, "text": 100, "other": 50}, {"code": 0.5, "text": 0.5}, max_repeat=4.0, keep_shares="strict")
    assert plan.untargeted == ["other"] and plan.capped == ["text"]
    assert plan.rates["text"] == pytest.approx(4.0) and plan.rates["code"] == pytest.approx(0.4)
    copies = [plan.copies(7, f"d{i}", "code") for i in range(20000)]
    assert set(copies) == {0, 1} and abs(sum(copies) / 20000 - 0.4) < 0.02
    assert [plan.copies(7, f"d{i}", "text") for i in range(50)] == [4] * 50
    # Default: everything at least once; the scarce domain up-sampled to the cap; untargeted kept once.
    plan = plan_mixture({"code": 1000, "text": 100, "other": 50}, {"code": 0.5, "text": 0.5}, max_repeat=4.0)
    assert plan.rates == {"code": 1.0, "text": 4.0, "other": 1.0} and plan.capped == ["text"]
    plan = plan_mixture({"code": 600, "text": 100, "math": 30}, {"code": 0.6, "math": 0.1, "text": 0.3})
    assert plan.rates["code"] == 1.0 and plan.rates["text"] == pytest.approx(3.0) and plan.rates["math"] == pytest.approx(10 / 3)
    with pytest.raises(ValueError):
        plan_mixture({"code": 1}, {"code": -1.0})


def test_eval_holds_out_whole_repositories(records, tok, tmp_path: Path) -> None:
    """Every chunk of a repository (and every page of a web host) lands in the same split; with no group
    drawn, one whole group is held out."""
    from tokenizer import encode_chunks

    recs = [{**r, "repo": f"repo{k % 7}"} if r["domain"] == "code" else {**r, "path": f"https://h{k % 5}.org/{k}"}
            for k, r in enumerate(records[:500])]
    chunks, _ = encode_chunks(tok, recs, seed=SEED, config=ShardConfig(seq_len=SEQ, eval_fraction=0.3))
    splits: dict[str, set] = {}
    for c in chunks:
        splits.setdefault(c.group, set()).add(c.split)
    assert len(splits) == 12 and all(len(v) == 1 for v in splits.values())
    assert {"train", "eval"} == set().union(*splits.values())
    manifest = build_shards(recs[:200], tok, tmp_path, seed=SEED, config=replace(CONFIG, eval_fraction=1e-9))
    assert manifest["totals"]["eval_tokens"] > 0 and manifest["totals"]["train_tokens"] > 0


def test_cli_shards_from_parquet_parts(records, tok, tmp_path: Path, capsys) -> None:
    from tokenizer import save_tokenizer
    from tokenizer.cli import main

    parts = tmp_path / "docs"
    parts.mkdir()
    cols = ["id", "source", "domain", "path", "text", "language"]
    sub = records[::4]
    for k in range(2):
        chunk = sub[k::2]
        pq.write_table(pa.table({c: [r.get(c) for r in chunk] for c in cols}), parts / f"part-{k}.parquet")
    (parts / "notes.parquet").write_bytes(b"not parquet")  # bad part: skipped, not fatal
    tpath = save_tokenizer(tok.tokenizer, tmp_path / "tokenizer.json")
    out, out2 = tmp_path / "shards", tmp_path / "shards2"

    def argv(dest: Path, fast: bool) -> list[str]:
        return ["tokenizer", "shards", "--input", str(parts), "--tokenizer", str(tpath), "--output", str(dest),
                "--seq-len", "257", "--rows-per-shard", "50", "--fim-spm-rate", "0.5"] + (["--fast"] if fast else [])

    assert main(argv(out, fast=True)) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert report["totals"] == manifest["totals"] and manifest["seq_len"] == 257
    assert manifest["fim"]["spm_rate"] == 0.5
    assert manifest["totals"]["documents"]["train_documents"] + manifest["totals"]["documents"]["eval_documents"] > 0
    # Same run without the tiktoken path: identical shards.
    assert main(argv(out2, fast=False)) == 0
    # Same shards without the tiktoken path; only the manifest's encoder note differs.
    manifest2 = json.loads((out2 / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["encoder"]["name"] == "tiktoken" and manifest["encoder"]["mismatches"] == 0
    assert manifest2["encoder"] == {"name": "tokenizers"}
    assert {k: v for k, v in manifest.items() if k != "encoder"} == {k: v for k, v in manifest2.items() if k != "encoder"}
    files, files2 = _files(out), _files(out2)
    assert files.pop("manifest.json") != files2.pop("manifest.json") and files == files2


def test_empty_and_bad_input_does_not_crash(tok, tmp_path: Path) -> None:
    manifest = build_shards([], tok, tmp_path / "empty", seed=SEED, config=CONFIG)
    assert manifest["shards"] == [] and manifest["totals"]["tokens"] == 0
    assert manifest["mixture"]["missing"] == ["code", "math", "text"]
    bad = [{"id": "x", "text": None, "domain": "code"}, {"id": "y", "text": "", "domain": "code"},
           {"id": "z", "text": "print(1)\n", "domain": "code", "source": "github", "language": "Python"}]
    manifest = build_shards(bad, tok, tmp_path / "bad", seed=SEED, config=CONFIG)
    assert manifest["skipped_documents"] == {"text_not_string": 1, "empty_text": 1}
    assert manifest["totals"]["rows"] == 1 and manifest["shards"][0]["tokens"] < SEQ
