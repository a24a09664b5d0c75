"""The benchmark function runs end to end, and the datatrove index files it writes are read correctly
by datatrove's own NGramsDecontFilter (a planted copy is found by both). No timing assertions."""

from __future__ import annotations

from pathlib import Path

import pytest

from decont.bench import bench_decont, false_positives, planted_recall
from decont.benchmarks import load_benchmark
from decont.index import build_index


def test_bench_decont_with_datatrove(shared_dir: Path) -> None:
    pytest.importorskip("datatrove")
    he = load_benchmark("humaneval", str(shared_dir / "benchmarks" / "HumanEval.jsonl.gz"))
    item = he.items[7].fields
    texts = [
        "import os\n\n" + item["prompt"][0] + item["canonical_solution"][0],
        "def main():\n    print('hello, world')\n",
    ]
    result = bench_decont(texts, [he], repeat=1)
    assert result["build"]["humaneval"]["items"] == 164 and result["build"]["all"]["keys"] > 10_000
    assert result["scan"]["docs"] == 2 and result["scan"]["flagged"] == 1 and result["scan"]["mb_per_s"] > 0
    dt = result["datatrove"]
    assert "error" not in dt, dt
    assert dt["index_hashes"]["humaneval"] > 10_000
    assert dt["flagged"] == 1  # datatrove's filter reads our hash files and finds the same copy
    assert result["speedup_vs_datatrove"] > 0


def test_false_positive_and_recall_helpers(shared_dir: Path) -> None:
    he = load_benchmark("humaneval", str(shared_dir / "benchmarks" / "HumanEval.jsonl.gz"))
    index = build_index([he])
    fp = false_positives(index, [("a.py", "x = 1\n"), ("b.py", he.items[0].fields["prompt"][0])])
    assert fp["files"] == 2 and fp["flagged"] == 1 and fp["examples"][0]["path"] == "b.py"
    rec = planted_recall(index, [he])["humaneval"]
    assert rec["whole_problem"] == 164 and rec["fields_alone"]["prompt"] == "164/164"


def test_compare_rules_measures_keys_recall_and_false_positives(shared_dir: Path) -> None:
    from decont.bench import compare_rules

    he = load_benchmark("humaneval", str(shared_dir / "benchmarks" / "HumanEval.jsonl.gz"))
    clean = [("width.py", "def width(string):\n    return len(string)\n"), ("add.py", "def add_numbers(a, b):\n    return a + b\n")]
    result = compare_rules([he], clean)
    literal, guarded = result["rules"]["literal"], result["rules"]["guarded"]
    assert literal["keys"] > guarded["keys"] > 10_000
    assert literal["recall"]["humaneval"]["fields_alone"]["canonical_solution"] == "164/164"
    assert guarded["recall"]["humaneval"]["fields_alone"]["canonical_solution"] == "129/164"
    assert literal["false_positives"]["flagged"] == 1 and literal["false_positives"]["examples"][0]["path"] == "width.py"
    assert guarded["false_positives"]["flagged"] == 0 and result["sample"]["files"] == 2
