"""The training loop: AdamW + warmup then cosine or step decay, grad accumulation and clipping, bf16
autocast on GPU, data parallelism under torchrun (DDP, or FSDP2 with `fsdp`), eval loss on the held-out
shards, metrics.jsonl, and atomic checkpoints that resume exactly.

Under `torchrun --nproc_per_node N` every process trains on its own rows (`TrainLoader`); rank 0
alone logs, evaluates and writes; the checkpoint holds every rank's loader position.

Outputs in `out/`: `metrics.jsonl` (one JSON object per logged step) and `checkpoint.pt` (model incl.
router biases, optimizer, scheduler, RNG states, loader positions of all ranks, configs).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from pretrain.config import ModelConfig, TrainConfig, model_config_from_dict, to_dict
from pretrain.data import IGNORE, Manifest, ShardError, ShardLoader, TrainLoader, read_manifest
from pretrain.flops import flops_per_token, mfu, peak_flops
from pretrain.model import Transformer

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"


def lr_factor(step: int, warmup: int, total: int, min_ratio: float, schedule: str = "cosine") -> float:
    """Linear warmup to the peak over `warmup` steps, then either cosine decay to `min_ratio` of it at
    `total`, or ("step", DeepSeek-V2-Lite) x0.316 from 80% of the steps and x0.316^2 from 90% (the batch
    is constant, so steps are proportional to tokens)."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "step":
        return 1.0 if step < 0.8 * total else 0.316 if step < 0.9 * total else 0.316 ** 2
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_optimizer(model: Transformer, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    # Weight decay on matrices (incl. embeddings and experts), none on norm gains.
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), fused=device.type == "cuda")


def batch_loss(model: Callable, inputs: torch.Tensor, targets: torch.Tensor, amp: bool,
               reduction: str = "mean") -> tuple[torch.Tensor, torch.Tensor]:
    """Next-token cross-entropy over non-pad targets and the model's auxiliary balance loss."""
    with torch.autocast(device_type=inputs.device.type, dtype=torch.bfloat16, enabled=amp):
        logits, aux = model(inputs)
    loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), ignore_index=IGNORE,
                           reduction=reduction)
    return loss, aux


@torch.no_grad()
def evaluate(model: Transformer, manifest: Manifest, batch_size: int, seq_len: int, n_batches: int,
             device: torch.device, amp: bool) -> float | None:
    """Mean loss per target token over the first `n_batches` batches of the eval shards (None if none).

    Runs in eval mode: no aux loss and no router load counting, so routing statistics do not move."""
    try:
        loader = ShardLoader(manifest, "eval", batch_size, seq_len, loop=False)
    except ShardError:
        return None
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i, (inputs, targets) in enumerate(loader):
        if i >= n_batches:
            break
        targets = targets.to(device)
        loss, _ = batch_loss(model, inputs.to(device), targets, amp, reduction="sum")
        total += float(loss)
        count += int((targets != IGNORE).sum())
    model.train(was_training)
    return total / count if count else None


