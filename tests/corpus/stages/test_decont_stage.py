"""The decont stage: file-level decisions, literal vs guarded rule, preflight on missing benchmark files,
in-process and Ray runners, per-part resume, and reports written through corpus.storage."""

from __future__ import annotations

import ast
import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpus.engine.context import RunContext
from corpus.engine.runner import InProcessRunner
from corpus.errors import PreflightError
from corpus.records import Doc, docs_to_table
from corpus.stages.decont import DecontStage, DecontStageConfig
from decont.benchmarks import load_benchmark
from decont.index import DecontConfig, build_index

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def humaneval(shared_dir: Path) -> list[dict]:
    with gzip.open(shared_dir / "benchmarks" / "HumanEval.jsonl.gz", "rt") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def he_path(shared_dir: Path) -> str:
    return str(shared_dir / "benchmarks" / "HumanEval.jsonl.gz")


def _go_repo(n: int, leak: str, leak_at: int) -> list[Doc]:
    """A Go repository of n real-looking files, one of which has a HumanEval solution pasted in."""
    docs = []
    for i in range(n):
        body = "\n".join(
            f"func (s *Store{i}) Lookup{j}(key string) (int{j % 3 * 32 or ''}, error) {{\n\tv, ok := s.items[key+\"{j}\"]\n"
            f"\tif !ok {{\n\t\treturn 0, fmt.Errorf(\"store{i}: %s not found\", key)\n\t}}\n\treturn v, nil\n}}\n"
            for j in range(12)
        )
        text = f"package store{i}\n\nimport \"fmt\"\n\n{body}"
        if i == leak_at:
            text += "\n/*\n" + leak + "\n*/\n"
        docs.append(Doc(source="github", domain="code", repo="acme/store", path=f"pkg/store{i}.go", text=text, language="Go"))
    return docs


def _parts(tmp_path: Path, docs: list[Doc], per_part: int) -> list[str]:
    paths = []
    for k in range(0, len(docs), per_part):
        p = tmp_path / "in" / f"part-{k // per_part:05d}.parquet"
        p.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(docs_to_table(docs[k : k + per_part]), p)
        paths.append(str(p))
    return paths


def _read_dir(folder: Path, pattern: str = "part-*.parquet") -> list[dict]:
    files = sorted(str(p) for p in folder.glob(pattern))
    return pq.read_table(files).to_pylist() if files else []


class CountingRunner(InProcessRunner):
    """In-process, counting tasks and shares (the index must be shared once, not per task)."""

    def __init__(self) -> None:
        self.tasks = 0
        self.shares = 0

    def map(self, fn, arg_list, **kw):
        arg_list = list(arg_list)
        self.tasks += len(arg_list)
        return super().map(fn, arg_list, **kw)

    def share(self, obj):
        self.shares += 1
        return super().share(obj)


def test_one_planted_solution_costs_only_its_file(tmp_path: Path, humaneval: list[dict], he_path: str) -> None:
    item = humaneval[12]
    docs = _go_repo(36, item["prompt"] + item["canonical_solution"], leak_at=17)
    inputs = _parts(tmp_path, docs, per_part=10)
    runner = CountingRunner()
    ctx = RunContext(out_uri=str(tmp_path / "out"), stage_name="decont", runner=runner, seed=1, stage_key="k1")
    stats = DecontStage(DecontStageConfig(benchmarks=f"humaneval={he_path}")).run(ctx, inputs)
    assert stats.in_records == 36 and stats.kept == 35 and dict(stats.dropped) == {"contaminated": 1}
    assert runner.tasks == 4 and runner.shares == 1
    kept = _read_dir(tmp_path / "out" / "decont")
    assert len(kept) == 35 and "pkg/store17.go" not in {r["path"] for r in kept}
    gone = _read_dir(tmp_path / "out" / "decont" / "_dropped", "*.parquet")
    assert [(r["repo"], r["path"], r["reason"]) for r in gone] == [("acme/store", "pkg/store17.go", "contaminated")]
    assert "humaneval:HumanEval/12" in gone[0]["detail"] and "n-gram:" in gone[0]["detail"]
    report = json.loads((tmp_path / "out" / "reports" / "decontamination.json").read_text())
    assert report["level"] == "file" and report["hits_total"] == 1 and report["rule"]["rule"] == "guarded"
    (hit,) = report["hits"]
    assert (hit["repo"], hit["path"], hit["item"]) == ("acme/store", "pkg/store17.go", "HumanEval/12")
    assert " ".join(hit["ngram"].split()) in " ".join((item["prompt"] + item["canonical_solution"]).split())
    md = (tmp_path / "out" / "reports" / "decontamination.md").read_text()
    assert "acme/store/pkg/store17.go" in md and "HumanEval/12" in md and "`guarded`" in md


