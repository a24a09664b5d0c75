"""Model and training configuration, and the presets `tiny`, `small` and `v2-lite`.

The `v2-lite` numbers are DeepSeek-V2-Lite's config.json (= DeepSeek-Coder-V2-Lite, 15.7B total /
2.4B active); it exists for a shape and parameter-count check on the meta device, not for training here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass
class ModelConfig:
    vocab_size: int = 32000
    d_model: int = 64
    n_layers: int = 3
    n_heads: int = 4
    # Attention: "mha" (standard multi-head, head_dim per head) or "mla" (DeepSeek-V2 low-rank KV).
    attention: str = "mha"
    head_dim: int = 16
    # MLA sizes (DeepSeek-V2 notation: d_c = kv_lora_rank, d_h^R = qk_rope_head_dim).
    q_lora_rank: int | None = None  # None: queries are not compressed (V2-Lite)
    kv_lora_rank: int = 32
    qk_nope_head_dim: int = 16
    qk_rope_head_dim: int = 8
    v_head_dim: int = 16
    # Feed-forward: the first `first_k_dense` layers are dense SwiGLU of width `dense_ffn`, the rest MoE.
    dense_ffn: int = 128
    first_k_dense: int = 1
    n_shared: int = 1  # shared experts, run as one SwiGLU of width n_shared * moe_ffn
    n_routed: int = 8
    moe_ffn: int = 32  # width of each fine-grained routed expert
    top_k: int = 2
    # Router: "softmax" (V2) or "sigmoid" (V3; then usually norm_topk_prob=True).
    scoring: str = "softmax"
    norm_topk_prob: bool = False
    routed_scaling: float = 1.0
    aux_alpha: float = 0.001  # V2 sequence-level balance loss weight (V2-Lite: 0.001); 0 disables it
    # V3 auxiliary-loss-free balancing: a per-expert bias used only to select experts.
    bias_balance: bool = False
    bias_update_speed: float = 0.001  # gamma, applied once per optimizer step
    # Dispatch of routed experts: "auto" (grouped_mm when it runs here, else loop), "grouped_mm", "loop".
    dispatch: str = "auto"
    rope_theta: float = 10000.0
    # YaRN (DeepSeek-V2 §3.1.4, HF `rope_scaling` type "yarn"): factor 1 disables it. V2 long context:
    # factor 40, original 4096, beta_fast 32, beta_slow 1, mscale = mscale_all_dim = 0.707.
    yarn_factor: float = 1.0
    yarn_original_max_pos: int = 4096
    yarn_beta_fast: float = 32.0
    yarn_beta_slow: float = 1.0
    yarn_mscale: float = 0.707
    yarn_mscale_all_dim: float = 0.707
    # The embedding and output rows are padded to a multiple of this (tensor-core friendly shapes); the
    # padded ids get -inf logits, so they are never predicted nor sampled.
    vocab_multiple: int = 64
    rms_eps: float = 1e-6
    init_std: float = 0.02
    max_seq_len: int = 256  # context length of the model (= shard seq_len - 1 by default)

    @property
    def padded_vocab(self) -> int:
        m = max(1, self.vocab_multiple)
        return -(-self.vocab_size // m) * m

    def validate(self) -> None:
        if self.attention not in ("mha", "mla"):
            raise ValueError(f"attention must be 'mha' or 'mla', got {self.attention!r}")
        if self.scoring not in ("softmax", "sigmoid"):
            raise ValueError(f"scoring must be 'softmax' or 'sigmoid', got {self.scoring!r}")
        if self.dispatch not in ("auto", "grouped_mm", "loop"):
            raise ValueError(f"dispatch must be auto, grouped_mm or loop, got {self.dispatch!r}")
        if not 0 < self.top_k <= self.n_routed:
            raise ValueError(f"top_k={self.top_k} must be in 1..n_routed={self.n_routed}")
        if self.attention == "mha" and self.head_dim % 2:
            raise ValueError("head_dim must be even for RoPE")
        if self.attention == "mla" and self.qk_rope_head_dim % 2:
            raise ValueError("qk_rope_head_dim must be even for RoPE")
        if self.yarn_factor < 1.0:
            raise ValueError(f"yarn_factor must be >= 1 (1 disables YaRN), got {self.yarn_factor}")


@dataclass
class TrainConfig:
    steps: int = 300
    batch_size: int = 8  # sequences per micro-batch
    grad_accum: int = 1
    seq_len: int | None = None  # tokens per training row incl. the shifted target; None: the manifest's
    lr: float = 3e-3
    min_lr_ratio: float = 0.1  # cosine decays to 10% of the peak (DeepSeek-Coder-V2 §3.3)
    # "cosine" (DeepSeek-Coder-V2) or "step" (DeepSeek-V2-Lite: x0.316 at 80% and again at 90% of tokens).
    schedule: str = "cosine"
    warmup_steps: int = 20
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 50
    eval_batches: int = 4
    log_every: int = 10
    ckpt_every: int = 100
    seed: int = 1234
    device: str = "cpu"
    compile: bool = False
    fsdp: bool = False  # multi-process only: FSDP2 fully_shard instead of DDP (model larger than one device)
    peak_tflops: float | None = None  # override the GPU peak table for MFU


def _tiny() -> ModelConfig:
    # Seconds on one CPU core: used by the tests and `make train`. With 8 experts the V2-Lite alpha of
    # 0.001 let the routing collapse early on a demo run; 0.01 kept it balanced (docs/pretrain.md).
    # MLA as V2-Lite (no query compression; d_c = 2 x the head, rotary = head / 2) so that every default
    # checkpoint exports to DeepseekV2.
    return ModelConfig(aux_alpha=0.01, attention="mla", q_lora_rank=None, kv_lora_rank=32, qk_nope_head_dim=16,
                       qk_rope_head_dim=8, v_head_dim=16)


def _small() -> ModelConfig:
    # ~100M active parameters (embedding lookup excluded) with a 32k vocabulary: one-GPU scale. MLA in
    # V2-Lite's proportions (no query compression, d_c = 4 x the 64-dim head, rotary 32) so it exports.
    return ModelConfig(
        d_model=768, n_layers=12, n_heads=12, attention="mla", head_dim=64, q_lora_rank=None,
        kv_lora_rank=256, qk_nope_head_dim=64, qk_rope_head_dim=32, v_head_dim=64,
        dense_ffn=3072, first_k_dense=1, n_shared=2, n_routed=32, moe_ffn=256, top_k=4,
        aux_alpha=0.001, init_std=0.02, max_seq_len=2048,
    )


def _v2_lite() -> ModelConfig:
    # DeepSeek-V2-Lite config.json (recipe §5.1).
    return ModelConfig(
        vocab_size=102400, d_model=2048, n_layers=27, n_heads=16, attention="mla", head_dim=192,
        q_lora_rank=None, kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128,
        dense_ffn=10944, first_k_dense=1, n_shared=2, n_routed=64, moe_ffn=1408, top_k=6,
        scoring="softmax", norm_topk_prob=False, routed_scaling=1.0, aux_alpha=0.001,
        rope_theta=10000.0, rms_eps=1e-6, init_std=0.02, max_seq_len=4096,
    )


PRESETS = {"tiny": _tiny, "small": _small, "v2-lite": _v2_lite}

# Training defaults per preset (command-line flags override them). `tiny` cuts rows to 129 ids so a
# few hundred CPU steps take minutes; `small` trains on full rows at the shards' seq_len.
TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"steps": 300, "batch_size": 8, "seq_len": 129, "lr": 3e-3, "warmup_steps": 20},
    "small": {"steps": 5000, "batch_size": 4, "grad_accum": 8, "seq_len": None, "lr": 1e-3,
              "warmup_steps": 200, "eval_every": 250, "eval_batches": 8, "log_every": 10, "ckpt_every": 500},
}


def train_preset(name: str, **overrides: Any) -> TrainConfig:
    """TrainConfig with the preset's defaults, then `overrides` (None values are ignored)."""
    values = dict(TRAIN_PRESETS.get(name, {}))
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(**values)


def preset(name: str, **overrides: Any) -> ModelConfig:
    """A fresh ModelConfig of preset `name` with fields replaced by `overrides`."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    cfg = dataclasses.replace(PRESETS[name](), **overrides)
    cfg.validate()
    return cfg


def to_dict(cfg: ModelConfig | TrainConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def model_config_from_dict(d: dict[str, Any]) -> ModelConfig:
    names = {f.name for f in dataclasses.fields(ModelConfig)}
    return ModelConfig(**{k: v for k, v in d.items() if k in names})


__all__ = ["ModelConfig", "TrainConfig", "PRESETS", "TRAIN_PRESETS", "preset", "train_preset", "to_dict", "model_config_from_dict"]