@dataclasses.dataclass
class Dist:
    """Where this process sits in a torchrun job (rank 0 of 1 without torchrun)."""
    rank: int
    local_rank: int
    world_size: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> Dist:
    """Read torchrun's RANK / LOCAL_RANK / WORLD_SIZE; pin this process to its GPU (cuda:LOCAL_RANK) and
    join the process group (NCCL on CUDA, Gloo on CPU) when there is more than one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    dev = torch.device(device)
    if dev.type == "cuda":
        # Without this every process of the node would sit on cuda:0.
        dev = torch.device("cuda", local if world > 1 or dev.index is None else dev.index)
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo",
                                device_id=dev if dev.type == "cuda" else None)
    return Dist(rank, local, world, dev)


def shutdown_distributed(finished: bool = True) -> None:
    """Leave the process group cleanly: after a finished run all ranks meet, then the group is
    destroyed (a failed rank destroys it without waiting for the others). Left to interpreter exit,
    Gloo's threads were torn down under a live group and a rank aborted ("terminate called without an
    active exception", exit -6) after a finished run, measured in CI."""
    if dist.is_available() and dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def wrap_model(model: Transformer, cfg: TrainConfig, d: Dist, dispatch: str) -> torch.nn.Module:
    """The module the training forward runs through: the model itself (one process), DDP, or FSDP2."""
    if d.world_size == 1:
        return model
    if cfg.fsdp:
        from torch.distributed.fsdp import fully_shard

        # Each block is one all-gather / reduce-scatter unit; the root holds embedding, norm and head.
        for block in model.blocks:
            fully_shard(block)
        return fully_shard(model)
    # Buffers are not re-broadcast before each forward: the router's load counters must stay per rank
    # (end_step sums them). They are equal on all ranks at start (same seed / same checkpoint), so the
    # one sync at construction is harmless. The loop dispatch skips experts that got no tokens, so
    # their weights may go unused in a step.
    return DistributedDataParallel(model, device_ids=[d.device.index] if d.device.type == "cuda" else None,
                                   forward_sync_buffers=False, find_unused_parameters=dispatch == "loop")


def _gradient_sync(wrapped: torch.nn.Module, enabled: bool) -> Any:
    """Context that skips the gradient all-reduce on all but the last micro-batch of a step."""
    import contextlib

    if isinstance(wrapped, DistributedDataParallel) and not enabled:
        return wrapped.no_sync()
    if hasattr(wrapped, "set_requires_gradient_sync"):  # FSDP2
        wrapped.set_requires_gradient_sync(enabled)
    return contextlib.nullcontext()


