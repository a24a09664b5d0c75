"""Export a checkpoint to the Hugging Face DeepseekV2 layout: config.json, model.safetensors, tokenizer files.

The weights use the Hub layout of DeepSeek-V2(-Lite) (one `mlp.experts.{i}.{gate,up,down}_proj.weight`
per routed expert), which `transformers` (>= 5 folds it into its fused expert tensors on load), vLLM
and the Hub's remote code all read. Two conversions are needed:

- RoPE: this project rotates the pairs (i, i + d/2) (rotate-half); DeepseekV2 rotates (2i, 2i + 1).
  Permuting the rotary output rows of the query and rotary-key projections maps one onto the other,
  since q.k is invariant under a permutation shared by q and k.
- Vocabulary: the padded rows are written as they are (vocab_size = padded size, as DeepSeek's 102400);
  `generation_config.json` lists the padded ids in `suppress_tokens` so `generate` never samples them.

Only what DeepseekV2 can express is exported: MLA attention and softmax routing without selection bias.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from pretrain.config import ModelConfig, model_config_from_dict
from pretrain.model import MoE, Transformer

WEIGHTS = "model.safetensors"


def check_exportable(cfg: ModelConfig) -> None:
    if cfg.attention != "mla":
        raise ValueError("the DeepseekV2 layout has only MLA attention: train with --attention mla to export")
    if cfg.scoring != "softmax":
        raise ValueError("DeepseekV2 routes with softmax scores; sigmoid (V3) routing is not exportable here")


def _rope_rows_interleaved(w: torch.Tensor, nope: int, rope: int, heads: int) -> torch.Tensor:
    """Reorder the rotary rows of each head from rotate-half (i, i+d/2) to interleaved (2i, 2i+1) pairs."""
    perm = torch.arange(rope).view(2, rope // 2).T.reshape(-1)
    w = w.reshape(heads, nope + rope, -1).clone()
    w[:, nope:] = w[:, nope:][:, perm]
    return w.reshape(heads * (nope + rope), -1)


def hf_state_dict(model: Transformer, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The model's weights under DeepseekV2ForCausalLM names (Hub layout, per-expert tensors)."""
    cfg = model.cfg
    check_exportable(cfg)
    dn, dr, dc, h = cfg.qk_nope_head_dim, cfg.qk_rope_head_dim, cfg.kv_lora_rank, cfg.n_heads
    sd: dict[str, torch.Tensor] = {"model.embed_tokens.weight": model.embed.weight,
                                   "model.norm.weight": model.norm.weight, "lm_head.weight": model.lm_head.weight}
    for i, block in enumerate(model.blocks):
        p, a, f = f"model.layers.{i}.", block.attn, block.ffn
        sd[p + "input_layernorm.weight"] = block.attn_norm.weight
        sd[p + "post_attention_layernorm.weight"] = block.ffn_norm.weight
        if cfg.q_lora_rank:
            sd[p + "self_attn.q_a_proj.weight"] = a.q_a.weight
            sd[p + "self_attn.q_a_layernorm.weight"] = a.q_a_norm.weight
            sd[p + "self_attn.q_b_proj.weight"] = _rope_rows_interleaved(a.q_b.weight, dn, dr, h)
        else:
            sd[p + "self_attn.q_proj.weight"] = _rope_rows_interleaved(a.q.weight, dn, dr, h)
        kv_a = a.kv_a.weight.detach().clone()
        kv_a[dc:] = _rope_rows_interleaved(kv_a[dc:], 0, dr, 1)  # the shared rotary key k^R
        sd[p + "self_attn.kv_a_proj_with_mqa.weight"] = kv_a
        sd[p + "self_attn.kv_a_layernorm.weight"] = a.kv_a_norm.weight
        sd[p + "self_attn.kv_b_proj.weight"] = a.kv_b.weight
        sd[p + "self_attn.o_proj.weight"] = a.o.weight
        if isinstance(f, MoE):
            if bool(f.router.bias.any()):
                raise ValueError("the router has selection biases (--bias-balance), which DeepseekV2 cannot express")
            sd[p + "mlp.gate.weight"] = f.router.weight
            for e in range(cfg.n_routed):
                sd[p + f"mlp.experts.{e}.gate_proj.weight"] = f.w_gate[e]
                sd[p + f"mlp.experts.{e}.up_proj.weight"] = f.w_up[e]
                sd[p + f"mlp.experts.{e}.down_proj.weight"] = f.w_down[e]
            if f.shared is not None:
                for n in ("gate", "up", "down"):
                    sd[p + f"mlp.shared_experts.{n}_proj.weight"] = getattr(f.shared, n).weight
        else:
            for n in ("gate", "up", "down"):
                sd[p + f"mlp.{n}_proj.weight"] = getattr(f, n).weight
    # safetensors wants contiguous tensors that share no storage.
    return {k: v.detach().to(dtype).contiguous().clone() for k, v in sd.items()}


