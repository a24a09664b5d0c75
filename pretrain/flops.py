"""Training FLOPs per token from the active parameters, and model FLOPs utilisation (MFU).

FLOPs per trained token = 6 * N_active (weight matmuls: 2 forward + 4 backward) plus the attention
score and value products, counted as in PaLM (App. B) over the full, not causally halved, T x T matrix:
2 * ctx * n_heads * (d_qk + d_v) per token and layer forward, times 3 for training. N_active excludes the
input embedding lookup (no matmul) and the idle routed experts; for MHA this is PaLM's 6N + 12 L H Q T.
"""

from __future__ import annotations

import torch

from pretrain.config import ModelConfig

# Dense (no sparsity) BF16 tensor-core peak, TFLOP/s, from the vendors' datasheets.
# A10G (AWS) has no public datasheet figure: pass --peak-tflops for it.
PEAK_BF16_TFLOPS: dict[str, float | None] = {
    "H200": 989.0,
    "H100 SXM": 989.0,
    "H100 80GB HBM3": 989.0,  # how torch names the SXM part
    "H100 NVL": 835.0,
    "H100 PCIe": 756.0,
    "H100": 756.0,  # unknown form factor: the lower (PCIe) figure
    "A100": 312.0,
    "A800": 312.0,
    "L40S": 362.0,
    "L40": 181.0,
    "L4": 121.0,
    "A10G": None,
    "A10": 125.0,
    "RTX 6000 Ada": 364.0,
    "RTX A6000": 155.0,
    "RTX 4090": 165.0,
    "RTX 3090": 71.0,
}


def flops_per_token(cfg: ModelConfig, active_params: int, ctx: int) -> float:
    """Training FLOPs per token at context length `ctx` (forward + backward)."""
    if cfg.attention == "mla":
        d_qk, d_v = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim, cfg.v_head_dim
    else:
        d_qk = d_v = cfg.head_dim
    attention = 6 * cfg.n_layers * ctx * cfg.n_heads * (d_qk + d_v)
    return 6.0 * active_params + attention  # norm weights (~0.01%) are counted in too


def peak_flops(device: torch.device | str, override_tflops: float | None = None) -> float | None:
    """Peak BF16 FLOP/s of one device: the override, else the table by GPU name; None for CPU/unknown."""
    if override_tflops:
        return override_tflops * 1e12
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(device)
    # Longest matching key first, so "H100 SXM" wins over "H100" and "A10G" over "A10".
    for key in sorted(PEAK_BF16_TFLOPS, key=len, reverse=True):
        if key.lower() in name.lower():
            peak = PEAK_BF16_TFLOPS[key]
            return None if peak is None else peak * 1e12
    return None


def mfu(tokens_per_s: float, flops_token: float, peak: float | None) -> float | None:
    return None if not peak else tokens_per_s * flops_token / peak
