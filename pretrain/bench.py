"""`make bench` part of pretrain: CPU tokens/s of the tiny preset, and the routed-expert dispatch
(grouped_mm vs the per-expert loop fallback), forward + backward."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from pretrain.config import preset
from pretrain.model import MoE, Transformer, dispatch_experts, grouped_mm_works


def _timed(fn: Any, repeats: int, warmup: int = 2) -> float:
    """Median seconds per call: robust to other processes on a shared machine."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_train_step(vocab_size: int = 32000, batch_size: int = 8, seq_len: int = 128, steps: int = 10,
                     dispatch: str = "auto") -> dict[str, Any]:
    """Tokens/s of full tiny-preset training steps (forward, backward, clip, AdamW) on CPU."""
    torch.manual_seed(0)
    model = Transformer(preset("tiny", vocab_size=vocab_size, max_seq_len=seq_len, dispatch=dispatch))
    resolved = model.set_dispatch(dispatch, "cpu")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    ids = torch.randint(0, vocab_size, (batch_size, seq_len + 1))

    def step() -> None:
        logits, aux = model(ids[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten()) + aux
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        model.end_step()

    seconds = _timed(step, steps)
    return {"vocab_size": vocab_size, "batch_size": batch_size, "seq_len": seq_len, "dispatch": resolved,
            "step_s": seconds, "tokens_per_s": batch_size * seq_len / seconds}


def bench_dispatch(tokens: int, repeats: int = 5, **model: Any) -> dict[str, Any]:
    """Seconds per forward+backward of the routed experts with each available dispatch path."""
    torch.manual_seed(0)
    cfg = preset("tiny", **model)
    moe = MoE(cfg)
    x = torch.randn(tokens, cfg.d_model, requires_grad=True)
    idx, w, _ = moe.router(x)
    w = w.detach()
    result: dict[str, Any] = {"tokens": tokens, "d_model": cfg.d_model, "n_routed": cfg.n_routed,
                              "moe_ffn": cfg.moe_ffn, "top_k": cfg.top_k}
    paths = ["loop"] + (["grouped_mm"] if grouped_mm_works("cpu", torch.float32) else [])
    for impl in paths:
        def run(impl: str = impl) -> None:
            y = dispatch_experts(x, idx, w, moe.w_gate, moe.w_up, moe.w_down, impl)
            y.backward(torch.ones_like(y))
        result[f"{impl}_s"] = _timed(run, repeats)
    if "grouped_mm_s" in result:
        result["grouped_mm_speedup"] = result["loop_s"] / result["grouped_mm_s"]
    return result


def bench_pretrain(threads: int = 1) -> dict[str, Any]:
    """All pretrain benchmarks on CPU with `threads` torch threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return {
            "threads": threads,
            "torch": torch.__version__,
            "tiny_train_step": bench_train_step(),
            "tiny_train_step_loop": bench_train_step(dispatch="loop"),
            "dispatch_tiny": bench_dispatch(tokens=8 * 128),
            "dispatch_small_shape": bench_dispatch(tokens=1024, repeats=3, d_model=768, n_routed=32,
                                                   moe_ffn=256, top_k=4),
        }
    finally:
        torch.set_num_threads(previous)


def summarise_run(out_dir: str | Path, skip_steps: int) -> dict[str, Any]:
    """One training run's numbers from its metrics.jsonl, for scripts/gpu_check.sh: median tokens/s and
    MFU over the logged windows after `skip_steps` (compilation and allocator warm-up), the peak memory,
    and the first and last losses."""
    rows = [json.loads(line) for line in (Path(out_dir) / "metrics.jsonl").read_text().splitlines() if line]
    if not rows:
        raise ValueError(f"no metrics in {out_dir}")
    steady = [r for r in rows if r["step"] > skip_steps] or rows[-1:]
    mfus = [r["mfu"] for r in steady if r.get("mfu") is not None]
    mems = [r["peak_mem_gb"] for r in rows if r.get("peak_mem_gb") is not None]
    return {"world_size": rows[-1].get("world_size", 1), "steps": rows[-1]["step"],
            "tokens_per_s": statistics.median(r["tokens_per_s"] for r in steady),
            "tokens_per_s_per_process": statistics.median(r["tokens_per_s"] for r in steady) / rows[-1].get("world_size", 1),
            "mfu": statistics.median(mfus) if mfus else None, "peak_mem_gb": max(mems) if mems else None,
            "first_loss": rows[0]["loss"], "last_loss": rows[-1]["loss"], "measured_after_step": skip_steps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="pretrain benchmarks; `summarise` reads training runs")
    sub = parser.add_subparsers(dest="cmd")
    s = sub.add_parser("summarise", help="JSON summary of training runs (metrics.jsonl folders)")
    s.add_argument("runs", nargs="+", type=Path, help="run folders (--out of corpus train)")
    s.add_argument("--skip-steps", type=int, default=50, help="steps excluded from the throughput medians")
    s.add_argument("--output", type=Path, default=None, help="write the JSON here as well")
    args = parser.parse_args(argv)
    if args.cmd == "summarise":
        result: dict[str, Any] = {"torch": torch.__version__, "runs": {}}
        if torch.cuda.is_available():
            result["device"] = torch.cuda.get_device_name(0)
            result["visible_gpus"] = torch.cuda.device_count()
        for run in args.runs:
            result["runs"][run.name] = summarise_run(run, args.skip_steps)
        text = json.dumps(result, indent=2)
        if args.output is not None:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(text + "\n", encoding="utf-8")
        print(text)
        return 0
    print(json.dumps(bench_pretrain(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