def _full_states(model: Transformer, optimizer: torch.optim.Optimizer, fsdp: bool) -> tuple[dict, dict]:
    """Model and optimizer state as plain tensors (a collective under FSDP2: every rank calls it)."""
    if not fsdp:
        return model.state_dict(), optimizer.state_dict()
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

    return get_state_dict(model, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def _load_full_states(model: Transformer, optimizer: torch.optim.Optimizer, ckpt: dict, fsdp: bool) -> None:
    if not fsdp:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict

    set_state_dict(model, optimizer, model_state_dict=ckpt["model"], optim_state_dict=ckpt["optimizer"],
                   options=StateDictOptions(full_state_dict=True))


def _all_gather(obj: Any, d: Dist) -> list[Any]:
    if d.world_size == 1:
        return [obj]
    out: list[Any] = [None] * d.world_size
    dist.all_gather_object(out, obj)
    return out


def _mean_over_ranks(values: list[float], d: Dist) -> list[float]:
    if d.world_size == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=d.device)
    dist.all_reduce(t)
    return (t / d.world_size).tolist()


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write atomically: a crash leaves either the old or the new checkpoint, never a torn file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        torch.save(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def rng_state(device: torch.device) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _truncate_metrics(path: Path, last_step: int) -> None:
    # After a crash the metrics may run past the checkpoint; drop those lines so the file stays one run.
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line).get("step", 0) <= last_step:
                kept.append(line)
        except (json.JSONDecodeError, AttributeError):
            continue  # a line torn by the crash
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def train(shards: str | Path, out: str | Path, model_cfg: ModelConfig, cfg: TrainConfig, resume: bool = False,
          stop_after: int | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train on `shards` (a directory with manifest.json) up to `cfg.steps`; returns a run summary.

    Under torchrun each process calls this; `cfg.batch_size` is per process, so the global batch is
    batch_size x grad_accum x WORLD_SIZE sequences. `stop_after` ends this invocation after that many
    steps (checkpointed) without changing the schedule, which is laid out over `cfg.steps`: for
    preemptible jobs, and the exact-resume tests."""
    d = init_distributed(cfg.device)
    if not d.main:
        log = lambda _msg: None  # noqa: E731 - rank 0 alone speaks
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(shards)
    seq_len = cfg.seq_len or manifest.seq_len
    if seq_len > manifest.seq_len:
        log(f"seq_len {seq_len} is longer than the shards' rows: using {manifest.seq_len}")
        seq_len = manifest.seq_len
    ckpt_path, metrics_path = out / CHECKPOINT, out / METRICS
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True) if resume and ckpt_path.exists() else None
    if resume and ckpt is None:
        log(f"no checkpoint at {ckpt_path}: starting from step 0")
    if ckpt is not None:
        # The run's model shape is the checkpoint's; the schedule length may be extended.
        model_cfg = model_config_from_dict(ckpt["model_config"])
        seq_len = int(ckpt["loaders"][0]["seq_len"])
    model_cfg = dataclasses.replace(model_cfg, vocab_size=manifest.vocab_size, max_seq_len=seq_len - 1)

    device = d.device
    amp = device.type == "cuda"
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    model = Transformer(model_cfg).to(device)
    dispatch = model.set_dispatch(model_cfg.dispatch, device.type, torch.bfloat16 if amp else torch.float32)
    fsdp = cfg.fsdp and d.world_size > 1
    counts = model.param_counts()  # before FSDP2 turns the parameters into shards
    wrapped = wrap_model(model, cfg, d, dispatch)  # FSDP2 shards `model` in place
    optimizer = build_optimizer(model, cfg, device)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, cfg.warmup_steps, cfg.steps, cfg.min_lr_ratio, cfg.schedule))
    loader = TrainLoader(manifest, cfg.batch_size, seq_len, seed=cfg.seed, rank=d.rank,
                         world_size=d.world_size, cache_dir=out / "row_cache")
    step = 0
    if ckpt is not None:
        if len(ckpt["loaders"]) != d.world_size:
            raise ShardError(f"{ckpt_path} was written by {len(ckpt['loaders'])} processes, this run has "
                             f"{d.world_size}: resume with the same number")
        _load_full_states(model, optimizer, ckpt, fsdp)
        scheduler.load_state_dict(ckpt["scheduler"])
        loader.load_state_dict(ckpt["loaders"][d.rank])
        set_rng_state(ckpt["rng"], device)
        step = int(ckpt["step"])
        if d.main:
            _truncate_metrics(metrics_path, step)
        log(f"resumed from {ckpt_path} at step {step}")
    elif d.main and metrics_path.exists():
        metrics_path.unlink()  # a fresh run starts a fresh metrics file

    flops_token = flops_per_token(model_cfg, counts["active"], seq_len - 1)
    peak = peak_flops(device, cfg.peak_tflops)
    log(f"model: {counts['total'] / 1e6:.2f}M params, {counts['active'] / 1e6:.2f}M active; "
        f"context {seq_len - 1}; vocab {model_cfg.vocab_size} (padded {model_cfg.padded_vocab}); "
        f"dispatch {dispatch}; device {device}; world size {d.world_size}{' (FSDP2)' if fsdp else ''}")
    forward = torch.compile(wrapped) if cfg.compile else wrapped
    # Rank 0 evaluates alone on the unwrapped model; under FSDP2 the forward needs every rank's shard,
    # so all ranks run the (identical) eval batches and rank 0 reports.
    evaluates = d.main or fsdp

    def run_eval() -> float | None:
        if not evaluates:
            return None
        return evaluate(model, manifest, cfg.batch_size, seq_len, cfg.eval_batches, device, amp)

    initial_eval = None
    if cfg.eval_every and not manifest.split("eval"):
        log("the manifest lists no eval shards: eval loss is skipped")
    if cfg.eval_every and ckpt is None:
        initial_eval = run_eval()
        if initial_eval is not None:
            log(f"step 0 | eval {initial_eval:.4f} (ln vocab = {math.log(model_cfg.vocab_size):.4f})")
    model.train()
    recent: list[float] = []
    tokens_per_step = cfg.batch_size * cfg.grad_accum * (seq_len - 1) * d.world_size
    window_tokens, window_start = 0, time.perf_counter()
    first_loss = last_loss = last_eval = None
    end = cfg.steps if stop_after is None else min(cfg.steps, step + stop_after)
    metrics = open(metrics_path, "a", encoding="utf-8") if d.main else None
    try:
        while step < end:
            loss_sum = aux_sum = 0.0
            for micro in range(cfg.grad_accum):
                inputs, targets = next(loader)
                with _gradient_sync(wrapped, micro == cfg.grad_accum - 1):
                    loss, aux = batch_loss(forward, inputs.to(device, non_blocking=True),
                                           targets.to(device, non_blocking=True), amp)
                    ((loss + aux) / cfg.grad_accum).backward()
                loss_sum += float(loss.detach()) / cfg.grad_accum
                aux_sum += float(aux.detach()) / cfg.grad_accum
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            grad_norm = float(grad_norm.full_tensor() if hasattr(grad_norm, "full_tensor") else grad_norm)
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            imbalance = model.end_step()  # sums router loads over ranks
            loss_sum, aux_sum = _mean_over_ranks([loss_sum, aux_sum], d)  # the global batch's loss
            step += 1
            window_tokens += tokens_per_step
            first_loss = loss_sum if first_loss is None else first_loss
            last_loss = loss_sum
            recent = (recent + [loss_sum])[-10:]

            do_eval = bool(cfg.eval_every) and (step % cfg.eval_every == 0 or step == cfg.steps)
            if step % cfg.log_every == 0 or step == cfg.steps or step == 1 or do_eval:
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                elapsed = time.perf_counter() - window_start
                tps = window_tokens / elapsed if elapsed > 0 else 0.0
                row: dict[str, Any] = {"step": step, "loss": loss_sum, "aux_loss": aux_sum, "lr": lr,
                                       "grad_norm": grad_norm, "tokens_per_s": tps,
                                       "mfu": mfu(tps, flops_token, peak * d.world_size if peak else None),
                                       "world_size": d.world_size,
                                       "load_imbalance": [round(x, 4) for x in imbalance]}
                if device.type == "cuda":
                    row["peak_mem_gb"] = torch.cuda.max_memory_allocated(device) / 1e9
                if do_eval:
                    last_eval = run_eval()
                    if last_eval is not None:
                        row["eval_loss"] = last_eval
                if metrics is not None:
                    metrics.write(json.dumps(row) + "\n")
                    metrics.flush()
                log(_format(row, cfg.steps))
                window_tokens, window_start = 0, time.perf_counter()

            if (cfg.ckpt_every and step % cfg.ckpt_every == 0) or step == end:
                model_state, optim_state = _full_states(model, optimizer, fsdp)
                loaders = _all_gather(loader.state_dict(), d)
                if d.main:
                    save_checkpoint(ckpt_path, {
                        "step": step, "model": model_state, "optimizer": optim_state,
                        "scheduler": scheduler.state_dict(), "loaders": loaders, "world_size": d.world_size,
                        "rng": rng_state(device), "model_config": to_dict(model_cfg), "train_config": to_dict(cfg),
                        "shards": str(Path(shards).resolve()),
                    })
    finally:
        if metrics is not None:
            metrics.close()
    return {"steps": step, "first_loss": first_loss, "last_loss": last_loss,
            "recent_loss": sum(recent) / len(recent) if recent else None,
            "initial_eval_loss": initial_eval, "eval_loss": last_eval, "world_size": d.world_size,
            "params": counts, "dispatch": dispatch, "checkpoint": str(ckpt_path), "metrics": str(metrics_path)}


def _format(row: dict[str, Any], total: int) -> str:
    parts = [f"step {row['step']}/{total}", f"loss {row['loss']:.4f}", f"aux {row['aux_loss']:.5f}",
             f"lr {row['lr']:.2e}", f"gnorm {row['grad_norm']:.3f}", f"tok/s {row['tokens_per_s']:.0f}"]
    if row.get("mfu") is not None:
        parts.append(f"mfu {100 * row['mfu']:.1f}%")
    if row["load_imbalance"]:
        parts.append(f"load max/mean-1 {max(row['load_imbalance']):.2f}")
    if "eval_loss" in row:
        parts.append(f"eval {row['eval_loss']:.4f}")
    return " | ".join(parts)