def hf_config(cfg: ModelConfig, specials: dict[str, int] | None = None, dtype: str = "float32") -> dict[str, Any]:
    """config.json of DeepseekV2ForCausalLM, in the field names of DeepSeek-V2-Lite's Hub config."""
    check_exportable(cfg)
    specials = specials or {}
    yarn = cfg.yarn_factor > 1
    out: dict[str, Any] = {
        "architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2",
        "vocab_size": cfg.padded_vocab, "hidden_size": cfg.d_model, "intermediate_size": cfg.dense_ffn,
        "moe_intermediate_size": cfg.moe_ffn, "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads, "num_key_value_heads": cfg.n_heads,
        "n_shared_experts": cfg.n_shared or None, "n_routed_experts": cfg.n_routed,
        "num_experts_per_tok": cfg.top_k, "first_k_dense_replace": cfg.first_k_dense, "moe_layer_freq": 1,
        "topk_method": "greedy", "n_group": 1, "topk_group": 1, "scoring_func": "softmax",
        "norm_topk_prob": cfg.norm_topk_prob, "routed_scaling_factor": cfg.routed_scaling,
        "aux_loss_alpha": cfg.aux_alpha, "seq_aux": True,
        "kv_lora_rank": cfg.kv_lora_rank, "q_lora_rank": cfg.q_lora_rank, "qk_nope_head_dim": cfg.qk_nope_head_dim,
        "qk_rope_head_dim": cfg.qk_rope_head_dim, "v_head_dim": cfg.v_head_dim,
        "hidden_act": "silu", "rms_norm_eps": cfg.rms_eps, "initializer_range": cfg.init_std,
        "attention_bias": False, "attention_dropout": 0.0, "tie_word_embeddings": False, "use_cache": True,
        "max_position_embeddings": int(cfg.yarn_factor * cfg.yarn_original_max_pos) if yarn else cfg.max_seq_len,
        "rope_theta": cfg.rope_theta,
        "rope_scaling": {"type": "yarn", "factor": cfg.yarn_factor,
                         "original_max_position_embeddings": cfg.yarn_original_max_pos,
                         "beta_fast": cfg.yarn_beta_fast, "beta_slow": cfg.yarn_beta_slow,
                         "mscale": cfg.yarn_mscale, "mscale_all_dim": cfg.yarn_mscale_all_dim} if yarn else None,
        "torch_dtype": dtype,
    }
    for role in ("bos", "eos", "pad"):
        if role in specials:
            out[f"{role}_token_id"] = specials[role]
    return out


def _special_strings(tokenizer_json: Path) -> dict[int, str]:
    data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    return {int(t["id"]): t["content"] for t in data.get("added_tokens", [])}


def write_tokenizer_files(shards_dir: Path, out: Path, specials: dict[str, int], context: int) -> list[str]:
    """Copy tokenizer.json (+ tokenizer_config.json when the shards stage wrote one); otherwise write a
    tokenizer_config.json and special_tokens_map.json from the manifest's special ids."""
    manifest = json.loads((shards_dir / "manifest.json").read_text(encoding="utf-8"))
    src = shards_dir / (manifest.get("tokenizer") or {}).get("path", "tokenizer.json")
    if not src.is_file():
        raise FileNotFoundError(f"no tokenizer at {src}: the export needs the shards' tokenizer.json")
    shutil.copyfile(src, out / "tokenizer.json")
    written = ["tokenizer.json"]
    strings = _special_strings(src)
    roles = {role: strings[i] for role, i in specials.items() if i in strings}
    special_map = {f"{r}_token": roles[r] for r in ("bos", "eos", "pad") if r in roles}
    fim = [roles[r] for r in ("fim_begin", "fim_hole", "fim_end") if r in roles]
    if fim:
        special_map["additional_special_tokens"] = fim
    if (src.parent / "tokenizer_config.json").is_file():
        shutil.copyfile(src.parent / "tokenizer_config.json", out / "tokenizer_config.json")
    else:
        config = {"tokenizer_class": "PreTrainedTokenizerFast", **special_map, "add_bos_token": True,
                  "add_eos_token": False, "clean_up_tokenization_spaces": False, "model_max_length": context}
        (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n",
                                                   encoding="utf-8")
    (out / "special_tokens_map.json").write_text(json.dumps(special_map, indent=2, ensure_ascii=False) + "\n",
                                                 encoding="utf-8")
    return written + ["tokenizer_config.json", "special_tokens_map.json"]


def export(checkpoint: str | Path, out: str | Path, shards: str | Path | None = None,
           dtype: str = "float32") -> list[str]:
    """Write `out/` (config.json, generation_config.json, model.safetensors, tokenizer files) from a
    training checkpoint; `shards` defaults to the shard folder the run trained on. Returns file names."""
    try:  # imported here: safetensors is not among the runtime dependencies of the package yet
        from safetensors.torch import save_file
    except ImportError as exc:
        raise ValueError("the export needs the safetensors package (pip install safetensors)") from exc
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    cfg = model_config_from_dict(ckpt["model_config"])
    check_exportable(cfg)
    model = Transformer(cfg)
    model.load_state_dict(ckpt["model"])
    shards_dir = Path(shards if shards is not None else ckpt.get("shards", ""))
    if not (shards_dir / "manifest.json").is_file():
        raise FileNotFoundError(f"no manifest.json in {shards_dir}: pass --shards")
    specials = {k: int(v) for k, v in json.loads((shards_dir / "manifest.json").read_text())
                .get("special_tokens", {}).items()}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    save_file(hf_state_dict(model, torch_dtype), str(out / WEIGHTS), metadata={"format": "pt"})
    config = hf_config(cfg, specials, dtype)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    generation = {"bos_token_id": specials.get("bos"), "eos_token_id": specials.get("eos"),
                  "pad_token_id": specials.get("pad"),
                  "suppress_tokens": list(range(cfg.vocab_size, cfg.padded_vocab))}
    (out / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n", encoding="utf-8")
    files = [WEIGHTS, "config.json", "generation_config.json"]
    return files + write_tokenizer_files(shards_dir, out, specials, cfg.max_seq_len)
