"""Data-parallel training under `torchrun --nproc_per_node 2` with Gloo on CPU, through the real CLI.

One module-scoped 2-process run of 16 steps is the reference for: both ranks stepping, rank 0 alone
writing, the loss of a single process with the same global batch, and a kill + resume. Tolerances:
2 ranks average two half-batch gradients where one process takes the mean of the whole batch, so the
float summation order differs; losses agree to 1e-4 relative and weights to 1e-4 after 16 steps
(measured: 1.6e-7 relative on the losses, 1.6e-6 absolute on the weights, DDP and FSDP2 alike).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from pretrain.config import TrainConfig, preset
from pretrain.data import TrainLoader, read_manifest
from pretrain.train import CHECKPOINT, METRICS, train
from tests.pretrain.test_pretrain_train import pattern_rows, write_shards

STEPS, BATCH = 16, 4  # per rank: the global batch is 8 sequences
CORPUS = str(Path(sys.executable).with_name("corpus"))


def torchrun_cmd(shards: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "--no-python", CORPUS, "train", "--shards", str(shards), "--out", str(out), "--preset", "tiny",
            "--steps", str(STEPS), "--batch-size", str(BATCH), "--seq-len", "65", "--warmup", "4",
            "--eval-every", "0", "--log-every", "1", "--ckpt-every", "2", "--bias-balance", "--bias-speed", "0.01",
            *extra]


def run(cmd: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / METRICS).read_text().splitlines()]


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # No padded rows: every rank's batch has the same number of target tokens, so the mean of the two
    # ranks' losses is the loss of the whole batch.
    root = tmp_path_factory.mktemp("dist") / "shards"
    return write_shards(root, pattern_rows(60, 257, 128), 257, 128, rows_per_shard=10)


@pytest.fixture(scope="module")
def two_ranks(shards: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    run(torchrun_cmd(shards, out))
    return out


def test_both_ranks_step_on_disjoint_rows_and_rank0_alone_writes(two_ranks: Path, shards: Path) -> None:
    ckpt = torch.load(two_ranks / CHECKPOINT, weights_only=True)
    loaders = ckpt["loaders"]
    assert ckpt["step"] == STEPS and ckpt["world_size"] == 2
    assert [s["rank"] for s in loaders] == [0, 1]
    assert all(s["epoch"] == 0 and s["pos"] == STEPS * BATCH for s in loaders)  # each rank drew its batches
    rows = [m["step"] for m in metrics(two_ranks)]
    assert rows == list(range(1, STEPS + 1))  # one line per step: rank 1 wrote nothing
    assert all(m["world_size"] == 2 for m in metrics(two_ranks))
    # The positions above are of these unit orders: disjoint, and together the single process's order.
    m = read_manifest(shards)
    r0, r1 = (TrainLoader(m, BATCH, 65, seed=1234, rank=r, world_size=2).order(0)[:STEPS * BATCH] for r in (0, 1))
    assert not set(r0.tolist()) & set(r1.tolist())
    one = TrainLoader(m, 2 * BATCH, 65, seed=1234).order(0)[:2 * STEPS * BATCH]
    assert sorted(np.concatenate((r0, r1)).tolist()) == sorted(one.tolist())


def test_two_ranks_equal_one_process_with_the_global_batch(two_ranks: Path, shards: Path, tmp_path: Path) -> None:
    """If a rank read the other's rows (or rows of neither), the losses would differ from step 1 on."""
    cfg = TrainConfig(steps=STEPS, batch_size=2 * BATCH, seq_len=65, warmup_steps=4, lr=3e-3, eval_every=0,
                      log_every=1, ckpt_every=0)
    train(shards, tmp_path, preset("tiny", bias_balance=True, bias_update_speed=0.01), cfg, log=lambda s: None)
    single, double = metrics(tmp_path), metrics(two_ranks)
    for a, b in zip(single, double, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4), (a, b)
        assert a["load_imbalance"] == pytest.approx(b["load_imbalance"], abs=1e-3)
    one = torch.load(tmp_path / CHECKPOINT, weights_only=True)["model"]
    two = torch.load(two_ranks / CHECKPOINT, weights_only=True)["model"]
    for k in one:
        torch.testing.assert_close(one[k], two[k], rtol=1e-4, atol=1e-4, msg=k)


def test_kill_and_resume_continues_exactly(two_ranks: Path, shards: Path, tmp_path: Path) -> None:
    """SIGKILL the whole torchrun job mid-run, resume it: weights, router biases, loader positions and
    logged losses equal the uninterrupted run bitwise (Gloo's all-reduce order is fixed)."""
    cmd = torchrun_cmd(shards, tmp_path)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    killed_at = None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        lines = (tmp_path / METRICS).read_text().splitlines() if (tmp_path / METRICS).exists() else []
        if len(lines) >= 5:  # step 5 logged: the step-4 checkpoint is on disk
            os.killpg(proc.pid, signal.SIGKILL)
            killed_at = len(lines)
            break
        time.sleep(0.01)
    proc.wait(timeout=60)
    assert killed_at is not None, "the run ended before it could be killed"
    at_kill = torch.load(tmp_path / CHECKPOINT, weights_only=True)["step"]
    assert 4 <= at_kill < STEPS
    run(cmd + ["--resume"])
    a = torch.load(two_ranks / CHECKPOINT, weights_only=True)
    b = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    assert b["step"] == STEPS and a["loaders"] == b["loaders"]
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("tokens_per_s", "mfu")} for r in rows]  # noqa: E731
    assert strip(metrics(tmp_path)) == strip(metrics(two_ranks))


def test_fsdp2_matches_ddp(two_ranks: Path, shards: Path, tmp_path: Path) -> None:
    """FSDP2 (fully_shard per block) trains the same model: per-step losses and final full weights agree
    with the DDP run, and its checkpoint holds full (unsharded) tensors."""
    run(torchrun_cmd(shards, tmp_path, "--fsdp"))
    for a, b in zip(metrics(tmp_path), metrics(two_ranks), strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
    fsdp = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    ddp = torch.load(two_ranks / CHECKPOINT, weights_only=True)
    assert fsdp["loaders"] == ddp["loaders"]
    for k in ddp["model"]:
        torch.testing.assert_close(fsdp["model"][k], ddp["model"][k], rtol=1e-4, atol=1e-4, msg=k)


def test_gpu_check_summary_reads_a_torchrun_run(two_ranks: Path) -> None:
    """The JSON that scripts/gpu_check.sh writes comes from this summary of each run's metrics."""
    from pretrain.bench import summarise_run

    s = summarise_run(two_ranks, skip_steps=4)
    assert s["world_size"] == 2 and s["steps"] == STEPS and s["measured_after_step"] == 4
    assert s["tokens_per_s"] > 0 and s["tokens_per_s_per_process"] == pytest.approx(s["tokens_per_s"] / 2)
    assert s["mfu"] is None and s["peak_mem_gb"] is None  # CPU: no peak table, no CUDA memory
    assert s["last_loss"] < s["first_loss"]
