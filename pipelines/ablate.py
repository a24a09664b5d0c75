"""`corpus ablate ABLATION.yaml --output DIR`: build pipeline variants, train the bundled MoE on each with
the same steps and seeds, and compare held-out loss and benchmark loss with their seed spread.

Layout of DIR:

- `variants/NAME/` one pipeline output per variant. A stage whose `_SUCCESS.json` key equals that of a
  finished stage in another variant is hard-linked from there (same key: same config, code and inputs
  upstream, so the same output) and then skipped as on `--resume`, never recomputed.
- `variants/NAME/train/seed-S/` the training run (metrics.jsonl, checkpoint.pt) and `result.json` (its
  scores, keyed by the shards, budget, seed and evaluation); a finished seed with the same key is not
  trained again, so an interrupted ablation resumes.
- `plants/` the host repositories of contamination variants (docs/ablation.md).
- `eval_set.jsonl` the fixed evaluation files, `ablation.json`, `ablation.html`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from corpus import storage
from corpus.engine.executor import Executor
from corpus.engine.lock import acquire
from corpus.engine.ray_runner import start_runner
from corpus.engine.runner import LazyRunner
from corpus.engine.stage import Stage
from corpus.errors import PreflightError
from corpus.layout import MANIFEST, SUCCESS
from corpus.stages.holdout import HoldoutConfig, HoldoutStage
from pipelines.ablation_config import AblationConfig, Contaminate, Variant, load_ablation, variant_pipeline
from pipelines.config import PipelineConfig
from pipelines.graph import build_stages
from pretrain.config import preset, train_preset

log = logging.getLogger("corpus")

HOSTS_INPUT = "leakhosts"
RESULT = "result.json"
# Stages an ablation may not leave out: without them there is nothing to read or to train on.
REQUIRED = ("ingest", "shards")


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ablate", help="train the bundled model on pipeline variants and compare them (docs/ablation.md)",
        description="Build every variant of ABLATION.yaml (stages with unchanged keys reused), train the bundled "
                    "DeepSeekMoE with the same steps and seeds on each, and report held-out and benchmark loss "
                    "with their seed spread in DIR/ablation.json and DIR/ablation.html.")
    p.add_argument("config", help="ablation YAML (see pipelines/examples/ablation.yaml)")
    p.add_argument("--output", "-o", required=True, help="ablation folder DIR (local)")
    p.add_argument("--variants", help="comma-separated subset of the variants to run (the reference always runs)")
    p.add_argument("--in-process", action="store_true", help="run pipeline tasks in this process, without Ray")
    p.add_argument("--num-cpus", type=int, help="CPUs for the local Ray instance")
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    try:
        cfg, base = load_ablation(args.config)
        only = set(args.variants.split(",")) if args.variants else None
        if only and only - set(cfg.variants):
            raise PreflightError(f"--variants names unknown variant(s) {sorted(only - set(cfg.variants))}")
    except PreflightError as exc:
        print(f"corpus ablate: {exc}", file=sys.stderr)
        return 2

    root = Path(args.output)
    root.mkdir(parents=True, exist_ok=True)
    runner = LazyRunner(lambda: start_runner(None, args.num_cpus, in_process=args.in_process, dashboard=False))
    try:
        lock = acquire(str(root))  # a second ablation into DIR fails here, naming the holder
    except PreflightError as exc:
        print(f"corpus ablate: {exc}", file=sys.stderr)
        return 2
    try:
        result = run_ablation(cfg, base, root, runner, only)
    except (PreflightError, ValueError) as exc:
        print(f"corpus ablate: {exc}", file=sys.stderr)
        return 2
    finally:
        runner.shutdown()
        lock.release()
    print_summary(result, root)
    return 0


# ------------------------------------------------------------------------------ stage reuse


class ReusingExecutor(Executor):
    """An executor that, before it looks at a stage's output, fills it from a sibling output folder
    whose finished stage has the same key. With `resume=True` the stage is then skipped."""

    def __init__(self, out_dir: Path, siblings: list[Path], **kwargs: Any) -> None:
        super().__init__(str(out_dir), resume=True, **kwargs)
        self.siblings = siblings
        self.reused: list[str] = []

    def _stage_key(self, stage: Stage, input_fp: str) -> str:
        key = super()._stage_key(stage, input_fp)
        target = Path(self.out_uri) / stage.name
        if _finished_key(target) != key:
            for sibling in self.siblings:
                if _finished_key(sibling / stage.name) == key:
                    _link_tree(sibling / stage.name, target)
                    self.reused.append(stage.name)
                    log.info("stage %s: same key as in %s, reused", stage.name, sibling)
                    break
        return key


def _finished_key(stage_dir: Path) -> str | None:
    try:
        return json.loads((stage_dir / SUCCESS).read_text()).get("key")
    except (OSError, ValueError):
        return None


def _link_tree(src: Path, dst: Path) -> None:
    """A copy of a finished stage folder made of hard links (its files are never rewritten in place);
    a plain copy where links are not possible. `_SUCCESS.json` is placed last, as the engine commits."""
    if dst.exists():
        shutil.rmtree(dst)
    tmp = dst.with_name(dst.name + ".reuse-tmp")
    if tmp.exists():
        shutil.rmtree(tmp)

    def link(s: str, d: str) -> None:
        if Path(s).name == SUCCESS:
            return
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(src, tmp, copy_function=link)
    os.replace(tmp, dst)
    shutil.copy2(src / SUCCESS, dst / SUCCESS)


# ------------------------------------------------------------------------------ variants


def plant_dir(root: Path, plant: Contaminate | None) -> Path:
    if plant is None:
        return root / "plants" / "clean"
    tag = f"{plant.benchmark}-x{plant.copies}-per{plant.per_file}" + ("-renamed" if plant.rename else "")
    return root / "plants" / tag


def variant_config(cfg: AblationConfig, base: PipelineConfig, name: str, root: Path, hosts: bool) -> PipelineConfig:
    """The pipeline of one variant: stage overrides merged; the shards stage's own eval split off (the
    ablation holds out its evaluation repositories itself, and a planted copy must not vanish into an
    eval split); with contamination anywhere, the host repositories as one more input."""
    variant = cfg.variants[name]
    merged = Variant(skip=variant.skip, contaminate=variant.contaminate,
                     stages={**variant.stages, "shards": {**variant.stages.get("shards", {}), "eval_fraction": 0.0}})
    pc = variant_pipeline(base, merged, name)
    if hosts:
        inputs = [*pc.model_dump(mode="json")["inputs"], {
            "name": HOSTS_INPUT, "kind": "repos", "domain": "code", "each_subdir": True,
            "paths": [str((plant_dir(root, variant.contaminate) / "repos").resolve())]}]
        pc = PipelineConfig.model_validate({**pc.model_dump(mode="json"), "inputs": inputs})
    return pc


def variant_stages(pc: PipelineConfig, skip: list[str], name: str) -> list[Stage]:
    stages = build_stages(pc)
    names = [s.name for s in stages]
    unknown = [s for s in skip if s not in names]
    if unknown:
        raise PreflightError(f"variant {name}: skip names stage(s) {unknown} not in the graph {names}")
    required = [s for s in skip if s in REQUIRED]
    if required:
        raise PreflightError(f"variant {name}: stage(s) {required} cannot be skipped")
    if "shards" not in names:
        raise PreflightError(f"variant {name}: the pipeline must end with the shards stage")
    return [s for s in stages if s.name not in skip]


def file_level_stage(stages: list[Stage]) -> str:
    """The last stage whose rows are still single files (before repo_samples joins them per repository)."""
    names = [s.name for s in stages if s.name not in ("shards", "holdout")]
    if "repo_samples" in names:
        names = names[:names.index("repo_samples")]
    return names[-1]


def stage_parts(out: Path, stage: str) -> list[str]:
    done = json.loads((out / stage / SUCCESS).read_text())
    return [storage.join(str(out / stage), p) for p in done["parts"]]


def build_variant(out: Path, stages: list[Stage], siblings: list[Path], seed: int, runner: Any) -> dict[str, Any]:
    executor = ReusingExecutor(out, [s for s in siblings if s != out], seed=seed, runner=runner)
    started = time.time()
    executor.run(stages)
    return {"seconds": round(time.time() - started, 2), "ran": list(executor.ran), "reused": executor.reused}


# ------------------------------------------------------------------------------ training


def train_and_score(cfg: AblationConfig, shards: Path, out: Path, seed: int, eval_docs: list[dict[str, Any]],
                    problems: dict[str, Any]) -> dict[str, Any]:
    """Train one seed (unless its result exists), then score it; `result.json` records both."""
    from pipelines.ablation_eval import Scorer, score_benchmarks, score_eval_set  # deferred: torch
    from pretrain.train import CHECKPOINT, train  # deferred: torch

    result_path = out / RESULT
    key = _run_key(cfg, shards, seed, eval_docs, problems)
    if result_path.is_file():
        done = json.loads(result_path.read_text())
        if done.get("key") == key:
            return done
        shutil.rmtree(out)  # trained on other shards, budget or evaluation: train again from scratch
    t = cfg.train
    model_cfg = preset(t.preset)
    train_cfg = train_preset(t.preset, steps=t.steps, seed=seed, device=t.device, compile=t.compile,
                             batch_size=t.batch_size, seq_len=t.seq_len, lr=t.lr, warmup_steps=t.warmup_steps,
                             eval_every=0, ckpt_every=t.steps, log_every=max(1, t.steps // 10))
    started = time.time()
    summary = train(shards, out, model_cfg, train_cfg, log=lambda m: log.info("train %s seed %d: %s", shards.parent.name, seed, m))
    train_s = time.time() - started
    manifest = json.loads((shards / MANIFEST).read_text())
    seq = train_cfg.seq_len or manifest["seq_len"]
    started = time.time()
    scorer = Scorer.load(out / CHECKPOINT, shards, t.device)
    result = {
        "key": key, "seed": seed, "steps": summary["steps"], "final_train_loss": summary["recent_loss"],
        "tokens": summary["steps"] * train_cfg.batch_size * train_cfg.grad_accum * (seq - 1),
        "train_seconds": round(train_s, 2),
        "eval": score_eval_set(scorer, eval_docs, cfg.eval.max_doc_tokens),
        "benchmarks": score_benchmarks(scorer, problems),
    }
    result["eval_seconds"] = round(time.time() - started, 2)
    storage.write_json(str(result_path), result)
    return result


def _run_key(cfg: AblationConfig, shards: Path, seed: int, eval_docs: list[dict[str, Any]], problems: dict[str, Any]) -> str:
    """What a seed's result depends on: the shards (their stage key), the training budget, the seed and
    what it is scored on. A finished seed with another key is trained again."""
    blob = json.dumps({"shards": _finished_key(shards), "train": cfg.train.model_dump(mode="json"), "seed": seed,
                       "eval": cfg.eval.model_dump(mode="json"), "docs": [d["id"] for d in eval_docs],
                       "problems": {b: [p.id for p in v] for b, v in problems.items()}}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------ the ablation


def run_ablation(cfg: AblationConfig, base: PipelineConfig, root: Path, runner: Any,
                 only: set[str] | None = None) -> dict[str, Any]:
    from pipelines.ablation_eval import collect_eval_docs, draw_eval_groups, load_problems  # deferred: torch
    from pipelines.contaminate import host_repo_names, write_hosts  # deferred: off `corpus --help`

    if cfg.train.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise PreflightError(f"train.device is {cfg.train.device} but torch sees no CUDA device")
    root.mkdir(parents=True, exist_ok=True)
    names = [n for n in cfg.variants if only is None or n in only or n == cfg.reference]
    names.sort(key=lambda n: n != cfg.reference)  # the reference first: the evaluation set comes from it
    problems = load_problems(cfg.eval.benchmarks, cfg.eval.max_problems)
    # From every variant of the file, not only the selected ones: the reference's pipeline (its host
    # repositories) must not depend on which subset runs.
    planted = sorted({v.contaminate for v in cfg.variants.values()} - {None}, key=repr)
    missing = [p.benchmark for p in planted if p.benchmark not in problems]
    if missing:
        raise PreflightError(f"contaminate names {missing}, which eval.benchmarks does not list: its loss would not be measured")
    hosts = bool(planted)
    if hosts:
        # Every variant holds the same host repositories: clean ones in the first plant's layout.
        layout = planted[0]
        write_hosts(plant_dir(root, None), host_repo_names(layout.copies), problems[layout.benchmark], None, layout.per_file)
        for p in sorted({cfg.variants[n].contaminate for n in names} - {None}, key=repr):
            write_hosts(plant_dir(root, p), host_repo_names(p.copies), problems[p.benchmark], p.benchmark, p.per_file, p.rename)
    dirs = {n: root / "variants" / n for n in cfg.variants}
    siblings = list(dirs.values())
    configs = {n: variant_config(cfg, base, n, root, hosts) for n in names}
    stages = {n: variant_stages(configs[n], cfg.variants[n].skip, n) for n in names}
    for s in stages.values():
        for stage in s:
            stage.preflight()

    # 1. The reference up to the shards: the evaluation set is drawn from it, once.
    ref = cfg.reference
    builds: dict[str, dict[str, Any]] = {}
    pre = [s for s in stages[ref] if s.name != "shards"]
    first = build_variant(dirs[ref], pre, siblings, base.seed, runner)
    source = file_level_stage(stages[ref])
    parts = stage_parts(dirs[ref], source)
    groups = draw_eval_groups(parts, cfg.eval.fraction, base.seed)
    eval_docs = collect_eval_docs(parts, groups, cfg.eval.max_docs_per_language)
    if not eval_docs:
        raise ValueError("the evaluation set is empty: the reference variant has no held-out file with text")
    with open(root / "eval_set.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(doc, ensure_ascii=False) + "\n" for doc in eval_docs)
    holdout = HoldoutStage(HoldoutConfig(groups=groups))

    # 2. Every variant: its stages, the holdout, the shards; then one training run per seed.
    results: dict[str, Any] = {}
    for n in names:
        graph = [s for s in stages[n] if s.name != "shards"] + [holdout, next(s for s in stages[n] if s.name == "shards")]
        builds[n] = build_variant(dirs[n], graph, siblings, base.seed, runner)
        if n == ref:
            builds[n]["seconds"] += first["seconds"]
            builds[n]["ran"] = first["ran"] + builds[n]["ran"]
            builds[n]["reused"] = first["reused"] + builds[n]["reused"]
        seeds = [train_and_score(cfg, dirs[n] / "shards", dirs[n] / "train" / f"seed-{s}", s, eval_docs, problems)
                 for s in cfg.train.seeds]
        results[n] = aggregate(seeds, builds[n], dirs[n])
    out = {
        "config": cfg.model_dump(mode="json"),
        "reference": ref,
        "eval_set": {"groups": [g.replace("\0", "/") for g in groups], "files": len(eval_docs),
                     "by_language": _count(d["language"] for d in eval_docs), "source_stage": source,
                     "sha256": hashlib.sha256((root / "eval_set.jsonl").read_bytes()).hexdigest()},
        "variants": results,
        "comparisons": compare(results, ref),
    }
    storage.write_json(str(root / "ablation.json"), out)
    from pipelines.ablation_page import write_page  # deferred: off `corpus --help`

    write_page(out, root / "ablation.html")
    return out


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return dict(sorted(counts.items()))


def mean_std(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation (0 for one seed) and the seeds' range."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"mean": round(mean, 5), "std": round(std, 5), "min": round(min(values), 5), "max": round(max(values), 5)}


def aggregate(seeds: list[dict[str, Any]], build: dict[str, Any], out: Path) -> dict[str, Any]:
    """One variant's entry of ablation.json: every figure as mean/std over the seeds."""
    langs = sorted({lang for s in seeds for lang in s["eval"]["by_language"]})
    benches = sorted({b for s in seeds for b in s["benchmarks"]})
    manifest = json.loads((out / "shards" / MANIFEST).read_text())
    eval_loss = {**mean_std([s["eval"]["loss"] for s in seeds]),
                 "bits_per_byte": mean_std([s["eval"]["bits_per_byte"] for s in seeds]),
                 "by_language": {lang: {**mean_std([s["eval"]["by_language"][lang]["loss"] for s in seeds]),
                                        "tokens": seeds[0]["eval"]["by_language"][lang]["tokens"]} for lang in langs}}
    benchmark_loss = {b: {**mean_std([s["benchmarks"][b]["loss"] for s in seeds]),
                          "bits_per_byte": mean_std([s["benchmarks"][b]["bits_per_byte"] for s in seeds]),
                          "problems": seeds[0]["benchmarks"][b]["problems"]} for b in benches}
    return {
        "eval_loss": eval_loss,
        "benchmark_loss": benchmark_loss,
        "tokens": seeds[0]["tokens"],
        "seconds": round(build["seconds"] + sum(s["train_seconds"] + s["eval_seconds"] for s in seeds), 2),
        "pipeline": {"seconds": build["seconds"], "stages_ran": build["ran"], "stages_reused": build["reused"],
                     "corpus_train_tokens": manifest["totals"]["train_tokens"]},
        "seeds": seeds,
    }