def test_flag_mode_keeps_every_file_and_marks_the_leak(tmp_path: Path, humaneval: list[dict], he_path: str) -> None:
    item = humaneval[3]
    inputs = _parts(tmp_path, _go_repo(6, item["prompt"] + item["canonical_solution"], leak_at=2), per_part=6)
    ctx = RunContext(out_uri=str(tmp_path / "out"), stage_name="decont", stage_key="k")
    stats = DecontStage(DecontStageConfig(benchmarks=f"humaneval={he_path}", mode="flag")).run(ctx, inputs)
    assert stats.in_records == stats.kept == 6 and not stats.dropped
    marks = {r["path"]: json.loads(r["meta"] or "{}").get("decont") for r in _read_dir(tmp_path / "out" / "decont")}
    assert [p for p, m in marks.items() if m] == ["pkg/store2.go"]
    assert marks["pkg/store2.go"][0]["item"] == "HumanEval/3"


def test_literal_rule_catches_more_planted_copies_and_more_clean_code(shared_dir: Path, humaneval: list[dict], he_path: str) -> None:
    he = load_benchmark("humaneval", he_path)
    guarded = build_index([he], DecontConfig(rule="guarded"))
    literal = build_index([he], DecontConfig(rule="literal"))
    assert len(literal.keys) > len(guarded.keys)
    head = "# helpers\nimport os\n\n\ndef helper(p):\n    return os.path.basename(p)\n\n"

    def caught(index, i: int) -> bool:
        return any(h.item == f"HumanEval/{i}" for h in index.match(head + humaneval[i]["canonical_solution"]))

    solutions = [caught(guarded, i) for i in range(164)], [caught(literal, i) for i in range(164)]
    # Every solution the guarded rule catches alone, the literal one catches too, and more besides.
    assert all(lit for g, lit in zip(*solutions) if g)
    assert sum(solutions[1]) > sum(solutions[0]) >= 120
    # HumanEval/23's whole solution is `return len(string)`: a short string the literal rule matches
    # exactly, so it also flags ordinary code holding that line; the guarded rule does neither.
    assert " ".join(humaneval[23]["canonical_solution"].split()) == "return len(string)"
    clean = "def width(string):\n    # display width of a label\n    return len(string)\n"
    assert [h.item for h in literal.match(clean)] == ["HumanEval/23"]
    assert guarded.match(clean) == []
    # HumanEval's test harness (the same in every item) is boilerplate to the guarded rule only.
    harness = "METADATA = {'author': 'jt', 'dataset': 'test'}\n\n\ndef check(candidate):\n    assert candidate('qwertyzz') == 1\n"
    assert guarded.match(harness) == [] and literal.match(harness)


