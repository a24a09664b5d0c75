"""Data loader, training loop, checkpoints and CLI of `pretrain/`, on shards written here per
docs/contracts.md (the shard writer is another package; pretrain must work from the format alone)."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from pretrain import cli
from pretrain.config import TrainConfig, preset
from pretrain.data import IGNORE, ShardError, ShardLoader, read_manifest
from pretrain.train import CHECKPOINT, METRICS, train

SPECIALS = {"bos": 0, "eos": 1, "fim_hole": 2, "fim_begin": 3, "fim_end": 4, "pad": 1}
SHARD_SCHEMA = pa.schema([
    ("input_ids", pa.list_(pa.int32())), ("doc_offsets", pa.list_(pa.int32())),
    ("doc_sources", pa.list_(pa.string())), ("doc_languages", pa.list_(pa.string())), ("n_pad", pa.int32()),
])


def write_shards(root: Path, rows: list[np.ndarray], seq_len: int, vocab: int, rows_per_shard: int,
                 eval_shards: int = 1, n_pad_last: int = 0, fmt: str = "coder-corpus-shards/2") -> Path:
    """Write `rows` as contract shards + manifest.json; the last `eval_shards` shards are split "eval",
    in files named as `fmt` names them (/2: validation-*, /1: eval-*)."""
    root.mkdir(parents=True, exist_ok=True)
    chunks = [rows[i:i + rows_per_shard] for i in range(0, len(rows), rows_per_shard)]
    entries = []
    for n, chunk in enumerate(chunks):
        n_pad = [0] * len(chunk)
        if n == len(chunks) - 1 and n_pad_last:
            chunk = [r.copy() for r in chunk]
            chunk[-1][seq_len - n_pad_last:] = SPECIALS["pad"]
            n_pad[-1] = n_pad_last
        table = pa.table({
            "input_ids": [r.astype(np.int32).tolist() for r in chunk],
            "doc_offsets": [[0] for _ in chunk], "doc_sources": [["github"] for _ in chunk],
            "doc_languages": [["Python"] for _ in chunk], "n_pad": n_pad,
        }, schema=SHARD_SCHEMA)
        split = "eval" if n >= len(chunks) - eval_shards else "train"
        prefix = "train" if split == "train" else ("eval" if fmt.endswith("/1") else "validation")
        name = f"{prefix}-00000-{n:05d}.parquet"
        pq.write_table(table, root / name, compression="zstd")
        tokens = len(chunk) * seq_len
        entries.append({"path": name, "split": split,
                        "rows": len(chunk), "tokens": tokens, "tokens_by_source": {"github": tokens},
                        "tokens_by_language": {"Python": tokens},
                        "sha256": hashlib.sha256((root / name).read_bytes()).hexdigest()})
    train_tokens = sum(e["tokens"] for e in entries if e["split"] == "train")
    manifest = {
        "format": fmt, "seq_len": seq_len, "dtype": "int32", "vocab_size": vocab,
        "tokenizer": {"path": "tokenizer.json", "sha256": ""}, "special_tokens": SPECIALS,
        "fim": {"rate": 0.5, "mode": "psm", "spm_rate": 0.0, "domains": ["code"], "split": "character"},
        "seed": 1234, "mixture": {"target": {"code": 1.0}, "achieved": {"code": 1.0}}, "shards": entries,
        "totals": {"rows": len(rows), "tokens": len(rows) * seq_len, "train_tokens": train_tokens,
                   "eval_tokens": len(rows) * seq_len - train_tokens},
    }
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return root


def pattern_rows(n: int, seq_len: int, vocab: int, seed: int = 0, noise: float = 0.1) -> list[np.ndarray]:
    """Rows following a fixed random successor map (a learnable bigram) with `noise` random ids and FIM
    sentinels sprinkled in, so a model that learns something shows a falling loss."""
    rng = np.random.default_rng(seed)
    successor = np.random.default_rng(99).permutation(np.arange(5, vocab))
    successor = np.concatenate((np.arange(5), successor))  # ids >= 5 map to ids >= 5
    rows = []
    for _ in range(n):
        row = np.empty(seq_len, np.int64)
        row[0] = rng.integers(5, vocab)
        for j in range(1, seq_len):
            row[j] = rng.integers(0, vocab) if rng.random() < noise else successor[row[j - 1]]
            if row[j] < 5:
                row[j] = successor[rng.integers(5, vocab)]
        row[rng.integers(1, seq_len, 3)] = [3, 2, 4]  # fim_begin, fim_hole, fim_end
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def pattern_shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pattern") / "shards"
    return write_shards(root, pattern_rows(48, 257, 128), 257, 128, rows_per_shard=16, n_pad_last=40)


def tiny_train(steps: int, **kw) -> TrainConfig:
    values = {"steps": steps, "batch_size": 4, "seq_len": 65, "lr": 3e-3, "warmup_steps": 5,
              "eval_every": 0, "log_every": 5, "ckpt_every": 0}
    values.update(kw)
    return TrainConfig(**values)


# --- data -------------------------------------------------------------------------------------------

def test_manifest_and_splits(pattern_shards: Path) -> None:
    m = read_manifest(pattern_shards)
    assert (m.seq_len, m.vocab_size) == (257, 128)
    assert [s.split for s in m.shards] == ["train", "train", "eval"]


def test_older_eval_file_names_still_read_and_unknown_formats_refused(tmp_path: Path) -> None:
    rows = pattern_rows(12, 33, 64)
    old = write_shards(tmp_path / "v1", rows, 33, 64, rows_per_shard=4, fmt="coder-corpus-shards/1")
    new = write_shards(tmp_path / "v2", rows, 33, 64, rows_per_shard=4)
    assert [e["path"] for e in json.loads((old / "manifest.json").read_text())["shards"]][-1] == "eval-00000-00002.parquet"
    assert [e["path"] for e in json.loads((new / "manifest.json").read_text())["shards"]][-1] == "validation-00000-00002.parquet"
    got = [[x for x, _ in ShardLoader(read_manifest(r), "eval", batch_size=4, loop=False)] for r in (old, new)]
    assert len(got[0]) == len(got[1]) == 1 and torch.equal(got[0][0], got[1][0])
    manifest = json.loads((new / "manifest.json").read_text())
    (new / "manifest.json").write_text(json.dumps({**manifest, "format": "coder-corpus-shards/9"}))
    with pytest.raises(ShardError, match="shards/9"):
        read_manifest(new)


def test_missing_manifest_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ShardError, match="no manifest"):
        read_manifest(tmp_path)


def test_loader_shifts_targets_and_keeps_fim_tokens(pattern_shards: Path) -> None:
    m = read_manifest(pattern_shards)
    loader = ShardLoader(m, "train", batch_size=2)  # full rows
    inputs, targets = next(loader)
    row0 = pq.read_table(pattern_shards / "train-00000-00000.parquet").column("input_ids")[0].as_py()
    assert inputs.shape == targets.shape == (2, 256)
    assert inputs[0].tolist() == row0[:-1] and targets[0].tolist() == row0[1:]
    assert {2, 3, 4} <= set(targets[0].tolist())  # FIM sentinels are ordinary targets


def test_loader_windows_cover_every_target_once(pattern_shards: Path) -> None:
    m = read_manifest(pattern_shards)
    loader = ShardLoader(m, "train", batch_size=4, seq_len=65)  # (257-1)/(65-1) = 4 windows per row
    inputs, targets = next(loader)
    row0 = pq.read_table(pattern_shards / "train-00000-00000.parquet").column("input_ids")[0].as_py()
    assert torch.cat(list(targets)).tolist() == row0[1:]
    assert inputs[1, 0].item() == row0[64]  # windows overlap by one id


def test_loader_ignores_padding_targets(pattern_shards: Path) -> None:
    m = read_manifest(pattern_shards)
    batches = list(ShardLoader(m, "eval", batch_size=16, loop=False))
    targets = torch.cat([t for _, t in batches])
    assert targets.shape[0] == 16
    last = targets[-1]
    assert (last[257 - 40 - 1:] == IGNORE).all() and (last[:257 - 40 - 1] != IGNORE).all()
    assert (targets[:-1] != IGNORE).all()


def test_loader_cursor_resumes_exactly(pattern_shards: Path) -> None:
    m = read_manifest(pattern_shards)
    a = ShardLoader(m, "train", batch_size=3, seq_len=65)
    for _ in range(13):  # crosses a shard boundary (16 rows x 4 windows per shard)
        next(a)
    b = ShardLoader(m, "train", batch_size=3, seq_len=65)
    b.load_state_dict(a.state_dict())
    for _ in range(30):  # and an epoch boundary
        xa, ya = next(a)
        xb, yb = next(b)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert a.epoch >= 1


def test_bad_rows_and_missing_shards_are_skipped(tmp_path: Path) -> None:
    root = write_shards(tmp_path / "s", pattern_rows(8, 33, 64), 33, 64, rows_per_shard=4, eval_shards=0)
    good = pq.read_table(root / "train-00000-00000.parquet")
    ids = good.column("input_ids").to_pylist()
    ids[1] = ids[1][:10]  # wrong length
    ids[2][5] = 10_000  # outside the vocabulary
    pq.write_table(good.set_column(0, "input_ids", pa.array(ids, pa.list_(pa.int32()))), root / "train-00000-00000.parquet")
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["shards"].insert(1, {"path": "gone.parquet", "split": "train", "rows": 4})
    (root / "manifest.json").write_text(json.dumps(manifest))
    rows = [x for x, _ in ShardLoader(read_manifest(root), "train", batch_size=1, loop=False)]
    assert len(rows) == 2 + 4  # 2 usable rows of the damaged shard, none of the missing one, 4 of the last


# --- training -----------------------------------------------------------------------------------------

def test_initial_loss_is_ln_vocab(pattern_shards: Path, tmp_path: Path) -> None:
    summary = train(pattern_shards, tmp_path, preset("tiny"), tiny_train(1), log=lambda s: None)
    assert abs(summary["first_loss"] - math.log(128)) < 0.05 * math.log(128)


def test_overfits_one_batch() -> None:
    torch.manual_seed(0)
    from pretrain.model import Transformer
    model = Transformer(preset("tiny", vocab_size=64, max_seq_len=32))
    ids = torch.randint(0, 64, (2, 33))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(60):
        logits, aux = model(ids[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten())
        opt.zero_grad()
        (loss + aux).backward()
        opt.step()
    assert loss.item() < 0.1, loss.item()


def test_loss_falls_and_metrics_are_written(pattern_shards: Path, tmp_path: Path) -> None:
    summary = train(pattern_shards, tmp_path, preset("tiny"), tiny_train(60, eval_every=30, eval_batches=2),
                    log=lambda s: None)
    rows = [json.loads(line) for line in (tmp_path / METRICS).read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]
    for r in rows:
        assert {"step", "loss", "aux_loss", "lr", "grad_norm", "tokens_per_s"} <= r.keys()
        assert r["aux_loss"] > 0 and r["tokens_per_s"] > 0 and len(r["load_imbalance"]) == 2
    evals = [r["eval_loss"] for r in rows if "eval_loss" in r]
    assert len(evals) == 2
    # A bigram with 10% noise: far below ln(128) = 4.85 once learned.
    assert summary["last_loss"] < summary["first_loss"] - 1.5
    assert evals[-1] < math.log(128) - 1.5
    assert rows[-1]["lr"] < rows[3]["lr"]  # cosine decay after warmup
    assert (tmp_path / CHECKPOINT).exists()


def test_resume_is_exact(pattern_shards: Path, tmp_path: Path) -> None:
    quiet: Callable[[str], None] = lambda s: None  # noqa: E731
    cfg = tiny_train(12, log_every=1)
    for attention in ("mha", "mla"):
        model_cfg = preset("tiny", attention=attention, bias_balance=True, bias_update_speed=0.01)
        straight, split = tmp_path / f"{attention}-a", tmp_path / f"{attention}-b"
        train(pattern_shards, straight, model_cfg, cfg, log=quiet)
        train(pattern_shards, split, model_cfg, cfg, stop_after=6, log=quiet)
        train(pattern_shards, split, model_cfg, cfg, resume=True, log=quiet)
        a = torch.load(straight / CHECKPOINT, weights_only=True)
        b = torch.load(split / CHECKPOINT, weights_only=True)
        assert a["step"] == b["step"] == 12 and a["loaders"] == b["loaders"]
        for key, tensor in a["model"].items():
            assert torch.equal(tensor, b["model"][key]), key
        assert any(k.endswith("router.bias") and v.abs().sum() > 0 for k, v in b["model"].items())
        rows_a = (straight / METRICS).read_text().splitlines()
        rows_b = (split / METRICS).read_text().splitlines()
        strip = lambda rows: [{k: v for k, v in json.loads(r).items() if k != "tokens_per_s"} for r in rows]  # noqa: E731
        assert strip(rows_a) == strip(rows_b)


# --- CLI ----------------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="corpus")
    cli.add_commands(parser.add_subparsers(dest="command"))
    return parser


def test_cli_help_and_train(pattern_shards: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = _parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--help"])
    assert "--resume" in capsys.readouterr().out
    args = parser.parse_args(["train", "--shards", str(pattern_shards), "--out", str(tmp_path), "--steps", "3",
                              "--seq-len", "65", "--batch-size", "2", "--log-every", "1", "--attention", "mla"])
    assert args.func(args) == 0
    assert len((tmp_path / METRICS).read_text().splitlines()) == 3


def test_cli_reports_missing_shards(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["train", "--shards", str(tmp_path / "none"), "--out", str(tmp_path / "t")])
    assert args.func(args) == 2
    assert "no manifest" in capsys.readouterr().err


def test_evaluate_leaves_router_state_alone(pattern_shards: Path) -> None:
    from pretrain.model import Transformer
    from pretrain.train import evaluate

    torch.manual_seed(0)
    model = Transformer(preset("tiny", vocab_size=128, max_seq_len=64, bias_balance=True))
    model.train()
    model(torch.randint(0, 128, (2, 64)))
    before = {k: v.clone() for k, v in model.named_buffers() if "router" in k}
    loss = evaluate(model, read_manifest(pattern_shards), 4, 65, 2, torch.device("cpu"), amp=False)
    assert loss is not None and loss > 0 and model.training
    for k, v in model.named_buffers():
        if "router" in k:
            assert torch.equal(v, before[k]), k


@pytest.fixture(scope="module")
def text_shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shards of real Python source (stdlib modules), tokenized by a byte-level BPE trained here."""
    tokenizers = pytest.importorskip("tokenizers")
    import argparse as a  # noqa: E401
    import dataclasses as dc
    import inspect as ins
    import json as j
    import pathlib as pl
    import textwrap as tw

    texts = [Path(m.__file__).read_text(encoding="utf-8") for m in (a, j.decoder, j.encoder, pl, tw, dc, ins)]
    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    specials = ["<bos>", "<eos>", "<fim_hole>", "<fim_begin>", "<fim_end>"]
    tok.train_from_iterator(texts, tokenizers.trainers.BpeTrainer(vocab_size=512, special_tokens=specials,
                                                                  initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet()))
    stream: list[int] = []
    for text in texts:
        stream += [0] + tok.encode(text).ids + [1]
    seq_len = 129
    rows = [np.array(stream[i:i + seq_len]) for i in range(0, len(stream) - seq_len, seq_len)]
    root = tmp_path_factory.mktemp("text") / "shards"
    return write_shards(root, rows[:160], seq_len, tok.get_vocab_size(), rows_per_shard=40)


