"""The shards stage: byte-identical shards whatever the partitioning and the runner, resume by step,
whole repositories held out, a mixture that keeps every domain, and an error when no code is left."""

from __future__ import annotations

import hashlib
import logging
import sysconfig
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpus import storage
from corpus.engine.context import RunContext
from corpus.records import Doc, docs_to_table
from corpus.stages import shards as shards_mod
from corpus.stages.shards import EmptyCorpusError, ShardsConfig, ShardsStage

CFG = dict(vocab_size=700, seq_len=129, rows_per_shard=16, range_tokens=6000, eval_fraction=0.2)


def _sample(repo: str, files: list[Path], root: Path) -> Doc:
    """A repository sample as repo_samples writes it: path comment + text per file, with spans."""
    pieces, spans, langs, pos = [], [], [], 0
    for f in files:
        head = f"# path: {f.relative_to(root)}\n"
        text = f.read_text()
        spans.append([pos, pos + len(head), pos + len(head) + len(text)])
        langs.append("Python")
        pieces.append(head + text)
        pos += len(head) + len(text) + 1
    return Doc(source="github", domain="code", repo=repo, path=repo, text="\n".join(pieces), language="Python",
               meta={"spans": spans, "languages": langs})


def _docs() -> list[Doc]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    docs = [_sample("json", sorted(stdlib.glob("json/*.py")), stdlib),
            _sample("email", sorted(stdlib.glob("email/*.py"))[:6], stdlib)]
    docs += [Doc(source="github", domain="code", repo=f"r{i}", path=f"r{i}", text=f"def f{i}(x):\n    return x + {i}\n" * 3,
                 language="Python") for i in range(12)]
    docs += [Doc(source="web", domain="text", path=f"https://site{i % 4}.example.org/p{i}", text=f"Plain prose {i} about parsing text. " * 30)
             for i in range(8)]
    return docs


def _inputs(tmp: Path, docs: list[Doc], parts: int) -> list[str]:
    tmp.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(parts):
        path = tmp / f"in-{i}.parquet"
        pq.write_table(docs_to_table(docs[i::parts]), path)
        out.append(str(path))
    return out


def _run(tmp: Path, parts: int, runner=None, docs: list[Doc] | None = None, **cfg):
    inputs = _inputs(tmp, docs or _docs(), parts)
    kwargs = {"runner": runner} if runner is not None else {}
    ctx = RunContext(str(tmp / "out"), stage_name="shards", seed=7, stage_key="k1", **kwargs)
    stats = ShardsStage(ShardsConfig(**{**CFG, **cfg})).run(ctx, inputs)
    stats.check("shards")
    return ctx, stats


def _digest(folder: str) -> dict[str, str]:
    return {n: hashlib.sha256(storage.read_bytes(storage.join(folder, n))).hexdigest() for n in storage.listdir(folder)}


def _manifest(ctx) -> dict:
    return storage.read_json(storage.join(ctx.stage_uri, "manifest.json"))


def test_partitioning_and_runner_do_not_change_a_byte(tmp_path, ray_runner) -> None:
    one, _ = _run(tmp_path / "one", 1)
    three, _ = _run(tmp_path / "three", 3, runner=ray_runner)
    a, b = _digest(one.stage_uri), _digest(three.stage_uri)
    assert "manifest.json" in a and "tokenizer_config.json" in a
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(one.stage_uri)  # tokenizer.json + tokenizer_config.json
    specials = _manifest(one)["special_tokens"]
    assert (hf.bos_token_id, hf.eos_token_id, hf.pad_token_id) == (specials["bos"], specials["eos"], specials["pad"])
    assert hf("x = 1").input_ids[0] == specials["bos"]
    m = _manifest(one)
    assert m["pack_ranges"]["train"] >= 2  # several pack tasks wrote shards
    assert len({s["path"].split("-")[1] for s in m["shards"] if s["split"] == "train"}) >= 2
    assert a == b