def test_literal_rule_in_the_stage(tmp_path: Path, he_path: str) -> None:
    docs = [
        Doc(source="github", domain="code", repo="r", path="a.py", text="def width(string):\n    return len(string)\n"),
        Doc(source="github", domain="code", repo="r", path="b.py", text="def add_numbers(a, b):\n    return a + b\n"),
    ]
    inputs = _parts(tmp_path, docs, per_part=2)
    for rule, dropped in (("guarded", 0), ("literal", 1)):
        ctx = RunContext(out_uri=str(tmp_path / rule), stage_name="decont", stage_key=rule)
        stats = DecontStage(DecontStageConfig(benchmarks=f"humaneval={he_path}", rule=rule)).run(ctx, inputs)
        assert stats.in_records == 2 and sum(stats.dropped.values()) == dropped, rule


def test_missing_benchmark_file_is_a_preflight_error(tmp_path: Path, he_path: str) -> None:
    missing = tmp_path / "nope" / "mbpp.jsonl"
    stage = DecontStage(DecontStageConfig(benchmarks=f"humaneval={he_path},mbpp={missing}"))
    with pytest.raises(PreflightError, match=str(missing)):
        stage.preflight()
    # allow_empty: the run goes on and the report names what was not checked.
    ok = DecontStage(DecontStageConfig(benchmarks=f"humaneval={he_path},mbpp={missing}", allow_empty=True))
    ok.preflight()
    inputs = _parts(tmp_path, [Doc(source="s", domain="code", repo="r", path="x.py", text="print('hi there')\n")], per_part=1)
    ok.run(RunContext(out_uri=str(tmp_path / "out"), stage_name="decont"), inputs)
    report = json.loads((tmp_path / "out" / "reports" / "decontamination.json").read_text())
    assert {m["name"]: m["source"] for m in report["missing"]}["mbpp"] == str(missing)
    # A benchmark list that disables everything protects nothing: an error too, unless allowed.
    with pytest.raises(PreflightError, match="no benchmark"):
        DecontStage(DecontStageConfig(benchmarks="humaneval=off")).preflight()
    DecontStage(DecontStageConfig(benchmarks="humaneval=off", allow_empty=True)).preflight()


def test_unreadable_configured_benchmark_fails_the_run(tmp_path: Path) -> None:
    bad = tmp_path / "gsm8k.jsonl"
    bad.write_text("{not json\n")
    stage = DecontStage(DecontStageConfig(benchmarks=f"gsm8k={bad}"))
    stage.preflight()  # the file exists; that it holds no item is found when loading
    inputs = _parts(tmp_path, [Doc(source="s", domain="code", repo="r", path="x.py", text="x = 1\n")], per_part=1)
    with pytest.raises(PreflightError, match="gsm8k"):
        stage.run(RunContext(out_uri=str(tmp_path / "out"), stage_name="decont"), inputs)


def test_killed_run_resumes_with_the_parts_already_done(tmp_path: Path, humaneval: list[dict], he_path: str) -> None:
    item = humaneval[40]
    inputs = _parts(tmp_path, _go_repo(12, item["prompt"] + item["canonical_solution"], leak_at=9), per_part=3)
    cfg = DecontStageConfig(benchmarks=f"humaneval={he_path}")
    first = CountingRunner()
    s1 = DecontStage(cfg).run(RunContext(out_uri=str(tmp_path / "out"), stage_name="decont", runner=first, stage_key="same"), inputs)
    report = tmp_path / "out" / "reports" / "decontamination.json"
    before = report.read_text()
    # Simulate a driver killed after parts 0 and 1: the others lose their commit record, the report its step.
    for name in ("_part-00002.stats.json", "_part-00003.stats.json", "_steps/report.json"):
        (tmp_path / "out" / "decont" / name).unlink()
    report.unlink()
    again = CountingRunner()
    s2 = DecontStage(cfg).run(RunContext(out_uri=str(tmp_path / "out"), stage_name="decont", runner=again, stage_key="same", resume=True),
                              inputs)
    assert first.tasks == 4 and again.tasks == 2
    assert s2.to_json() == s1.to_json() and json.loads(report.read_text())["hits"] == json.loads(before)["hits"]
    # Another stage key (changed config or upstream): nothing is trusted.
    other = CountingRunner()
    DecontStage(cfg).run(RunContext(out_uri=str(tmp_path / "out"), stage_name="decont", runner=other, stage_key="changed", resume=True),
                         inputs)
    assert other.tasks == 4
    # Without --resume no part's commit record is even looked for: the driver makes no request per part.
    from corpus import storage

    with storage.counting_requests() as driver:
        DecontStage(cfg).run(RunContext(out_uri=str(tmp_path / "out"), stage_name="decont", runner=CountingRunner(), stage_key="same"),
                             inputs)
    assert driver["reads"] + driver["opens"] < 4 * 2, driver