def test_loss_falls_on_real_text_shards(text_shards: Path, tmp_path: Path) -> None:
    vocab = read_manifest(text_shards).vocab_size
    cfg = TrainConfig(steps=80, batch_size=8, seq_len=129, lr=3e-3, warmup_steps=10, eval_every=80,
                      eval_batches=5, log_every=10, ckpt_every=0)
    summary = train(text_shards, tmp_path, preset("tiny"), cfg, log=lambda s: None)
    assert abs(summary["first_loss"] - math.log(vocab)) < 0.3
    assert summary["eval_loss"] < math.log(vocab) - 1.0, summary


def test_resume_after_crash_rewinds_metrics(pattern_shards: Path, tmp_path: Path) -> None:
    import shutil

    cfg = tiny_train(8, log_every=1)
    train(pattern_shards, tmp_path, preset("tiny"), cfg, stop_after=4, log=lambda s: None)
    shutil.copy(tmp_path / CHECKPOINT, tmp_path / "step4.pt")
    train(pattern_shards, tmp_path, preset("tiny"), cfg, resume=True, log=lambda s: None)
    first = [json.loads(r)["loss"] for r in (tmp_path / METRICS).read_text().splitlines()]
    # A crash after step 8's metrics but with only the step-4 checkpoint on disk:
    shutil.copy(tmp_path / "step4.pt", tmp_path / CHECKPOINT)
    with open(tmp_path / METRICS, "a") as fh:
        fh.write('{"step": 9, "lo')  # and a line torn by the crash
    train(pattern_shards, tmp_path, preset("tiny"), cfg, resume=True, log=lambda s: None)
    rows = [json.loads(r) for r in (tmp_path / METRICS).read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert [r["loss"] for r in rows] == first


def test_missing_eval_split_is_reported(tmp_path: Path) -> None:
    root = write_shards(tmp_path / "s", pattern_rows(8, 33, 64), 33, 64, rows_per_shard=4, eval_shards=0)
    lines: list[str] = []
    summary = train(root, tmp_path / "t", preset("tiny"), tiny_train(2, seq_len=33, eval_every=1), log=lines.append)
    assert summary["eval_loss"] is None and any("no eval shards" in line for line in lines)


def test_schedule_warms_up_then_decays_to_ten_percent() -> None:
    from pretrain.train import lr_factor

    assert lr_factor(0, 10, 100, 0.1) == pytest.approx(0.1)
    assert lr_factor(9, 10, 100, 0.1) == pytest.approx(1.0)
    assert lr_factor(10, 10, 100, 0.1) == pytest.approx(1.0)
    assert lr_factor(55, 10, 100, 0.1) == pytest.approx(0.55)  # half way down the cosine
    assert lr_factor(100, 10, 100, 0.1) == pytest.approx(0.1)
    assert lr_factor(500, 10, 100, 0.1) == pytest.approx(0.1)


def test_bench_runs_every_dispatch_path() -> None:
    from pretrain.bench import bench_dispatch
    from pretrain.model import grouped_mm_works

    result = bench_dispatch(tokens=32, repeats=1)
    assert result["loop_s"] > 0 and ("grouped_mm_s" in result) == grouped_mm_works("cpu", torch.float32)


def test_window_longer_than_rows_is_capped(tmp_path: Path) -> None:
    root = write_shards(tmp_path / "s", pattern_rows(8, 33, 64), 33, 64, rows_per_shard=4)
    lines: list[str] = []
    train(root, tmp_path / "t", preset("tiny"), tiny_train(1, seq_len=129), log=lines.append)
    assert torch.load(tmp_path / "t" / CHECKPOINT, weights_only=True)["loaders"][0]["seq_len"] == 33
    assert any("using 33" in line for line in lines)


def test_grad_accumulation_matches_one_big_batch(pattern_shards: Path, tmp_path: Path) -> None:
    big = train(pattern_shards, tmp_path / "big", preset("tiny"), tiny_train(3, batch_size=4), log=lambda s: None)
    acc = train(pattern_shards, tmp_path / "acc", preset("tiny"), tiny_train(3, batch_size=2, grad_accum=2),
                log=lambda s: None)
    assert acc["last_loss"] == pytest.approx(big["last_loss"], rel=1e-5)
    norms = [[json.loads(r)["grad_norm"] for r in (tmp_path / d / METRICS).read_text().splitlines()]
             for d in ("big", "acc")]
    assert norms[1] == pytest.approx(norms[0], rel=1e-4)  # (Adam itself is blind to a gradient scale)
    a = torch.load(tmp_path / "big" / CHECKPOINT, weights_only=True)["model"]
    b = torch.load(tmp_path / "acc" / CHECKPOINT, weights_only=True)["model"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)
