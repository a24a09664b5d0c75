"""The DeepSeekMoE model of `pretrain/`: MoE dispatch vs a dense reference, router bias and statistics,
the balance loss, MLA against DeepSeek-V2's equations, and the presets' parameter counts."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pretrain.config import preset
from pretrain.flops import flops_per_token
from pretrain.model import (
    MLA,
    MoE,
    Transformer,
    dispatch_experts,
    grouped_mm_works,
    rope_tables,
    sequence_aux_loss,
)


def available_dispatch() -> list[str]:
    return ["loop"] + (["grouped_mm"] if grouped_mm_works("cpu", torch.float32) else [])


def dense_reference(x: torch.Tensor, idx: torch.Tensor, w: torch.Tensor, moe: MoE) -> torch.Tensor:
    """Every expert on every token, weighted by the (mostly zero) dense gate matrix."""
    gates = torch.zeros(x.shape[0], moe.w_gate.shape[0]).scatter(1, idx, w)
    y = torch.zeros_like(x)
    for e in range(moe.w_gate.shape[0]):
        out = (F.silu(x @ moe.w_gate[e].T) * (x @ moe.w_up[e].T)) @ moe.w_down[e].T
        y = y + gates[:, e:e + 1] * out
    return y


def test_grouped_mm_runs_on_this_torch() -> None:
    # torch 2.13 CPU has F.grouped_mm in fp32 with autograd; the fallback must still exist for others.
    if hasattr(F, "grouped_mm"):
        assert grouped_mm_works("cpu", torch.float32)
    assert "loop" in available_dispatch()


@pytest.mark.parametrize("impl", available_dispatch())
def test_dispatch_equals_dense_reference(impl: str) -> None:
    torch.manual_seed(0)
    moe = MoE(preset("tiny", n_routed=8, top_k=3, bias_balance=True))
    for p in (moe.w_gate, moe.w_up, moe.w_down):
        torch.nn.init.normal_(p, std=0.2)
    moe.router.bias[5] = -100.0  # expert 5 gets no tokens: an empty group
    x = torch.randn(37, moe.w_gate.shape[2], requires_grad=True)
    idx, w, _ = moe.router(x)
    assert 5 not in idx.tolist()
    y = dispatch_experts(x, idx, w, moe.w_gate, moe.w_up, moe.w_down, impl)
    x_ref = x.detach().clone().requires_grad_()
    idx_ref, w_ref, _ = moe.router(x_ref)  # same routing; gradients also flow through the gate weights
    assert torch.equal(idx_ref, idx)
    y_ref = dense_reference(x_ref, idx_ref, w_ref, moe)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-6)
    grad = torch.randn_like(y)
    params = (moe.w_gate, moe.w_up, moe.w_down, moe.router.weight)
    grads = torch.autograd.grad(y, (x, *params), grad)
    grads_ref = torch.autograd.grad(y_ref, (x_ref, *params), grad)
    for g, g_ref in zip(grads, grads_ref):
        torch.testing.assert_close(g, g_ref, rtol=1e-5, atol=1e-5)


def test_grouped_mm_padding_for_the_cuda_kernel_is_exact() -> None:
    """Widths whose rows are not a multiple of 16 bytes (d 13, expert width 10; grouped_mm refuses them
    unpadded, on CPU as on CUDA) are zero-padded: outputs and gradients equal the per-expert loop, with
    fp32's alignment (4 values) and bf16's (8)."""
    if not grouped_mm_works("cpu", torch.float32):
        pytest.skip("grouped_mm unavailable")
    from pretrain.model import experts_grouped, experts_loop

    torch.manual_seed(0)
    xs = torch.randn(11, 13, requires_grad=True)
    ws = [torch.randn(3, 10, 13, requires_grad=True), torch.randn(3, 10, 13, requires_grad=True),
          torch.randn(3, 13, 10, requires_grad=True)]
    counts = torch.tensor([4, 0, 7])
    outs, grads = [], []
    for run in (experts_loop, lambda *a: experts_grouped(*a, align=4), lambda *a: experts_grouped(*a, align=8)):
        y = run(xs, counts, *ws)
        g = torch.autograd.grad(y.square().sum(), [xs, *ws])
        outs.append(y)
        grads.append(g)
    for i in (1, 2):
        assert outs[i].shape == (11, 13)
        # fp32 summation order differs (padded K): ~2e-7 of each tensor's scale, measured
        torch.testing.assert_close(outs[i], outs[0], rtol=1e-5, atol=1e-5 * float(outs[0].detach().abs().max()))
        for a, b in zip(grads[i], grads[0]):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * float(b.abs().max()))


def test_dispatch_paths_agree_in_bf16() -> None:
    if len(available_dispatch()) < 2:
        pytest.skip("grouped_mm is not available in this torch build")
    torch.manual_seed(1)
    moe = MoE(preset("tiny"))
    for p in (moe.w_gate, moe.w_up, moe.w_down):
        torch.nn.init.normal_(p, std=0.2)
    x = torch.randn(64, moe.w_gate.shape[2])
    idx, w, _ = moe.router(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        a = dispatch_experts(x, idx, w, moe.w_gate, moe.w_up, moe.w_down, "grouped_mm")
        b = dispatch_experts(x, idx, w, moe.w_gate, moe.w_up, moe.w_down, "loop")
    torch.testing.assert_close(a.float(), b.float(), rtol=2e-2, atol=2e-2)


def test_router_bias_changes_selection_only() -> None:
    torch.manual_seed(0)
    moe = MoE(preset("tiny", n_routed=8, top_k=2, bias_balance=True))
    x = torch.randn(50, moe.w_gate.shape[2])
    idx0, w0, s0 = moe.router(x)
    y0, _ = moe(x.view(5, 10, -1))
    moe.router.bias.fill_(3.0)  # the same shift for every expert: same selection, same output
    y_shift, _ = moe(x.view(5, 10, -1))
    torch.testing.assert_close(y_shift, y0, rtol=0, atol=0)
    moe.router.bias.zero_()
    moe.router.bias[6] = 10.0  # now expert 6 is always chosen...
    idx1, w1, s1 = moe.router(x)
    assert (idx1 == 6).any(-1).all() and not (idx0 == 6).any(-1).all()
    torch.testing.assert_close(s1, s0)  # ...scores are untouched...
    torch.testing.assert_close(w1, s0.gather(1, idx1))  # ...and the gate weights are the unbiased scores
    assert "router.bias" not in dict(moe.named_parameters())  # no gradient path into the bias


def test_sigmoid_router_normalises_selected_weights() -> None:
    torch.manual_seed(0)
    moe = MoE(preset("tiny", scoring="sigmoid", norm_topk_prob=True, routed_scaling=2.5))
    idx, w, scores = moe.router(torch.randn(20, moe.w_gate.shape[2]))
    assert ((scores > 0) & (scores < 1)).all()
    torch.testing.assert_close(w.sum(-1), torch.full((20,), 2.5))


def test_bias_update_once_per_step_and_eval_does_not_touch_router_state() -> None:
    torch.manual_seed(0)
    model = Transformer(preset("tiny", vocab_size=50, max_seq_len=16, bias_balance=True, bias_update_speed=0.01))
    ids = torch.randint(0, 50, (4, 16))
    model.train()
    model(ids)
    routers = [m.router for m in model.moe_layers()]
    loads = [r.load.clone() for r in routers]
    assert all(load.sum() == 4 * 16 * 2 for load in loads)  # every token picked top_k=2 experts
    model.eval()
    with torch.no_grad():
        _, aux = model(ids)
    assert aux.item() == 0.0
    for r, load in zip(routers, loads):
        assert torch.equal(r.load, load) and r.bias.abs().sum() == 0
    imbalance = model.end_step()
    for r, load, imb in zip(routers, loads, imbalance):
        assert imb == pytest.approx(float(load.max() / load.mean() - 1))
        torch.testing.assert_close(r.bias, 0.01 * torch.sign(load.mean() - load))
        assert r.load.sum() == 0


def test_sequence_aux_loss_matches_paper_formula() -> None:
    torch.manual_seed(0)
    b, t, n, k, alpha = 3, 7, 6, 2, 0.001
    scores = torch.randn(b * t, n).softmax(-1)
    idx = scores.topk(k, dim=-1).indices
    expected = 0.0
    for seq in range(b):  # DSV2 eqs. 23-25, per sequence, averaged over the batch
        s, chosen = scores[seq * t:(seq + 1) * t], idx[seq * t:(seq + 1) * t]
        f = [n / (k * t) * sum(int(i in row) for row in chosen.tolist()) for i in range(n)]
        p = [s[:, i].mean().item() for i in range(n)]
        expected += alpha * sum(fi * pi for fi, pi in zip(f, p)) / b
    assert sequence_aux_loss(scores, idx, b, alpha, False).item() == pytest.approx(expected, rel=1e-5)
    # Perfect balance (uniform scores, every expert picked equally often) gives exactly alpha.
    uniform = torch.full((4, 4), 0.25)
    assert sequence_aux_loss(uniform, torch.tensor([[0, 1], [2, 3], [0, 1], [2, 3]]), 1, alpha, False).item() \
        == pytest.approx(alpha)


def _rope_ref(x: torch.Tensor, pos: int, theta: float) -> torch.Tensor:
    """RoPE as a complex rotation of the pairs (x_i, x_{i+d/2}) by pos * theta^(-2i/d)."""
    half = x.shape[-1] // 2
    angle = pos * theta ** (-torch.arange(half, dtype=torch.float64) * 2 / x.shape[-1])
    z = torch.complex(x[..., :half].double(), x[..., half:].double()) * torch.polar(torch.ones_like(angle), angle)
    return torch.cat((z.real, z.imag), -1).float()


def test_mla_matches_its_definition() -> None:
    """DeepSeek-V2 eqs. 9-19 token by token, scoring keys from the cached latent c_KV only (W^UK absorbed
    into the query), which is what makes MLA's small KV cache possible."""
    torch.manual_seed(0)
    cfg = preset("tiny", attention="mla", d_model=32, n_heads=3, kv_lora_rank=12, qk_nope_head_dim=8,
                 qk_rope_head_dim=4, v_head_dim=6, max_seq_len=9)
    mla = MLA(cfg)
    for p in mla.parameters():
        torch.nn.init.normal_(p, std=0.3)
    h = torch.randn(1, 9, cfg.d_model)
    cos, sin = rope_tables(9, cfg.qk_rope_head_dim, cfg.rope_theta)
    out = mla(h, cos, sin)[0]

    H, dn, dr, dv, dc = 3, 8, 4, 6, 12
    w_dkv, w_kr = mla.kv_a.weight[:dc], mla.kv_a.weight[dc:]
    w_ukv = mla.kv_b.weight.view(H, dn + dv, dc)
    w_uk, w_uv = w_ukv[:, :dn], w_ukv[:, dn:]
    w_q = mla.q.weight.view(H, dn + dr, cfg.d_model)
    w_qc, w_qr = w_q[:, :dn], w_q[:, dn:]
    norm_w = mla.kv_a_norm.weight

    def rms(v: torch.Tensor) -> torch.Tensor:
        return v / torch.sqrt((v * v).mean() + cfg.rms_eps) * norm_w

    cache_c, cache_kr = [], []
    for t in range(9):
        x = h[0, t]
        cache_c.append(rms(w_dkv @ x))  # c_t^KV (eq. 9), RMS-normed as in the released models
        cache_kr.append(_rope_ref(w_kr @ x, t, cfg.rope_theta))  # k_t^R shared by the heads (eq. 14)
        heads = []
        for i in range(H):
            q_c, q_r = w_qc[i] @ x, _rope_ref(w_qr[i] @ x, t, cfg.rope_theta)  # eqs. 12-13
            absorbed = w_uk[i].T @ q_c  # q^C . (W^UK c) == (W^UK^T q^C) . c
            logits = torch.stack([(absorbed @ cache_c[j] + q_r @ cache_kr[j]) / math.sqrt(dn + dr)
                                  for j in range(t + 1)])
            attn = logits.softmax(0)
            heads.append(sum(attn[j] * (w_uv[i] @ cache_c[j]) for j in range(t + 1)))  # eqs. 11, 17
        ref = mla.o.weight @ torch.cat(heads)  # eq. 18
        torch.testing.assert_close(out[t], ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("attention", ["mha", "mla"])
def test_attention_is_causal(attention: str) -> None:
    torch.manual_seed(0)
    model = Transformer(preset("tiny", vocab_size=40, max_seq_len=12, attention=attention)).eval()
    ids = torch.randint(0, 40, (1, 12))
    changed = ids.clone()
    changed[0, 8:] = (changed[0, 8:] + 1) % 40
    with torch.no_grad():
        a, b = model(ids)[0], model(changed)[0]
    torch.testing.assert_close(a[0, :8], b[0, :8])
    assert not torch.allclose(a[0, 8:], b[0, 8:])


def test_v2_lite_shape_on_meta_device() -> None:
    with torch.device("meta"):
        model = Transformer(preset("v2-lite"))
    assert all(p.is_meta for p in model.parameters())  # nothing allocated
    counts = model.param_counts()
    assert counts["total"] == pytest.approx(15.7e9, rel=0.005)  # DSV2 App. B: 15.7B total
    assert counts["active"] == pytest.approx(2.4e9, rel=0.03)  # 2.4B activated (2.45B excl. embedding)
    assert len(model.moe_layers()) == 26
    assert sum(p.numel() for p in model.blocks[1].attn.parameters()) == pytest.approx(13.77e6, rel=0.001)


def test_small_preset_is_about_100m_active() -> None:
    with torch.device("meta"):
        model = Transformer(preset("small", vocab_size=32000))
    assert model.cfg.attention == "mla" and model.cfg.q_lora_rank is None  # exportable, as V2-Lite
    assert 80e6 < model.param_counts()["active"] < 120e6


def test_flops_per_token_is_palm_formula_for_mha() -> None:
    cfg = preset("tiny", attention="mha")
    n, ctx = 1_000_000, 128
    assert flops_per_token(cfg, n, ctx) == 6 * n + 12 * cfg.n_layers * cfg.n_heads * cfg.head_dim * ctx


@pytest.mark.parametrize("impl", available_dispatch())
def test_bf16_autocast_keeps_router_in_fp32(impl: str) -> None:
    # The GPU path (bf16 autocast), exercised with CPU autocast.
    torch.manual_seed(0)
    model = Transformer(preset("tiny", vocab_size=64, max_seq_len=16, dispatch=impl))
    seen = []
    for moe in model.moe_layers():
        moe.router.register_forward_hook(lambda mod, inp, out: seen.append(out[2].dtype))
    ids = torch.randint(0, 64, (2, 17))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, aux = model(ids[:, :-1])
    assert logits.dtype == torch.bfloat16 and aux.dtype == torch.float32
    assert seen == [torch.float32, torch.float32]
    loss = F.cross_entropy(logits.float().flatten(0, 1), ids[:, 1:].flatten()) + aux
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert model.moe_layers()[0].w_gate.grad.abs().sum() > 0


def _hf_model(cfg):  # noqa: ANN001
    """transformers' DeepseekV2ForCausalLM built from our exported config.json (eager attention)."""
    transformers = pytest.importorskip("transformers")
    from pretrain.export import hf_config

    hf_cfg = transformers.DeepseekV2Config(**{k: v for k, v in hf_config(cfg).items()
                                              if k not in ("architectures", "model_type", "torch_dtype")})
    hf_cfg._attn_implementation = "eager"
    return transformers.DeepseekV2ForCausalLM(hf_cfg).eval()


@pytest.mark.parametrize("q_lora_rank,yarn", [(None, 1.0), (24, 1.0), (None, 4.0)])
def test_whole_model_matches_transformers_deepseek_v2(q_lora_rank: int | None, yarn: float) -> None:
    """An independent implementation as oracle: MLA, dense first layer, shared + routed experts with V2's
    greedy softmax routing, norms, head and (third case) YaRN give the same logits as transformers'
    DeepseekV2ForCausalLM, through the export's config and weight mapping (padded vocabulary 97 -> 128)."""
    from pretrain.export import hf_state_dict

    torch.manual_seed(0)
    cfg = preset("tiny", attention="mla", vocab_size=97, d_model=64, n_layers=3, n_heads=4,
                 q_lora_rank=q_lora_rank, kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=8, v_head_dim=8,
                 dense_ffn=96, first_k_dense=1, n_shared=2, n_routed=8, moe_ffn=16, top_k=3, max_seq_len=40,
                 yarn_factor=yarn, yarn_original_max_pos=10, yarn_mscale=0.707, yarn_mscale_all_dim=0.707)
    ours = Transformer(cfg).eval()
    for _name, p in ours.named_parameters():
        torch.nn.init.normal_(p, std=0.2)
    hf = _hf_model(cfg)
    missing, unexpected = hf.load_state_dict(_fused_experts(hf_state_dict(ours)), strict=False)
    assert not missing and not unexpected
    ids = torch.randint(0, 97, (2, 40))
    with torch.no_grad():
        logits = ours(ids)[0]
        ref = hf(ids).logits
    assert logits.shape[-1] == 128 and torch.isinf(logits[..., 97:]).all()  # padded ids: never predicted
    torch.testing.assert_close(logits[..., :97], ref[..., :97], rtol=1e-5, atol=1e-5)


def _fused_experts(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Hub per-expert tensors -> transformers' in-memory fused `gate_up_proj` / `down_proj` (for
    load_state_dict; from_pretrained does this itself, see the export round trip test)."""
    out, experts = {}, {}
    for k, v in sd.items():
        if ".mlp.experts." in k:
            prefix, rest = k.split(".mlp.experts.")
            e, name = rest.split(".", 1)
            experts.setdefault(prefix, {}).setdefault(name, {})[int(e)] = v
        else:
            out[k] = v
    for prefix, parts in experts.items():
        stack = {n: torch.stack([d[i] for i in sorted(d)]) for n, d in parts.items()}
        out[prefix + ".mlp.experts.gate_up_proj"] = torch.cat((stack["gate_proj.weight"], stack["up_proj.weight"]), 1)
        out[prefix + ".mlp.experts.down_proj"] = stack["down_proj.weight"]
    return out


def test_yarn_frequencies_and_scales_match_transformers() -> None:
    """YaRN as DeepSeek-V2 configures it (factor 40, original 4096, beta 32/1, mscale 0.707/0.707):
    inverse frequencies, the cos/sin factor and the softmax scale equal transformers' implementation."""
    transformers = pytest.importorskip("transformers")
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    from transformers.models.deepseek_v2.modeling_deepseek_v2 import DeepseekV2Attention

    from pretrain.model import attention_scale, yarn_inv_freq

    for mscale, mscale_all in ((0.707, 0.707), (1.0, 0.5)):
        cfg = preset("v2-lite", yarn_factor=40.0, yarn_original_max_pos=4096, yarn_mscale=mscale,
                     yarn_mscale_all_dim=mscale_all)
        hf_cfg = transformers.DeepseekV2Config(**{k: v for k, v in _export_config(cfg).items()})
        inv_freq, factor = yarn_inv_freq(cfg, cfg.qk_rope_head_dim)
        ref_freq, ref_factor = ROPE_INIT_FUNCTIONS["yarn"](hf_cfg)
        torch.testing.assert_close(inv_freq, ref_freq, rtol=1e-6, atol=0)
        assert factor == pytest.approx(ref_factor, rel=1e-9)
        with torch.device("meta"):
            attn = DeepseekV2Attention(hf_cfg, layer_idx=0)
        assert attention_scale(cfg, 192) == pytest.approx(attn.scaling, rel=1e-9)
    assert attention_scale(preset("v2-lite", yarn_factor=40.0), 192) == pytest.approx(0.11472, abs=1e-5)  # recipe §1.10


def _export_config(cfg) -> dict:  # noqa: ANN001
    from pretrain.export import hf_config

    return {k: v for k, v in hf_config(cfg).items() if k not in ("architectures", "model_type", "torch_dtype")}


def test_v3_routing_matches_transformers_deepseek_v3() -> None:
    """Sigmoid scores, selection by score + bias, weights from the unbiased scores renormalised and scaled:
    our MoE block equals transformers' DeepseekV3MoE (one expert group, so no group limit)."""
    transformers = pytest.importorskip("transformers")
    from transformers.models.deepseek_v3.modeling_deepseek_v3 import DeepseekV3MoE

    torch.manual_seed(0)
    cfg = preset("tiny", d_model=32, n_shared=1, n_routed=8, moe_ffn=16, top_k=3, scoring="sigmoid",
                 norm_topk_prob=True, routed_scaling=2.5, bias_balance=True)
    ours = MoE(cfg).eval()
    for p in (ours.w_gate, ours.w_up, ours.w_down, ours.router.weight):
        torch.nn.init.normal_(p, std=0.3)
    ours.router.bias.copy_(torch.randn(8) * 0.5)
    hf_cfg = transformers.DeepseekV3Config(
        hidden_size=32, moe_intermediate_size=16, n_shared_experts=1, n_routed_experts=8, num_experts_per_tok=3,
        n_group=1, topk_group=1, norm_topk_prob=True, routed_scaling_factor=2.5)
    hf = DeepseekV3MoE(hf_cfg).eval()
    sd = {"gate.weight": ours.router.weight, "gate.e_score_correction_bias": ours.router.bias,
          "experts.gate_up_proj": torch.cat((ours.w_gate, ours.w_up), dim=1), "experts.down_proj": ours.w_down}
    for n in ("gate", "up", "down"):
        sd[f"shared_experts.{n}_proj.weight"] = getattr(ours.shared, n).weight
    hf.load_state_dict(sd)
    x = torch.randn(2, 9, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0], hf(x), rtol=1e-5, atol=1e-5)
