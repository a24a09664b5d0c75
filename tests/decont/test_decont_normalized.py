"""The paraphrase-aware rule: benchmark code with renamed identifiers, stripped comments and docstrings and
changed indentation is caught on normalised code (tree-sitter tokens), which the word n-gram rule misses;
the rule is off by default and changes the stage key when on."""

from __future__ import annotations

import ast
import gzip
import json
import sysconfig
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpus.engine.context import RunContext
from corpus.records import Doc, docs_to_table
from corpus.stages.decont import DecontStage, DecontStageConfig
from decont.normalize import build_normalized_index, normalize_code
from decont.paraphrase import paraphrase_python

pytest.importorskip("tree_sitter_language_pack")


@pytest.fixture(scope="module")
def humaneval(shared_dir: Path) -> list[dict]:
    with gzip.open(shared_dir / "benchmarks" / "HumanEval.jsonl.gz", "rt") as fh:
        return [json.loads(line) for line in fh]


def test_normalisation_ignores_names_comments_docstrings_and_layout() -> None:
    a = 'import os\n\ndef total(items, start=0):\n    """Sum."""\n    acc = start  # running\n    for x in items:\n        acc += len(os.sep) * x\n    return acc\n'
    b = "import os\ndef f(q, start=0):\n  z = start\n  for w in q:\n    z += len(os.sep)*w\n  return z\n"
    assert normalize_code(a) == normalize_code(b)
    # builtins, attributes and imported names stay; a different operator is a different text
    assert "len" in normalize_code(a).split() and "sep" in normalize_code(a).split() and "os" in normalize_code(a).split()
    assert normalize_code(a) != normalize_code(b.replace("+=", "-="))


def test_every_humaneval_paraphrase_parses_and_normalises_like_the_original(humaneval: list[dict]) -> None:
    for item in humaneval:
        code = item["prompt"] + item["canonical_solution"]
        copy = paraphrase_python(code, salt=item["task_id"])
        ast.parse(copy)
        assert copy != code and normalize_code(copy) == normalize_code(code)


def _stage_run(tmp_path: Path, docs: list[Doc], he: str, **cfg) -> tuple[int, set[str]]:
    part = tmp_path / "in" / "part-00000.parquet"
    part.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(docs_to_table(docs), part)
    out = tmp_path / "out"
    ctx = RunContext(out_uri=str(out), stage_name="decont", seed=1, stage_key="k")
    stats = DecontStage(DecontStageConfig(benchmarks=f"humaneval={he}", **cfg)).run(ctx, [str(part)])
    kept = {r["path"] for f in sorted((out / "decont").glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()}
    return stats.dropped.get("contaminated", 0), kept


def test_stage_catches_a_renamed_plant_only_with_the_rule_on(tmp_path: Path, shared_dir: Path, humaneval: list[dict]) -> None:
    he = str(shared_dir / "benchmarks" / "HumanEval.jsonl.gz")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    host = (stdlib / "textwrap.py").read_text()
    item = humaneval[0]
    leak = paraphrase_python(item["prompt"] + item["canonical_solution"], salt="x")
    docs = [Doc(source="github", domain="code", repo="r", path="leak.py", language="Python", text=host + "\n\n" + leak),
            *[Doc(source="github", domain="code", repo="r", path=name, language="Python", text=(stdlib / name).read_text())
              for name in ("textwrap.py", "shlex.py", "fnmatch.py")]]
    assert _stage_run(tmp_path / "off", docs, he) == (0, {"leak.py", "textwrap.py", "shlex.py", "fnmatch.py"})
    assert _stage_run(tmp_path / "on", docs, he, normalized_code=True) == (1, {"textwrap.py", "shlex.py", "fnmatch.py"})
    off, on = DecontStage(DecontStageConfig()), DecontStage(DecontStageConfig(normalized_code=True))
    assert off.fingerprint() != on.fingerprint()


def test_normalized_index_has_no_short_string_matches(shared_dir: Path) -> None:
    from decont.benchmarks import load_benchmark

    index = build_normalized_index([load_benchmark("humaneval", str(shared_dir / "benchmarks" / "HumanEval.jsonl.gz"))])
    assert index.match(normalize_code("def f(x):\n    return len(x)\n")) == []
