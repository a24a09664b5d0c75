"""A DeepSeek-V2-family decoder: RMSNorm pre-norm, RoPE, MHA or MLA attention, SwiGLU, DeepSeekMoE.

Layers `0 .. first_k_dense-1` use a dense SwiGLU; the others a DeepSeekMoE block of `n_shared` shared
experts plus `n_routed` fine-grained routed experts with top-k routing (router in fp32). Routed experts
are computed dropless: token copies are sorted by expert and run as one grouped matmul
(`torch.nn.functional.grouped_mm`) or, where that is unavailable, a loop over experts.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from pretrain.config import ModelConfig

# `F.grouped_mm` is public from torch 2.9; `torch._grouped_mm` is the older private name.
_GROUPED_MM = getattr(F, "grouped_mm", None) or getattr(torch, "_grouped_mm", None)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()  # the statistic in fp32 even under bf16 autocast
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (y * self.weight.float()).to(x.dtype)


def yarn_mscale(factor: float, mscale: float = 1.0) -> float:
    """YaRN's attention temperature term 0.1 * mscale * ln(s) + 1 (1 when not extending)."""
    return 1.0 if factor <= 1 else 0.1 * mscale * math.log(factor) + 1.0


def yarn_inv_freq(cfg: ModelConfig, dim: int) -> tuple[torch.Tensor, float]:
    """RoPE inverse frequencies with YaRN's "NTK-by-parts" blend, and the factor applied to cos/sin.

    Dimensions that rotate more than `beta_fast` times over the original context keep their frequency
    (extrapolation), those rotating fewer than `beta_slow` times are divided by `factor` (interpolation),
    with a linear ramp between (the correction range is rounded outwards, as DeepSeek-V2's code does).
    The cos/sin factor is mscale(s, mscale) / mscale(s, mscale_all_dim) (= 1 for V2's 0.707/0.707); the
    softmax scale gets mscale(s, mscale_all_dim)^2, see `attention_scale`."""
    base, s = cfg.rope_theta, cfg.yarn_factor
    pos_freqs = base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    extrapolation = 1.0 / pos_freqs
    if s <= 1:
        return extrapolation, 1.0

    def correction_dim(rotations: float) -> float:
        return dim * math.log(cfg.yarn_original_max_pos / (rotations * 2 * math.pi)) / (2 * math.log(base))

    low = max(math.floor(correction_dim(cfg.yarn_beta_fast)), 0)
    high = min(math.ceil(correction_dim(cfg.yarn_beta_slow)), dim - 1)
    ramp = ((torch.arange(dim // 2, dtype=torch.float32) - low) / max(high - low, 1e-3)).clamp(0, 1)
    keep = 1.0 - ramp  # 1: keep the original frequency, 0: interpolate
    inv_freq = extrapolation / s * (1 - keep) + extrapolation * keep
    return inv_freq, yarn_mscale(s, cfg.yarn_mscale) / yarn_mscale(s, cfg.yarn_mscale_all_dim)


def attention_scale(cfg: ModelConfig, qk_dim: int) -> float:
    """Softmax scale d^-1/2, times mscale(s, mscale_all_dim)^2 under YaRN (DeepSeek-V2: sqrt(t) = 0.0707 ln s + 1)."""
    return qk_dim ** -0.5 * yarn_mscale(cfg.yarn_factor, cfg.yarn_mscale_all_dim) ** 2


def rope_tables(seq_len: int, dim: int, theta: float, device: torch.device | None = None,
                cfg: ModelConfig | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables of shape (seq_len, dim/2) for rotary position embeddings (YaRN when cfg says so)."""
    if cfg is not None:
        inv_freq, factor = yarn_inv_freq(cfg, dim)
        inv_freq = inv_freq.to(device)
    else:
        inv_freq, factor = 1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float32, device=device) / dim), 1.0
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float32, device=device), inv_freq)
    return angles.cos() * factor, angles.sin() * factor


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x[i], x[i + d/2]) of x (..., T, d) by position-dependent angles (rotate-half form)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


class MHA(nn.Module):
    """Standard causal multi-head attention with RoPE on the full head dimension."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.h, self.dh = cfg.n_heads, cfg.head_dim
        self.q = nn.Linear(cfg.d_model, self.h * self.dh, bias=False)
        self.k = nn.Linear(cfg.d_model, self.h * self.dh, bias=False)
        self.v = nn.Linear(cfg.d_model, self.h * self.dh, bias=False)
        self.o = nn.Linear(self.h * self.dh, cfg.d_model, bias=False)
        self.scale = attention_scale(cfg, self.dh)

    def rope_dim(self) -> int:
        return self.dh

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q, k, v = (proj(x).view(b, t, self.h, self.dh).transpose(1, 2) for proj in (self.q, self.k, self.v))
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.scale)
        return self.o(out.transpose(1, 2).reshape(b, t, self.h * self.dh))


class MLA(nn.Module):
    """DeepSeek-V2 Multi-head Latent Attention (DSV2 §2.1, eqs. 9-19).

    Keys and values come from a compressed latent c_KV = W_DKV h (dimension d_c = kv_lora_rank, RMS-normed);
    RoPE is decoupled: a separate rotary key k^R = RoPE(W_KR h), shared by all heads, is concatenated to
    the per-head non-rotary key; queries get a per-head rotary part q^R likewise. Only c_KV and k^R need
    caching at inference. Queries are optionally compressed too (q_lora_rank; V2-Lite does not).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.h = cfg.n_heads
        self.dn, self.dr, self.dv = cfg.qk_nope_head_dim, cfg.qk_rope_head_dim, cfg.v_head_dim
        self.dc = cfg.kv_lora_rank
        q_out = self.h * (self.dn + self.dr)
        if cfg.q_lora_rank:
            self.q_a = nn.Linear(cfg.d_model, cfg.q_lora_rank, bias=False)
            self.q_a_norm = RMSNorm(cfg.q_lora_rank, cfg.rms_eps)
            self.q_b = nn.Linear(cfg.q_lora_rank, q_out, bias=False)
        else:
            self.q = nn.Linear(cfg.d_model, q_out, bias=False)
        self.kv_a = nn.Linear(cfg.d_model, self.dc + self.dr, bias=False)  # [W_DKV; W_KR]
        self.kv_a_norm = RMSNorm(self.dc, cfg.rms_eps)
        self.kv_b = nn.Linear(self.dc, self.h * (self.dn + self.dv), bias=False)  # [W_UK; W_UV]
        self.o = nn.Linear(self.h * self.dv, cfg.d_model, bias=False)
        self.scale = attention_scale(cfg, self.dn + self.dr)

    def rope_dim(self) -> int:
        return self.dr

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q_b(self.q_a_norm(self.q_a(x))) if hasattr(self, "q_a") else self.q(x)
        q = q.view(b, t, self.h, self.dn + self.dr).transpose(1, 2)
        q_nope, q_rope = q.split([self.dn, self.dr], dim=-1)
        c_kv, k_rope = self.kv_a(x).split([self.dc, self.dr], dim=-1)
        kv = self.kv_b(self.kv_a_norm(c_kv)).view(b, t, self.h, self.dn + self.dv).transpose(1, 2)
        k_nope, v = kv.split([self.dn, self.dv], dim=-1)
        q_rope = apply_rope(q_rope, cos, sin)
        k_rope = apply_rope(k_rope.unsqueeze(1), cos, sin).expand(b, self.h, t, self.dr)
        q = torch.cat((q_nope, q_rope), dim=-1)
        k = torch.cat((k_nope, k_rope), dim=-1)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.scale)
        return self.o(out.transpose(1, 2).reshape(b, t, self.h * self.dv))


class SwiGLU(nn.Module):
    def __init__(self, d_model: int, hidden: int) -> None:
        super().__init__()
        self.gate = nn.Linear(d_model, hidden, bias=False)
        self.up = nn.Linear(d_model, hidden, bias=False)
        self.down = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Router(nn.Module):
    """Top-k gate in fp32. Returns expert ids, gate weights and the full score matrix.

    `bias` (V3 auxiliary-loss-free balancing) is added to the scores only to choose experts; the gate
    weights are always taken from the unbiased scores. `load` counts the experts' picks in training
    forwards since the last optimizer step; eval forwards leave both untouched.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.top_k, self.scoring = cfg.top_k, cfg.scoring
        self.norm_topk_prob, self.routed_scaling = cfg.norm_topk_prob, cfg.routed_scaling
        self.use_bias = cfg.bias_balance
        self.weight = nn.Parameter(torch.empty(cfg.n_routed, cfg.d_model))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # as the reference implementation
        self.register_buffer("bias", torch.zeros(cfg.n_routed))  # persistent: part of checkpoints
        self.register_buffer("load", torch.zeros(cfg.n_routed), persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.autocast(device_type=x.device.type, enabled=False):
            logits = F.linear(x.float(), self.weight.float())
            scores = logits.softmax(-1) if self.scoring == "softmax" else logits.sigmoid()
            choice = scores.detach() + self.bias if self.use_bias else scores.detach()
            idx = choice.topk(self.top_k, dim=-1, sorted=False).indices
            weights = scores.gather(-1, idx)
            if self.norm_topk_prob:
                weights = weights / (weights.sum(-1, keepdim=True) + 1e-20)
            weights = weights * self.routed_scaling
        if self.training:
            with torch.no_grad():
                # index_add_ rather than torch.bincount: a fixed output shape, so no torch.compile graph break.
                flat = idx.flatten()
                self.load.index_add_(0, flat, torch.ones_like(flat, dtype=self.load.dtype))
        return idx, weights, scores


@functools.cache
def grouped_mm_works(device_type: str, dtype: torch.dtype) -> bool:
    """Whether grouped_mm runs forward and backward here (torch 2.13 CPU: yes in fp32 and bf16)."""
    if _GROUPED_MM is None:
        return False
    try:
        device = torch.device(device_type)
        x = torch.randn(8, 16, device=device, dtype=dtype, requires_grad=True)
        w = torch.randn(2, 16, 16, device=device, dtype=dtype, requires_grad=True)
        offs = torch.tensor([3, 8], device=device, dtype=torch.int32)
        y = _GROUPED_MM(x, w.transpose(-2, -1), offs=offs)
        y.backward(torch.ones_like(y))
        ref = torch.cat((x[:3] @ w[0].T, x[3:] @ w[1].T))
        return bool(torch.allclose(y.float(), ref.float(), atol=1e-2, rtol=1e-2))
    except (RuntimeError, NotImplementedError, TypeError, ValueError):
        return False


def resolve_dispatch(requested: str, device_type: str, dtype: torch.dtype) -> str:
    if requested == "loop":
        return "loop"
    ok = grouped_mm_works(device_type, dtype)
    if requested == "grouped_mm" and not ok:
        raise RuntimeError(f"grouped_mm is not usable on {device_type} with {dtype} in this torch build")
    return "grouped_mm" if ok else "loop"


def _aligned(t: torch.Tensor) -> torch.Tensor:
    # The CUDA kernel needs 16-byte aligned data pointers; FSDP2's unsharded parameters are views into
    # one all-gather buffer, which need not be.
    return t if t.data_ptr() % 16 == 0 else t.clone()


def experts_grouped(xs: torch.Tensor, counts: torch.Tensor, w_gate: torch.Tensor, w_up: torch.Tensor,
                    w_down: torch.Tensor, align: int | None = None) -> torch.Tensor:
    """SwiGLU of every expert on its contiguous run of rows, as three grouped matmuls.

    grouped_mm needs the row strides (d_model, expert width) to be multiples of 16 bytes (8 bf16 or 4
    fp32 values; "strides should be multiple of 16 bytes" on CPU too): other widths are zero-padded up
    to `align` values, which is exact (padded gate/up rows give silu(0) * 0 = 0, padded input columns
    meet zero weights). `align` defaults to 16 bytes' worth of the dtype."""
    if align is None:
        align = 16 // xs.element_size()
    d, f = xs.shape[1], w_gate.shape[1]
    pd, pf = -d % align, -f % align
    if pd or pf:
        xs = F.pad(xs, (0, pd))
        w_gate, w_up = F.pad(w_gate, (0, pd, 0, pf)), F.pad(w_up, (0, pd, 0, pf))
        w_down = F.pad(w_down, (0, pf, 0, pd))
    if xs.is_cuda:
        xs, w_gate, w_up, w_down = (_aligned(t) for t in (xs, w_gate, w_up, w_down))
    offs = counts.cumsum(0).to(torch.int32)
    gate = _GROUPED_MM(xs, w_gate.transpose(-2, -1), offs=offs)
    up = _GROUPED_MM(xs, w_up.transpose(-2, -1), offs=offs)
    out = _GROUPED_MM(F.silu(gate) * up, w_down.transpose(-2, -1), offs=offs)
    return out[:, :d] if pd else out


# torch.compile's shape rule for grouped_mm accepts only bf16 (the CUDA kernel's dtype); fp32 calls
# (CPU) therefore run eagerly behind a graph break.
_experts_grouped_eager = torch.compiler.disable(experts_grouped)


def experts_loop(xs: torch.Tensor, counts: torch.Tensor, w_gate: torch.Tensor, w_up: torch.Tensor,
                 w_down: torch.Tensor) -> torch.Tensor:
    """The same as `experts_grouped`, one expert at a time (portable fallback)."""
    outs, start = [], 0
    for e, n in enumerate(counts.tolist()):
        if n:
            seg = xs[start:start + n]
            outs.append((F.silu(seg @ w_gate[e].T) * (seg @ w_up[e].T)) @ w_down[e].T)
            start += n
    return torch.cat(outs) if outs else xs.new_zeros((0, w_down.shape[1]))


def dispatch_experts(x: torch.Tensor, idx: torch.Tensor, weights: torch.Tensor, w_gate: torch.Tensor,
                     w_up: torch.Tensor, w_down: torch.Tensor, impl: str) -> torch.Tensor:
    """Dropless MoE: y[t] = sum_k weights[t,k] * Expert_{idx[t,k]}(x[t]) for x (T, d), idx/weights (T, K)."""
    n_experts, k = w_gate.shape[0], idx.shape[1]
    flat = idx.reshape(-1)
    order = flat.argsort(stable=True)  # token copies grouped by expert
    token = order // k
    # A fixed-shape count (bincount's output shape depends on the data and breaks torch.compile graphs).
    counts = torch.zeros(n_experts, dtype=torch.long, device=flat.device).index_add_(0, flat, torch.ones_like(flat))
    xs = x[token]
    if torch.is_autocast_enabled(x.device.type):
        # grouped_mm has no autocast rule: cast to the autocast dtype ourselves (bf16 on GPU).
        dt = torch.get_autocast_dtype(x.device.type)
        xs, w_gate, w_up, w_down = (t.to(dt) for t in (xs, w_gate, w_up, w_down))
    if impl == "grouped_mm":
        run = experts_grouped if xs.dtype == torch.bfloat16 else _experts_grouped_eager
    else:
        run = experts_loop
    out = run(xs, counts, w_gate, w_up, w_down)
    out = out.float() * weights.reshape(-1)[order].unsqueeze(-1)
    y = torch.zeros(x.shape[0], out.shape[1], device=x.device, dtype=out.dtype)
    return y.index_add_(0, token, out).to(x.dtype)


def sequence_aux_loss(scores: torch.Tensor, idx: torch.Tensor, batch: int, alpha: float,
                      normalise_scores: bool) -> torch.Tensor:
    """DeepSeek-V2 sequence-level balance loss alpha * mean_b sum_i f_i P_i (DSV2 eqs. 23-25).

    f_i = N/(K T) * #(tokens of the sequence that pick expert i), P_i = mean over the sequence of s_i.
    For sigmoid scores (V3) P uses scores normalised over experts, as V3's complementary loss.
    """
    n_experts, k = scores.shape[-1], idx.shape[-1]
    s = scores.view(batch, -1, n_experts)
    if normalise_scores:
        s = s / (s.sum(-1, keepdim=True) + 1e-20)
    t = s.shape[1]
    picks = torch.zeros(batch, n_experts, device=scores.device, dtype=scores.dtype)
    picks.scatter_add_(1, idx.view(batch, t * k), torch.ones(batch, t * k, device=scores.device, dtype=scores.dtype))
    f = picks * n_experts / (k * t)
    return alpha * (f * s.mean(1)).sum(-1).mean()


class MoE(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.router = Router(cfg)
        e, f, d = cfg.n_routed, cfg.moe_ffn, cfg.d_model
        self.w_gate = nn.Parameter(torch.empty(e, f, d))  # stacked nn.Linear weights (out, in)
        self.w_up = nn.Parameter(torch.empty(e, f, d))
        self.w_down = nn.Parameter(torch.empty(e, d, f))
        for w in (self.w_gate, self.w_up, self.w_down):
            nn.init.normal_(w, std=cfg.init_std)
        self.shared = SwiGLU(d, cfg.n_shared * f) if cfg.n_shared else None
        self.aux_alpha = cfg.aux_alpha
        self.normalise_aux_scores = cfg.scoring == "sigmoid"
        self.dispatch = cfg.dispatch  # resolved to grouped_mm / loop on first use or by the trainer

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, d = x.shape
        flat = x.reshape(b * t, d)
        idx, weights, scores = self.router(flat)
        if self.dispatch == "auto":
            self.dispatch = resolve_dispatch("auto", x.device.type, self.w_gate.dtype)
        y = dispatch_experts(flat, idx, weights, self.w_gate, self.w_up, self.w_down, self.dispatch)
        if self.shared is not None:
            y = y + self.shared(flat)
        if self.training and self.aux_alpha > 0:
            aux = sequence_aux_loss(scores, idx, b, self.aux_alpha, self.normalise_aux_scores)
        else:
            aux = scores.new_zeros(())
        return y.view(b, t, d), aux


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model, cfg.rms_eps)
        self.attn = MLA(cfg) if cfg.attention == "mla" else MHA(cfg)
        self.ffn_norm = RMSNorm(cfg.d_model, cfg.rms_eps)
        self.ffn = SwiGLU(cfg.d_model, cfg.dense_ffn) if layer < cfg.first_k_dense else MoE(cfg)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = x + self.attn(self.attn_norm(x), cos, sin)
        if isinstance(self.ffn, MoE):
            h, aux = self.ffn(self.ffn_norm(x))
            return x + h, aux
        return x + self.ffn(self.ffn_norm(x)), None


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        vocab = cfg.padded_vocab
        self.embed = nn.Embedding(vocab, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model, cfg.rms_eps)
        self.lm_head = nn.Linear(cfg.d_model, vocab, bias=False)
        # -inf on the padded ids: softmax gives them probability 0 (never a prediction nor a sample).
        pad_bias = torch.zeros(vocab)
        pad_bias[cfg.vocab_size:] = float("-inf")
        self.register_buffer("vocab_bias", pad_bias, persistent=False)
        self.pad_vocab = vocab > cfg.vocab_size
        rope_dim = cfg.qk_rope_head_dim if cfg.attention == "mla" else cfg.head_dim
        cos, sin = rope_tables(cfg.max_seq_len, rope_dim, cfg.rope_theta, cfg=cfg)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for name, p in self.named_parameters():
            if name.endswith("router.weight") or p.dim() < 2:
                continue  # the router keeps its kaiming init; norms stay at 1
            nn.init.normal_(p, std=self.cfg.init_std)

    def moe_layers(self) -> list[MoE]:
        return [b.ffn for b in self.blocks if isinstance(b.ffn, MoE)]

    def set_dispatch(self, impl: str, device_type: str, dtype: torch.dtype = torch.float32) -> str:
        resolved = resolve_dispatch(impl, device_type, dtype)
        for moe in self.moe_layers():
            moe.dispatch = resolved
        return resolved

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, T, padded V) and the summed auxiliary balance loss (0 in eval or when alpha is 0)."""
        t = ids.shape[1]
        if t > self.cfg.max_seq_len:
            raise ValueError(f"sequence of {t} tokens exceeds max_seq_len={self.cfg.max_seq_len}")
        cos, sin = self.rope_cos[:t], self.rope_sin[:t]
        x = self.embed(ids)
        aux = x.new_zeros((), dtype=torch.float32)
        for block in self.blocks:
            x, layer_aux = block(x, cos, sin)
            if layer_aux is not None:
                aux = aux + layer_aux
        logits = self.lm_head(self.norm(x))
        if self.pad_vocab:
            logits = logits + self.vocab_bias.to(logits.dtype)
        return logits, aux

    @torch.no_grad()
    def end_step(self) -> list[float]:
        """Once per optimizer step: per-MoE-layer load imbalance (max/mean - 1) of the step's picks,
        the V3 bias update when enabled (b_i += gamma * sign(mean load - load_i)), and a counter reset.

        Under data parallelism the loads are summed over ranks first, so every rank applies the same
        bias update (the biases are buffers, which no gradient all-reduce keeps in sync)."""
        routers = [moe.router for moe in self.moe_layers()]
        if not routers:
            return []
        loads = torch.stack([r.load for r in routers])
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(loads)
        imbalance = []
        for r, load in zip(routers, loads):
            mean = load.mean()
            imbalance.append(float(load.max() / mean - 1) if mean > 0 else 0.0)
            if r.use_bias and mean > 0:
                r.bias += self.cfg.bias_update_speed * torch.sign(mean - load)
            r.load.zero_()
        return imbalance

    def param_counts(self) -> dict[str, int]:
        """Total parameters and active ones per token (input embedding lookup excluded, as in the papers)."""
        total = sum(p.numel() for p in self.parameters())
        per_expert = 3 * self.cfg.d_model * self.cfg.moe_ffn
        idle = (self.cfg.n_routed - self.cfg.top_k) * per_expert * len(self.moe_layers())
        return {"total": total, "active": total - idle - self.embed.weight.numel(),
                "embedding": self.embed.weight.numel()}
