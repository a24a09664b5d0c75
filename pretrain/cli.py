"""`corpus train`: the sub-command plug-in (entry point group `corpus.commands`)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from pretrain.config import PRESETS, preset, train_preset


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train a small DeepSeekMoE model on the token shards",
        description="Minimal DeepSeekMoE pretraining loop on OUT/shards (see docs/pretrain.md). "
                    "`--preset tiny --device cpu` runs in minutes; `--preset small --device cuda` is the one-GPU run.")
    sub = p.add_subparsers(dest="train_command", metavar="{export}")
    e = sub.add_parser("export", help="write a checkpoint as a Hugging Face DeepseekV2 folder",
                       description="config.json + model.safetensors (DeepseekV2 Hub layout) + tokenizer files, "
                                   "loadable with transformers.AutoModelForCausalLM (MLA models only).")
    e.add_argument("checkpoint", type=Path, help="checkpoint.pt of a `corpus train` run")
    e.add_argument("--to", type=Path, required=True, dest="to", help="output folder")
    e.add_argument("--shards", type=Path, default=None, dest="export_shards",
                   help="shard folder with tokenizer.json (default: the one the run trained on)")
    e.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32", help="weight dtype")
    e.set_defaults(func=run_export)
    p.add_argument("--shards", type=Path, default=Path("out/shards"),
                   help="directory holding manifest.json and the Parquet shards (default: out/shards)")
    p.add_argument("--out", type=Path, default=None,
                   help="output directory for metrics.jsonl and checkpoint.pt (default: <shards>/../train)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="tiny",
                   help="model size: tiny (CPU, tests), small (~100M active, one GPU); v2-lite is shape-only")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps of the whole schedule")
    p.add_argument("--stop-after", type=int, default=None,
                   help="end this invocation after N steps (checkpointed) without changing the schedule")
    p.add_argument("--batch-size", type=int, default=None, help="sequences per micro-batch")
    p.add_argument("--grad-accum", type=int, default=None, help="micro-batches per optimizer step")
    p.add_argument("--seq-len", type=int, default=None,
                   help="ids per training window incl. the shifted target; rows are cut into windows "
                        "(default: tiny 129, others the shards' seq_len)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate")
    p.add_argument("--schedule", choices=["cosine", "step"], default=None,
                   help="after warmup: cosine to 10%% of the peak (default), or step decay x0.316 at 80%% and "
                        "90%% of the steps (DeepSeek-V2-Lite)")
    p.add_argument("--warmup", type=int, default=None, dest="warmup_steps", help="linear warmup steps")
    p.add_argument("--weight-decay", type=float, default=None, help="AdamW weight decay (default 0.1)")
    p.add_argument("--eval-every", type=int, default=None, help="steps between eval losses (0: never)")
    p.add_argument("--eval-batches", type=int, default=None, help="batches of the eval shards per eval")
    p.add_argument("--log-every", type=int, default=None, help="steps between metrics lines")
    p.add_argument("--ckpt-every", type=int, default=None, help="steps between checkpoints (and at the end)")
    p.add_argument("--seed", type=int, default=None, help="random seed of the initialisation")
    p.add_argument("--device", default="cpu", help="cpu or cuda (cuda: bf16 autocast, fused AdamW)")
    p.add_argument("--compile", action="store_true", help="wrap the model in torch.compile")
    p.add_argument("--fsdp", action="store_true",
                   help="under torchrun: shard parameters, gradients and optimizer state with FSDP2 "
                        "(fully_shard per block) instead of replicating them with DDP")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt exactly")
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="peak bf16 TFLOP/s of the device for MFU (default: built-in GPU table)")
    m = p.add_argument_group("model options")
    m.add_argument("--attention", choices=["mha", "mla"], default=None, help="multi-head or DeepSeek-V2 MLA")
    m.add_argument("--scoring", choices=["softmax", "sigmoid"], default=None,
                   help="router scores: softmax (V2) or sigmoid with normalised top-k weights (V3)")
    m.add_argument("--aux-alpha", type=float, default=None, help="sequence-level balance loss weight (0: off)")
    m.add_argument("--bias-balance", action="store_true",
                   help="V3 auxiliary-loss-free balancing: per-expert selection bias updated every step")
    m.add_argument("--bias-speed", type=float, default=None, help="bias update speed gamma (default 0.001)")
    m.add_argument("--yarn-factor", type=float, default=None,
                   help="YaRN context extension factor s (DeepSeek-V2: 40); 1 disables it")
    m.add_argument("--yarn-original-max-pos", type=int, default=None,
                   help="context length the model was pretrained at before YaRN (DeepSeek-V2: 4096)")
    m.add_argument("--yarn-mscale", type=float, default=None, help="YaRN mscale and mscale_all_dim (V2: 0.707)")
    m.add_argument("--dispatch", choices=["auto", "grouped_mm", "loop"], default=None,
                   help="routed-expert kernel (auto: grouped_mm where it runs, else a loop)")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    # Imported here so `corpus --help` does not pay for importing torch.
    import torch

    from pretrain.data import ShardError  # deferred: torch
    from pretrain.train import shutdown_distributed, train  # deferred: torch

    if args.preset == "v2-lite":
        print("error: the v2-lite preset (15.7B parameters) is for shape and parameter-count checks only",
              file=sys.stderr)
        return 2
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda requested but torch sees no CUDA device", file=sys.stderr)
        return 2
    overrides = {"attention": args.attention, "scoring": args.scoring, "aux_alpha": args.aux_alpha,
                 "bias_update_speed": args.bias_speed, "dispatch": args.dispatch, "yarn_factor": args.yarn_factor,
                 "yarn_original_max_pos": args.yarn_original_max_pos, "yarn_mscale": args.yarn_mscale,
                 "yarn_mscale_all_dim": args.yarn_mscale}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if args.bias_balance:
        overrides["bias_balance"] = True
    if args.scoring == "sigmoid":
        overrides["norm_topk_prob"] = True
    names = {f.name for f in dataclasses.fields(type(train_preset("tiny")))}
    train_overrides = {k: v for k, v in vars(args).items()
                       if k in names and k not in ("device", "compile", "fsdp")}
    try:
        model_cfg = preset(args.preset, **overrides)
        cfg = train_preset(args.preset, device=args.device, compile=args.compile, fsdp=args.fsdp, **train_overrides)
        out = args.out if args.out is not None else args.shards.parent / "train"
        try:
            summary = train(args.shards, out, model_cfg, cfg, resume=args.resume, stop_after=args.stop_after)
        except BaseException:
            shutdown_distributed(finished=False)
            raise
        shutdown_distributed()
    except (ShardError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) == 0:  # one summary per torchrun job
        print(_summary_line(summary))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from pretrain.export import export  # deferred: torch

    if not args.checkpoint.is_file():
        print(f"error: no checkpoint at {args.checkpoint}", file=sys.stderr)
        return 2
    try:
        files = export(args.checkpoint, args.to, args.export_shards, args.dtype)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"exported {', '.join(files)} to {args.to}")
    return 0


def _summary_line(s: dict) -> str:
    parts = [f"done: step {s['steps']}"]
    if s["recent_loss"] is not None:
        first = f"{s['first_loss']:.4f} (first step of this run) -> " if s["first_loss"] is not None else ""
        parts.append(f"train loss {first}{s['recent_loss']:.4f} (mean of the last 10 steps)")
    if s["eval_loss"] is not None:
        start = f"{s['initial_eval_loss']:.4f} -> " if s["initial_eval_loss"] is not None else ""
        parts.append(f"eval loss {start}{s['eval_loss']:.4f}")
    parts.append(f"metrics in {s['metrics']}")
    return "; ".join(parts)
