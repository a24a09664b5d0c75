"""GPU-hours of a training run on paper: tokens x FLOPs per token / (peak x MFU), with this loop's FLOPs
count (pretrain.flops) and its MFU (measured by `make gpu-check` into out/gpu_check.json where a GPU ran
it; else an assumed figure, said so in the output).

    python -m pretrain.budget [--mfu 0.25 | --gpu-check out/gpu_check.json] [--gpu H100]

prints the two budgets of docs/ablation.md: DeepSeek-Coder-V2's 1B proxy ablation (a dense 1.3B model of
DeepSeek-Coder-1.3B's shape, 1T and 2T tokens at 4K context) and this loop's `small` preset sized for one
GPU-hour per ablation variant (the `--device cuda` example of `corpus ablate`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from pretrain.config import ModelConfig, preset
from pretrain.flops import PEAK_BF16_TFLOPS, flops_per_token
from pretrain.model import Transformer

ASSUMED_MFU = 0.25  # the documented target of the small preset with --compile (docs/pretrain.md), not a measurement


def proxy_1b() -> ModelConfig:
    """A dense 1.3B decoder in DeepSeek-Coder-1.3B's shape (24 layers, d 2048, 16 heads x 128, SwiGLU 5504,
    vocab 32256): every layer dense (first_k_dense = n_layers), multi-head attention."""
    return preset("tiny", vocab_size=32256, d_model=2048, n_layers=24, n_heads=16, attention="mha", head_dim=128,
                  dense_ffn=5504, first_k_dense=24, max_seq_len=4096)


def active_params(cfg: ModelConfig) -> int:
    with torch.device("meta"):
        return Transformer(cfg).param_counts()["active"]


def gpu_hours(cfg: ModelConfig, tokens: float, ctx: int, peak_tflops: float, mfu: float) -> float:
    """Hours of one GPU of `peak_tflops` (dense bf16) at utilisation `mfu` to train `tokens` at context `ctx`."""
    return tokens * flops_per_token(cfg, active_params(cfg), ctx) / (peak_tflops * 1e12 * mfu) / 3600


def tokens_per_gpu_hour(cfg: ModelConfig, ctx: int, peak_tflops: float, mfu: float) -> float:
    return peak_tflops * 1e12 * mfu * 3600 / flops_per_token(cfg, active_params(cfg), ctx)


def measured_mfu(gpu_check: Path) -> float | None:
    """The first run's median MFU in `make gpu-check`'s summary (`python -m pretrain.bench summarise`: the
    one-GPU run comes first), if it ran on a GPU (CPU runs have none)."""
    try:
        data = json.loads(gpu_check.read_text())
    except (OSError, ValueError):
        return None
    runs = data.get("runs", {}) if isinstance(data, dict) else {}
    values = [r.get("mfu") for r in (runs.values() if isinstance(runs, dict) else runs) if isinstance(r, dict)]
    values = [v for v in values if isinstance(v, (int, float)) and v > 0]
    return values[0] if values else None


def budgets(mfu: float, gpu: str) -> dict:
    peak = PEAK_BF16_TFLOPS[gpu]
    proxy = proxy_1b()
    small = preset("small", vocab_size=16064, max_seq_len=4096)  # the demo corpus' 16k vocabulary (padded)
    step_tokens = 4 * 8 * 4096  # the small preset: batch 4 x grad-accum 8 x 4K
    per_hour = tokens_per_gpu_hour(small, 4096, peak, mfu)
    return {
        "gpu": gpu, "peak_tflops": peak, "mfu": mfu,
        "proxy_1b": {"active_params": active_params(proxy), "flops_per_token": flops_per_token(proxy, active_params(proxy), 4096),
                     "gpu_hours_1T": round(gpu_hours(proxy, 1e12, 4096, peak, mfu)),
                     "gpu_hours_2T": round(gpu_hours(proxy, 2e12, 4096, peak, mfu))},
        "small_one_gpu_hour": {"active_params": active_params(small), "tokens": round(per_hour),
                               "steps": int(per_hour // step_tokens)},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pretrain.budget", description=__doc__.split("\n\n")[0])
    ap.add_argument("--mfu", type=float, default=None, help=f"model FLOPs utilisation (default: measured, else {ASSUMED_MFU})")
    ap.add_argument("--gpu-check", type=Path, default=Path("out/gpu_check.json"), help="make gpu-check's summary")
    ap.add_argument("--gpu", default="H100 SXM", choices=[k for k, v in PEAK_BF16_TFLOPS.items() if v], help="peak table row")
    args = ap.parse_args(argv)
    mfu = args.mfu or measured_mfu(args.gpu_check)
    source = "given" if args.mfu else ("measured by make gpu-check" if mfu else "assumed (no GPU measurement)")
    mfu = mfu or ASSUMED_MFU
    print(json.dumps({**budgets(mfu, args.gpu), "mfu_source": source}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