def test_fim_examples_whole_and_counted(tmp_path) -> None:
    ctx, _ = _run(tmp_path, 2)
    m = _manifest(ctx)
    fim = m["fim_examples"]
    assert fim["made"] > 0 and fim["complete_in_one_row"] == fim["made"]
    sp = m["special_tokens"]
    made = 0
    for s in m["shards"]:
        for row in pq.read_table(Path(ctx.stage_uri) / s["path"]).to_pylist():
            ids, offs = row["input_ids"], row["doc_offsets"]
            ends = offs[1:] + [len(ids) - row["n_pad"]]
            for a, b in zip(offs, ends):
                seg = ids[a:b]
                if sp["fim_begin"] in seg:
                    made += 1
                    # The whole example is in this segment: begin ... hole ... end ... EOS.
                    assert seg[0] == sp["bos"] and seg[1] == sp["fim_begin"] and seg[-1] == sp["eos"]
                    assert seg.index(sp["fim_hole"]) < seg.index(sp["fim_end"])
    assert made == fim["made"]
    assert m["seq_len"] == 129 and all(len(r) == 129 for s in m["shards"] for r in pq.read_table(Path(ctx.stage_uri) / s["path"]).column("input_ids").to_pylist())


def test_whole_repositories_and_hosts_go_to_eval(tmp_path) -> None:
    from tokenizer.chunks import eval_group, split_of_group

    ctx, _ = _run(tmp_path, 2)
    m = _manifest(ctx)
    docs = _docs()
    want = {d.repo or d.path for d in docs if split_of_group(7, eval_group(d.source, d.repo, d.path), 0.2) == "eval"}
    assert want, "the seed must put some group in eval"
    assert m["totals"]["eval_tokens"] > 0
    # Same-host pages share the split.
    hosts = {}
    for d in docs:
        if d.repo is None:
            hosts.setdefault(d.path.split("/")[2], set()).add(split_of_group(7, eval_group(d.source, None, d.path), 0.2))
    assert all(len(v) == 1 for v in hosts.values())


def test_mixture_keeps_every_domain_and_warns(tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="corpus")
    ctx, stats = _run(tmp_path, 2, mixture={"code": 0.2, "text": 0.8}, max_repeat=2.0)
    m = _manifest(ctx)
    mix = m["mixture"]
    assert not stats.dropped.get("mixture_downsampled")
    assert mix["rates"]["code"] == 1.0 and mix["rates"]["text"] == 2.0  # text capped: up-sampled, code kept once
    assert mix["achieved"]["text"] < 0.75 and m["warnings"] and any("text" in w for w in m["warnings"])
    assert any("mixture: text" in r.getMessage() for r in caplog.records if r.name == "corpus")
    report = storage.read_json(storage.join(ctx.reports_uri, "shards.json"))
    assert report["mixture"]["achieved"] == mix["achieved"]
    strict, sstats = _run(tmp_path / "strict", 2, mixture={"code": 0.2, "text": 0.8}, max_repeat=2.0, keep_shares="strict")
    assert sstats.dropped["mixture_downsampled"] > 0


def test_no_code_token_is_an_error(tmp_path) -> None:
    web = [d for d in _docs() if d.domain == "text"]
    with pytest.raises(EmptyCorpusError, match="no code token"):
        _run(tmp_path, 1, docs=web)
    ctx, _ = _run(tmp_path / "allowed", 1, docs=web, allow_empty=True)
    assert _manifest(ctx)["totals"]["tokens"] > 0


