"""GitHub recall (recipe §1.4): seeds by rule, a pool of the files the code rules drop, two reported
iterations, recalled files rejoin through the filter with `meta.recall`. Real files: site-packages."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from classifiers.code_prose import code_prose, is_seed

SITE = Path(pa.__file__).resolve().parents[1]
LANG = {".py": "Python", ".h": "C", ".c": "C", ".json": "JSON"}
# Real repositories: installed packages (their Python, C headers and JSON files), one given GitHub stars.
PACKAGES = {"rich": None, "pygments": None, "jinja2": 5000, "yaml": None, "datasketch": None, "numpy/lib": None, "numpy/_core/include": None}
FAST = dict(bucket=20_000, lr=0.5, epoch=10)  # demo-scale fastText, as pipelines/default.yaml


def _rows() -> list[dict]:
    from corpus.records import Doc

    docs = []
    for pkg, stars in PACKAGES.items():
        root = SITE / pkg
        for f in sorted(p for p in root.rglob("*") if p.suffix in LANG and p.is_file()):
            text = f.read_text(encoding="utf-8", errors="replace")
            if not text.strip() or len(text) > 400_000:
                continue
            meta = {"github": {"full_name": f"pkgs/{pkg}", "stars": stars}} if stars else {}
            docs.append(Doc(source="github", domain="code", repo=pkg, path=str(f.relative_to(root)), text=text,
                            language=LANG[f.suffix], meta=meta))
    return [d.row() for d in docs]


def _write_parts(rows: list[dict], folder: Path, parts: int = 3) -> list[str]:
    from corpus.records import DOC_SCHEMA

    folder.mkdir(parents=True, exist_ok=True)
    size = -(-len(rows) // parts)
    out = []
    for i in range(parts):
        p = folder / f"part-{i:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(rows[i * size : (i + 1) * size], schema=DOC_SCHEMA), p)
        out.append(str(p))
    return out


def test_code_prose_counts_descriptions_not_code_or_licences() -> None:
    described = '"""Parse the configuration file and return the settings as a mapping.\n\nEvery key is lower-cased."""\n' \
                "# Walk the tree once, depth first, so that nested sections inherit their parent's values.\nx = 1\n"
    bare = "x = 1\n# x = compute(y, z) + 2\ny = [1, 2, 3]\n"
    licence = "# Copyright 2020 The Authors. Licensed under the Apache License, Version 2.0.\nx = 1\n"
    assert code_prose(described).prose_words >= 25 and code_prose(bare).prose_words == 0 and code_prose(licence).prose_words == 0
    assert is_seed(described, None, 20, 0.3, None) == "described" and is_seed(bare, None, 20, 0.3, None) is None
    assert is_seed(bare, 5000, 20, 0.3, 1000) == "starred" and is_seed(bare, 10, 20, 0.3, 1000) is None


def test_github_recall_two_iterations_and_the_filter_keeps_recalled_files(tmp_path: Path) -> None:
    from classifiers import RecallParams
    from corpus.engine.context import RunContext
    from corpus.engine.runner import InProcessRunner
    from corpus.filters.code_rules import check_code, load_rules
    from corpus.stages.filter import FilterStage
    from corpus.stages.recall import RecallConfig, RecallStage
    from corpus.stages.recall.config import GitHubRecallConfig, SeedRule

    rows = _rows()
    inputs = _write_parts(rows, tmp_path / "in")
    cfg = RecallConfig(fasttext=RecallParams(**FAST), github=GitHubRecallConfig(enabled=True, seed_rule=SeedRule(min_stars=1000)))
    assert RecallConfig().github.enabled is False and cfg.github.iterations == 2
    out = tmp_path / "out"
    stats = RecallStage(cfg).run(RunContext(str(out), seed=1234, stage_name="recall", runner=InProcessRunner(), stage_key="gh"), inputs)
    stats.check("recall")
    assert stats.in_records == stats.kept == len(rows) and not stats.dropped
    report = json.loads((out / "reports" / "recall.json").read_text())
    gh = report["github"]
    rules = load_rules(None)
    pool = {r["id"] for r in rows if check_code(r["text"], r["language"], rules) is not None}
    assert sum(gh["pool"].values()) == len(pool) > 20 and set(gh["seeds"]) == {"described", "starred"}
    assert [it["iteration"] for it in gh["iterations"]] == [1, 2]
    for it in gh["iterations"]:
        assert it["scored"] == len(pool) and it["positives"] > 0 and it["negatives"] > 0 and "degenerate" not in it
        assert it["train"]["github"]["heldout"]["balanced_accuracy"] > 0.6
    first, second = gh["iterations"]
    assert second["positives"] == first["positives"] + first["collected"]  # iteration 1's recall became positives
    assert "already_recalled_share" in second and second["collected"] >= first["collected"]

    got = pq.read_table(sorted(str(p) for p in (out / "recall").glob("part-*.parquet"))).to_pylist()
    before = {r["id"]: r for r in rows}
    recalled = {}
    for r in got:
        meta = json.loads(r["meta"])
        if "recall" in meta:
            recalled[r["id"]] = meta["recall"]
            assert r["id"] in pool and meta["recall"]["kind"] == "github_code" and meta["recall"]["iteration"] in (1, 2)
            if meta["recall"]["iteration"] == 2:
                assert meta["recall"]["probability"] >= cfg.github.threshold
        else:
            assert r == before[r["id"]]
        assert r["text"] == before[r["id"]]["text"]
    assert len(recalled) == gh["collected_files"] == second["collected"] > 0

    # The filter: in = kept + dropped; recalled pool files are kept, the other pool files dropped by their rule.
    filt = FilterStage()
    filt.setup()
    kept_ids, dropped = set(), {}
    for part in sorted((out / "recall").glob("part-*.parquet")):
        res = filt.process(pq.read_table(part))
        kept_ids |= set(res.kept.column("id").to_pylist())
        for rid, reason in zip(res.dropped.column("id").to_pylist(), res.dropped.column("reason").to_pylist()):
            dropped[rid] = reason
    assert len(kept_ids) + len(dropped) == len(rows) and not kept_ids & set(dropped)
    assert set(recalled) <= kept_ids and (pool - set(recalled)) == set(dropped)
    # Without GitHub recall the same input loses every pool file.
    plain = {rid for part in inputs for rid in filt.process(pq.read_table(part)).kept.column("id").to_pylist()}
    assert plain == kept_ids - set(recalled)


def test_github_recall_resumes_at_its_iteration_and_reports_a_degenerate_model(tmp_path: Path, monkeypatch, caplog) -> None:
    """Killed in iteration 2, the loop resumes there (iteration 1 not retrained) with the same records
    and report; DeepSeekMath's lr 0.1 / epoch 3 on ~250 seeds is degenerate: said, and nothing recalled."""
    import logging

    import corpus.stages.recall.github as gh
    from classifiers import RecallParams
    from corpus.engine.context import RunContext
    from corpus.engine.runner import InProcessRunner
    from corpus.errors import PreflightError
    from corpus.stages.recall import RecallConfig, RecallStage
    from corpus.stages.recall.config import GitHubRecallConfig

    rows = _rows()[::2]
    inputs = _write_parts(rows, tmp_path / "in", parts=2)
    cfg = RecallConfig(fasttext=RecallParams(**FAST), github=GitHubRecallConfig(enabled=True))

    def run(out: Path, c: RecallConfig = cfg) -> dict:
        RecallStage(c).run(RunContext(str(out), seed=5, stage_name="recall", runner=InProcessRunner(), stage_key="same"), inputs).check("recall")
        return json.loads((out / "reports" / "recall.json").read_text())

    whole = run(tmp_path / "whole")
    real_score, real_train = gh.score_task, gh.train_task

    def killed(*args):
        if args[3] == 2:
            raise KeyboardInterrupt("driver killed in iteration 2")
        return real_score(*args)

    monkeypatch.setattr(gh, "score_task", killed)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "resumed")
    trained: list[str] = []
    monkeypatch.setattr(gh, "score_task", real_score)
    monkeypatch.setattr(gh, "train_task", lambda *a: trained.append(Path(a[-1]).name) or real_train(*a))
    resumed = run(tmp_path / "resumed")
    assert trained == ["iter-2.bin"]
    def strip(obj):  # without timings
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k != "seconds"}
        return [strip(v) for v in obj] if isinstance(obj, list) else obj

    assert strip(resumed["github"]) == strip(whole["github"]) and len(whole["github"]["iterations"]) == 2

    def records(out: Path) -> list[dict]:
        return pq.read_table(sorted(str(p) for p in (out / "recall").glob("part-*.parquet"))).to_pylist()

    assert records(tmp_path / "resumed") == records(tmp_path / "whole")

    paper = cfg.model_copy(update={"fasttext": RecallParams(bucket=20_000)})
    with caplog.at_level(logging.WARNING, logger="corpus"):
        report = run(tmp_path / "paper", paper)
    assert report["warnings"] and "github.seeds" in report["warnings"][0]["likely_cause"]
    assert "degenerate" in report["github"]["skipped"] and any("degenerate" in r.getMessage() for r in caplog.records)
    assert not any("recall" in json.loads(r["meta"]) for r in records(tmp_path / "paper"))

    with pytest.raises(PreflightError, match="github.seeds"):
        RecallStage(RecallConfig(github=GitHubRecallConfig(enabled=True, seeds=[str(tmp_path / "missing.jsonl")]))).preflight()
