"""Packed Parquet shards + manifest: contract schema, counts, standard readers, determinism, mixture."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tokenizer import (
    EncodeConfig,
    FimConfig,
    ShardConfig,
    apply_mixture,
    build_shards,
    encode_documents,
    load_tokenizer,
    plan_mixture,
    sort_docs,
    tokens_by_domain,
    train_bpe,
    undo_fim_ids,
    wrap_tokenizer,
    write_shards,
)
from tokenizer.sample import sample_records

SEQ = 513
CONFIG = ShardConfig(seq_len=SEQ, rows_per_shard=120, row_group_rows=16)
ENC = EncodeConfig(fim=FimConfig(rate=0.5, domains=("code",)), eval_fraction=0.03)
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
    manifest = build_shards(records, tok, out, seed=SEED, encode_config=ENC, config=CONFIG)
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
    assert manifest["format"] == "coder-corpus-shards/1" and manifest["dtype"] == "int32"
    assert manifest["seq_len"] == SEQ and manifest["seed"] == SEED
    assert manifest["fim"] == {"rate": 0.5, "mode": "psm", "spm_rate": 0.0, "domains": ["code"], "split": "character"}
    assert manifest["special_tokens"] == tok.specials.as_dict()
    assert set(manifest["special_tokens"]) == {"bos", "eos", "fim_hole", "fim_begin", "fim_end", "pad"}
    tpath = out / manifest["tokenizer"]["path"]
    assert hashlib.sha256(tpath.read_bytes()).hexdigest() == manifest["tokenizer"]["sha256"]
    assert load_tokenizer(tpath).vocab_size == manifest["vocab_size"] == tok.vocab_size
    assert {"target", "achieved"} <= set(manifest["mixture"])
    splits = Counter(s["split"] for s in manifest["shards"])
    assert splits["train"] >= 2 and splits["eval"] >= 1 and manifest["eval"]["unit"] == "document"
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
        assert s["split"] in s["path"]
    assert not list(out.glob(".*tmp"))


def test_rows_and_counts_add_up(built) -> None:
    out, manifest = built
    pad = manifest["special_tokens"]["pad"]
    total_rows = total_tokens = 0
    for split in ("train", "eval"):
        shards = [s for s in manifest["shards"] if s["split"] == split]
        for k, s in enumerate(shards):
            rows = pq.read_table(out / s["path"]).to_pylist()
            by_source, by_lang, tokens = Counter(), Counter(), 0
            for i, row in enumerate(rows):
                ids, offs, n_pad = row["input_ids"], row["doc_offsets"], row["n_pad"]
                assert len(ids) == SEQ
                last = k == len(shards) - 1 and i == len(rows) - 1
                assert n_pad == 0 or last
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
    assert totals["train_tokens"] + totals["eval_tokens"] == total_tokens
    assert set(manifest["shards"][0]["tokens_by_language"]) <= {"Python", ""}


def test_every_packed_document_is_an_original(built, tok, records) -> None:
    out, manifest = built
    texts = Counter(r["text"] for r in records)
    sp = tok.specials
    for split in ("train", "eval"):
        stream: list[int] = []
        for row in _rows(out, manifest, split):
            stream.extend(row["input_ids"][: SEQ - row["n_pad"]])
        docs, start = [], 0
        for i, t in enumerate(stream):
            if t == sp.eos:
                docs.append(stream[start : i + 1])
                start = i + 1
        assert start == len(stream)  # the stream ends with a whole document
        n = manifest["totals"]["documents"][f"{split}_documents"]
        assert len(docs) == n > 0
        for d in docs:
            assert texts[undo_fim_ids(d, sp, tok.decode)] > 0


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


def _files(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir()) if p.is_file()}


def test_byte_identical_across_batchings(built, records, tok, tmp_path: Path) -> None:
    """What a parallel stage does: encode 3 partitions independently, in any order, then one sorted pass."""
    out, _ = built
    parts = [records[0::3], records[1::3], records[2::3]]
    encoded = []
    for part in reversed(parts):  # partition order must not matter
        encoded.extend(encode_documents(tok, list(reversed(part)), ENC, SEED))
    plan = plan_mixture(tokens_by_domain(encoded), CONFIG.mixture, max_repeat=CONFIG.max_repeat)
    by_id = {r["id"]: r for r in records}
    mixed = []
    for k in range(3):  # mixture expansion per partition, too
        mixed.extend(apply_mixture(tok, encoded[k::3], by_id, plan, seed=SEED, encode_config=ENC))
    ordered = sort_docs(mixed, SEED)
    write_shards(ordered, tmp_path, tok, seed=SEED, encode_config=ENC, config=CONFIG,
                 mixture_report=plan.report(tokens_by_domain(ordered)), extra={"skipped_documents": {}})
    assert _files(tmp_path) == _files(out)
    other = build_shards(records, tok, tmp_path / "seed2", seed=SEED + 1, encode_config=ENC, config=CONFIG)
    assert other["shards"][0]["sha256"] != json.loads((out / "manifest.json").read_text())["shards"][0]["sha256"]


def test_mixture_shares_reported_near_target(built) -> None:
    _, manifest = built
    mix = manifest["mixture"]
    assert mix["target"] == {"code": 0.6, "math": 0.1, "text": 0.3}
    for domain, share in mix["target"].items():
        assert abs(mix["achieved"][domain] - share) < 0.05, mix
    assert sum(mix["achieved_tokens"].values()) == manifest["totals"]["train_tokens"]
    assert mix["missing"] == []


def test_missing_domain_is_reported(records, tok, tmp_path: Path) -> None:
    no_math = [r for r in records if r["domain"] != "math"][:300]
    manifest = build_shards(no_math, tok, tmp_path, seed=SEED, encode_config=ENC, config=CONFIG)
    mix = manifest["mixture"]
    assert mix["missing"] == ["math"] and mix["achieved"]["math"] == 0.0
    assert manifest["totals"]["train_tokens"] > 0


def test_plan_mixture_edges() -> None:
    plan = plan_mixture({}, {"code": 0.6, "text": 0.4})
    assert plan.rates == {} and plan.missing == ["code", "text"]
    assert plan.copies(0, "x", "code") == 0
    plan = plan_mixture({"code": 1000, "text": 100, "other": 50}, {"code": 0.5, "text": 0.5}, max_repeat=4.0)
    assert plan.untargeted == ["other"] and plan.capped == ["text"]
    assert plan.rates["text"] == pytest.approx(4.0) and plan.rates["code"] == pytest.approx(0.4)
    copies = [plan.copies(7, f"d{i}", "code") for i in range(20000)]
    assert set(copies) == {0, 1} and abs(sum(copies) / 20000 - 0.4) < 0.02
    assert [plan.copies(7, f"d{i}", "text") for i in range(50)] == [4] * 50
    with pytest.raises(ValueError):
        plan_mixture({"code": 1}, {"code": -1.0})


def test_eval_documents_not_repeated_and_fallback(records, tok, tmp_path: Path) -> None:
    encoded = encode_documents(tok, records, ENC, SEED)
    plan = plan_mixture(tokens_by_domain(encoded), {"code": 0.2, "math": 0.5, "text": 0.3})
    mixed = apply_mixture(tok, encoded, {r["id"]: r for r in records}, plan, seed=SEED, encode_config=ENC)
    eval_ids = [d.doc_id for d in mixed if d.split == "eval"]
    assert eval_ids and len(eval_ids) == len(set(eval_ids))
    assert not set(eval_ids) & {d.doc_id for d in mixed if d.split == "train"}
    assert max(d.rep for d in mixed) >= 1  # math was repeated
    # No document drawn for eval: the last train shard is held out instead.
    cfg = EncodeConfig(eval_fraction=0.0)
    small = ShardConfig(seq_len=SEQ, rows_per_shard=20, row_group_rows=8)
    manifest = build_shards(records[:400], tok, tmp_path, seed=SEED, encode_config=cfg, config=small)
    assert len(manifest["shards"]) >= 3
    splits = [s["split"] for s in manifest["shards"]]
    assert splits[-1] == "eval" and splits.count("eval") == 1 and "train" in splits
    assert (tmp_path / "eval-00000.parquet").exists() and manifest["eval"]["unit"] == "last_train_shard"


def test_arrow_form_sorts_like_sort_docs(records, tok, built, tmp_path: Path) -> None:
    """A parallel stage can carry encoded docs as Arrow, sort them with Arrow, and stream them to the writer."""
    from tokenizer import SORT_COLUMNS, encoded_to_table, table_to_encoded

    out, _ = built
    encoded = encode_documents(tok, records, ENC, SEED)
    plan = plan_mixture(tokens_by_domain(encoded), CONFIG.mixture, max_repeat=CONFIG.max_repeat)
    mixed = apply_mixture(tok, encoded, {r["id"]: r for r in records}, plan, seed=SEED, encode_config=ENC)
    parts = [encoded_to_table(mixed[k::4], SEED) for k in range(4)]
    table = pa.concat_tables(parts).sort_by(SORT_COLUMNS)
    back = list(table_to_encoded(table))
    ref = sort_docs(mixed, SEED)
    assert [(d.doc_id, d.rep) for d in back] == [(d.doc_id, d.rep) for d in ref]
    assert all((a.ids == b.ids).all() and a.ids.dtype == b.ids.dtype for a, b in zip(back, ref))
    write_shards(table_to_encoded(table), tmp_path, tok, seed=SEED, encode_config=ENC, config=CONFIG,
                 mixture_report=plan.report(tokens_by_domain(back)), extra={"skipped_documents": {}})
    assert _files(tmp_path) == _files(out)


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
    manifest = build_shards([], tok, tmp_path / "empty", seed=SEED, encode_config=ENC, config=CONFIG)
    assert manifest["shards"] == [] and manifest["totals"]["tokens"] == 0
    assert manifest["mixture"]["missing"] == ["code", "math", "text"]
    bad = [{"id": "x", "text": None, "domain": "code"}, {"id": "y", "text": "", "domain": "code"},
           {"id": "z", "text": "print(1)\n", "domain": "code", "source": "github", "language": "Python"}]
    manifest = build_shards(bad, tok, tmp_path / "bad", seed=SEED, encode_config=ENC, config=CONFIG)
    assert manifest["skipped_documents"] == {"text_not_string": 1, "empty_text": 1}
    assert manifest["totals"]["rows"] == 1 and manifest["shards"][0]["tokens"] < SEQ