@pytest.mark.parametrize("step", ["encode", "mix", "pack"])
def test_killed_driver_resumes_at_its_step(tmp_path, monkeypatch, step) -> None:
    ref, _ = _run(tmp_path / "ref", 2)
    inputs = _inputs(tmp_path / "kill", _docs(), 2)
    ctx = RunContext(str(tmp_path / "kill" / "out"), stage_name="shards", seed=7, stage_key="k1")
    target = {"encode": "encode_part", "mix": "mix_part", "pack": "pack_range"}[step]
    calls = []
    real = getattr(shards_mod, target)

    def dying(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("driver killed")
        return real(*args)

    monkeypatch.setattr(shards_mod, target, dying)
    stage = ShardsStage(ShardsConfig(**CFG))
    with pytest.raises(KeyboardInterrupt):
        stage.run(ctx, inputs)
    monkeypatch.setattr(shards_mod, target, real)
    done_before = {n for n in ("tokenizer", "encode", "mix", "pack") if ctx.load_step(n) is not None}
    order = ["tokenizer", "encode", "mix", "pack"]
    assert done_before == set(order[: order.index(step)])
    called = []
    for name in ("train_tokenizer", "encode_part", "mix_part"):
        fn = getattr(shards_mod, name)
        monkeypatch.setattr(shards_mod, name, lambda *a, _fn=fn, _n=name: (called.append(_n), _fn(*a))[1])
    stage.run(ctx, inputs).check("shards")
    assert "train_tokenizer" not in called  # finished steps are not redone
    assert ("encode_part" in called) == (step == "encode")
    assert _digest(ctx.stage_uri) == {k: v for k, v in _digest(ref.stage_uri).items()}


def test_unencodable_documents_are_quarantined(tmp_path) -> None:
    docs = _docs()[:4] + [Doc(source="github", domain="code", repo="cpython", path="empty.py", text="")]
    ctx, stats = _run(tmp_path, 1, docs=docs)
    dropped = pq.read_table(Path(ctx.stage_uri) / "_dropped" / "part-00000.parquet").to_pylist()
    assert [(d["path"], d["reason"]) for d in dropped if d["reason"].startswith("encode_")] == [("empty.py", "encode_empty_text")]
    assert stats.dropped["encode_empty_text"] == 1


def test_stage_writes_what_the_single_process_reference_writes(tmp_path) -> None:
    """Tasks + ranges + resume machinery give the bytes of tokenizer.build_shards; with an eval draw that
    holds out nothing, one whole repository or host is held out (the one closest to the eval share)."""
    from tokenizer import build_shards, load_tokenizer

    ctx, _ = _run(tmp_path / "stage", 3, eval_fraction=1e-6)
    m = _manifest(ctx)
    assert "forced" in m["eval"]["unit"] and m["totals"]["eval_tokens"] > 0
    tok = load_tokenizer(Path(ctx.stage_uri) / "tokenizer.json")
    # The stage's own config is the library's: passed as it is, nothing copied into another shape.
    ref = build_shards([d.row() for d in _docs()], tok, tmp_path / "ref", seed=7, config=ShardsConfig(**{**CFG, "eval_fraction": 1e-6}))
    assert [(s["path"], s["sha256"]) for s in ref["shards"]] == [(s["path"], s["sha256"]) for s in m["shards"]]
    assert ref["mixture"] == m["mixture"] and ref["fim_examples"] == m["fim_examples"]


def test_object_store_output_matches_local(tmp_path, s3_server, monkeypatch) -> None:
    """OUT on a real S3 server (SeaweedFS): same shards, manifest and tokenizer as on a local folder."""
    local, _ = _run(tmp_path / "local", 2)
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    storage.configure(None)
    try:
        inputs = _inputs(tmp_path / "s3in", _docs(), 3)
        ctx = RunContext(f"s3://{s3_server.bucket}/shards-stage", stage_name="shards", seed=7, stage_key="k1")
        ShardsStage(ShardsConfig(**CFG)).run(ctx, inputs).check("shards")
        assert _digest(ctx.stage_uri) == _digest(local.stage_uri)
    finally:
        storage.configure(None)


def test_tokenizer_sample_pieces_cover_the_text_and_end_at_lines() -> None:
    from corpus.stages.shards import text_pieces

    text = "".join(f"line {i} " + "x" * (i % 97) + "\n" for i in range(3000))
    pieces = text_pieces(text, 1000)
    assert "".join(pieces) == text and len(pieces) > 50
    assert all(p.endswith("\n") for p in pieces) and all(len(p) <= 1250 for p in pieces)
    one_line = "y" * 5000  # no line end near the cut: cut at the size
    assert [len(p) for p in text_pieces(one_line, 1000)] == [1000] * 5
    assert text_pieces("", 10) == []