def test_stage_on_the_ray_runner_matches_in_process(tmp_path: Path, ray_runner, humaneval: list[dict], he_path: str) -> None:
    item = humaneval[100]
    inputs = _parts(tmp_path, _go_repo(9, item["prompt"] + item["canonical_solution"], leak_at=4), per_part=3)
    cfg = DecontStageConfig(benchmarks=f"humaneval={he_path}")
    outs = {}
    for name, runner in (("ray", ray_runner), ("local", InProcessRunner())):
        ctx = RunContext(out_uri=str(tmp_path / name), stage_name="decont", runner=runner, stage_key="k")
        stats = DecontStage(cfg).run(ctx, inputs)
        assert stats.in_records == 9 and dict(stats.dropped) == {"contaminated": 1}
        outs[name] = (_read_dir(tmp_path / name / "decont"), json.loads((tmp_path / name / "reports" / "decontamination.json").read_text())["hits"])
    assert outs["ray"] == outs["local"]


def test_stage_and_cli_have_no_ray_of_their_own() -> None:
    stage_src = (ROOT / "corpus" / "stages" / "decont.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(stage_src)):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert not any(m.split(".")[0] == "ray" or m.startswith("corpus.engine.executor") for m in imported), imported
    for attr in ("stage_dir", "tmp_dir", "reports_dir", "run_tasks"):
        assert f"ctx.{attr}" not in stage_src
    for path in (ROOT / "corpus" / "decont").glob("*.py"):
        assert "ray.init" not in path.read_text() and "import ray" not in path.read_text(), path


def test_stage_writes_parts_hits_and_reports_on_s3(tmp_path: Path, s3_server, monkeypatch, humaneval: list[dict], he_path: str) -> None:
    from corpus import storage
    from corpus.engine.parts import list_parts

    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    storage.configure(None)  # no filesystem cached under another environment
    try:
        out = f"s3://{s3_server.bucket}/decont-stage"
        item = humaneval[7]
        local = _parts(tmp_path, _go_repo(5, item["prompt"] + item["canonical_solution"], leak_at=1), per_part=5)
        inputs = [storage.join(out, "in", "part-00000.parquet")]
        storage.upload_file(local[0], inputs[0])
        ctx = RunContext(out_uri=out, stage_name="decont", stage_key="s3")
        stats = DecontStage(DecontStageConfig(benchmarks=f"humaneval={he_path}")).run(ctx, inputs)
        assert stats.in_records == 5 and dict(stats.dropped) == {"contaminated": 1}
        assert [storage.basename(p) for p in list_parts(ctx.stage_uri)] == ["part-00000.parquet"]
        assert storage.read_table(storage.join(ctx.stage_uri, "part-00000.parquet")).num_rows == 4
        report = storage.read_json(storage.join(out, "reports", "decontamination.json"))
        assert {h["path"] for h in report["hits"]} == {"pkg/store1.go"} and "HumanEval/7" in {h["item"] for h in report["hits"]}
        assert storage.exists(storage.join(out, "reports", "decontamination.html"))
        assert "HumanEval/7" in storage.read_text(storage.join(ctx.stage_uri, "_hits", "part-00000.jsonl"))
    finally:
        storage.configure(None)