def compare(results: dict[str, Any], ref: str) -> dict[str, Any]:
    """Each variant minus the reference, next to the seed spread: a difference counts only when it is
    larger than the range the seeds of either variant span (`beyond_seed_spread`)."""
    out: dict[str, Any] = {}
    base = results[ref]

    def one(a: dict[str, float], b: dict[str, float]) -> dict[str, Any]:
        spread = max(a["max"] - a["min"], b["max"] - b["min"])
        delta = a["mean"] - b["mean"]
        return {"delta": round(delta, 5), "seed_spread": round(spread, 5), "beyond_seed_spread": abs(delta) > spread}

    for name, r in results.items():
        if name == ref:
            continue
        out[name] = {"eval_loss": one(r["eval_loss"], base["eval_loss"]),
                     "eval_bits_per_byte": one(r["eval_loss"]["bits_per_byte"], base["eval_loss"]["bits_per_byte"]),
                     "benchmark_loss": {b: one(v, base["benchmark_loss"][b]) for b, v in r["benchmark_loss"].items()
                                        if b in base["benchmark_loss"]}}
    return out


def print_summary(result: dict[str, Any], root: Path) -> None:
    print(f"\ncorpus ablate finished: {root}")
    benches = sorted({b for v in result["variants"].values() for b in v["benchmark_loss"]})
    print(f"  {'variant':<16} {'eval loss':>16} {'bits/byte':>16} " + " ".join(f"{b:>18}" for b in benches))
    for name, v in result["variants"].items():
        e = v["eval_loss"]
        cells = " ".join(f"{v['benchmark_loss'][b]['mean']:>9.4f} ±{v['benchmark_loss'][b]['std']:<7.4f}" for b in benches)
        print(f"  {name:<16} {e['mean']:>8.4f} ±{e['std']:<6.4f} {e['bits_per_byte']['mean']:>8.4f} ±{e['bits_per_byte']['std']:<6.4f} {cells}")
    print(f"  report: {root / 'ablation.json'}, {root / 'ablation.html'}")
