"""Decontamination against the real HumanEval / MBPP / GSM8K / MATH files in shared/benchmarks."""

from __future__ import annotations

import ast
import gzip
import http.server
import io
import json
import os
import pickle
import re
import shutil
import sysconfig
import tarfile
import threading
import warnings
from functools import partial
from pathlib import Path

import pytest

from corpus.commands.decont.cli import main as cli_main
from corpus.runreport.decontamination import write_reports
from decont.benchmarks import (
    BenchmarkError,
    BenchmarkSpec,
    default_benchmarks,
    load_benchmark,
    load_benchmarks,
    parse_benchmark_specs,
)
from decont.fetch import fetch_benchmarks
from decont.index import DecontConfig, build_index
from decont.report import build_report
from decont.scan import filter_table, merge_counts, scan_records
from decont.text import tokenize

FILES = {
    "humaneval": "HumanEval.jsonl.gz",
    "mbpp": "mbpp.jsonl",
    "gsm8k": "gsm8k_test.jsonl",
    "math": "math_test.jsonl",
}
COUNTS = {"humaneval": 164, "mbpp": 974, "gsm8k": 1319, "math": 5000}

CLEAN_HEAD = "# utilities for our internal tooling\nimport os\n\n\ndef helper(path):\n    return os.path.basename(path)\n\n"
CLEAN_TAIL = "\n\nif __name__ == '__main__':\n    print(helper(__file__))\n"


@pytest.fixture(scope="module")
def bench_dir(shared_dir: Path) -> Path:
    d = shared_dir / "benchmarks"
    if not d.is_dir():
        pytest.skip(f"no benchmarks in {d}")
    return d


@pytest.fixture(scope="module")
def benches(bench_dir: Path) -> dict:
    return {name: load_benchmark(name, str(bench_dir / f)) for name, f in FILES.items()}


@pytest.fixture(scope="module")
def index(benches: dict):
    return build_index(list(benches.values()))


def _raw(bench_dir: Path, name: str) -> list[dict]:
    path = bench_dir / FILES[name]
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _items(index, text: str) -> set[tuple[str, str]]:
    return {(h.benchmark, h.item) for h in index.match(text)}


# ------------------------------------------------------------------ loaders


def test_loaders_read_real_files(benches: dict) -> None:
    for name, n in COUNTS.items():
        assert len(benches[name]) == n, name
        assert not benches[name].skipped
    he = benches["humaneval"].items[0]
    assert he.id == "HumanEval/0" and set(he.fields) == {"prompt", "canonical_solution", "test"}
    mb = benches["mbpp"].items[0]
    assert mb.id == "1" and len(mb.fields["test_list"]) == 3
    gsm = benches["gsm8k"].items[0]
    assert "<<" not in gsm.fields["answer"][0] and "9 duck eggs" in gsm.fields["answer"][0]
    assert benches["math"].items[0].id == "test/algebra/1.json"


def test_default_benchmarks_use_packaged_humaneval(bench_dir: Path) -> None:
    [he] = default_benchmarks()
    assert he.name == "humaneval" and len(he) == 164
    shipped = [json.loads(x) for x in gzip.open(he.source, "rt")]
    assert shipped == _raw(bench_dir, "humaneval")


def test_missing_benchmarks_are_named_not_skipped(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jsonl"
    bad.write_text("not json\n")
    loaded, missing = load_benchmarks(
        [BenchmarkSpec("mbpp"), BenchmarkSpec("gsm8k", str(tmp_path / "nope.jsonl")), BenchmarkSpec("math", str(bad)),
         *parse_benchmark_specs("humaneval=off")]
    )
    assert loaded == []
    reasons = {m["name"]: m["reason"] for m in missing}
    assert set(reasons) == {"mbpp", "gsm8k", "math", "humaneval"}
    assert reasons["humaneval"] == "disabled in the configuration"
    assert "not configured" in reasons["mbpp"]
    assert "cannot read" in reasons["gsm8k"]
    assert "no usable items" in reasons["math"]


def test_mbpp_sanitized_json_and_math_tree_and_tar(bench_dir: Path, tmp_path: Path) -> None:
    # MBPP sanitized release: one JSON array, `prompt` instead of `text`.
    mbpp = _raw(bench_dir, "mbpp")[:20]
    sanitized = [{"source_file": "x", "task_id": r["task_id"], "prompt": r["text"], "code": r["code"], "test_imports": [], "test_list": r["test_list"]} for r in mbpp]
    (tmp_path / "sanitized-mbpp.json").write_text(json.dumps(sanitized, indent=4))
    b = load_benchmark("mbpp", str(tmp_path / "sanitized-mbpp.json"))
    assert len(b) == 20 and b.items[3].fields["text"] == [mbpp[3]["text"]]
    # MATH original release: MATH/{train,test}/<type>/<n>.json, as a tree and as a tar.
    recs = _raw(bench_dir, "math")[:30]
    root = tmp_path / "MATH"
    for r in recs:
        p = root / r["unique_id"]
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({k: r[k] for k in ("problem", "level", "type", "solution")}))
    train = root / "train" / "algebra" / "1.json"
    train.parent.mkdir(parents=True)
    train.write_text(json.dumps({"problem": "train only", "solution": "x"}))
    tree = load_benchmark("math", str(root))
    assert len(tree) == 30
    assert {it.id for it in tree.items} == {r["unique_id"] for r in recs}
    with tarfile.open(tmp_path / "MATH.tar", "w") as tar:
        tar.add(root, arcname="MATH")
    tarred = load_benchmark("math", str(tmp_path / "MATH.tar"))
    assert {it.id: it.fields for it in tarred.items} == {it.id: it.fields for it in tree.items}


def test_custom_benchmark_and_spec_parsing(tmp_path: Path) -> None:
    specs = parse_benchmark_specs("humaneval,mbpp=/d/mbpp.jsonl,mine=http://127.0.0.1:8000/q.jsonl:question+answer,x=C:/a.jsonl")
    assert specs[0] == BenchmarkSpec("humaneval", None, None)
    assert specs[1] == BenchmarkSpec("mbpp", "/d/mbpp.jsonl", None)
    assert specs[2] == BenchmarkSpec("mine", "http://127.0.0.1:8000/q.jsonl", ("question", "answer"))
    assert specs[3].source == "C:/a.jsonl" and specs[3].fields is None
    path = tmp_path / "mine.jsonl"
    path.write_text(
        json.dumps({"id": "q1", "question": "What is the airspeed velocity of an unladen swallow in the grand hall of Camelot?", "answer": "African or European swallow"})
        + "\n{broken\n"
    )
    b = load_benchmark("mine", str(path), ("question", "answer"))
    assert len(b) == 1 and b.items[0].id == "q1" and len(b.skipped) == 1
    with pytest.raises(BenchmarkError):
        load_benchmark("mine", str(path))  # custom needs fields
    idx = build_index([b])
    assert _items(idx, "He asked: what is the AIRSPEED velocity of an unladen swallow in the grand hall of camelot") == {("mine", "q1")}
    assert _items(idx, "answer: african or european swallow!") == {("mine", "q1")}  # short string, exact


# ------------------------------------------------------------------ planted copies


def test_whole_problems_of_every_benchmark_are_caught(index, benches: dict) -> None:
    for name, bench in benches.items():
        missed = []
        for it in bench.items:
            body = "\n".join(u for units in it.fields.values() for u in units)
            if (name, it.id) not in _items(index, CLEAN_HEAD + body + CLEAN_TAIL):
                missed.append(it.id)
        assert missed == [], (name, missed[:5])


def test_mbpp_solutions_only_are_caught(index, bench_dir: Path) -> None:
    recs = _raw(bench_dir, "mbpp")
    caught = sum(("mbpp", str(r["task_id"])) in _items(index, CLEAN_HEAD + r["code"] + CLEAN_TAIL) for r in recs)
    assert caught >= 0.99 * len(recs), caught  # measured 973 / 974
    first = recs[1]  # task 2, similar_elements
    hits = [h for h in index.match(CLEAN_HEAD + first["code"]) if h.benchmark == "mbpp"]
    assert hits and hits[0].item == "2" and hits[0].field == "code"


def _reformat_by_hand(code: str) -> str:
    """Different indentation, spacing, quotes and line endings, same tokens."""
    code = code.replace("\r\n", "\n").replace("\t", "        ")
    code = re.sub(r"\s*([=+\-*/<>,()\[\]:])\s*", r" \1 ", code)
    return code.replace("'", '"')


def test_reformatted_solutions_are_caught(index, bench_dir: Path) -> None:
    recs = _raw(bench_dir, "mbpp")
    by_hand = sum(("mbpp", str(r["task_id"])) in _items(index, _reformat_by_hand(r["code"])) for r in recs)
    assert by_hand >= 0.99 * len(recs), by_hand
    # A real reformatter: the stdlib's ast.unparse (normalises spacing, quotes, parentheses, drops comments).
    parsed, caught = 0, 0
    for r in recs:
        try:
            with warnings.catch_warnings():  # MBPP code has Python 2 era escapes
                warnings.simplefilter("ignore")
                code = ast.unparse(ast.parse(r["code"].replace("\r\n", "\n")))
        except (SyntaxError, ValueError):
            continue
        parsed += 1
        caught += ("mbpp", str(r["task_id"])) in _items(index, code)
    assert parsed > 900 and caught >= 0.98 * parsed, (caught, parsed)
    he = _raw(bench_dir, "humaneval")
    reindented = [r for r in he if ("humaneval", r["task_id"]) in _items(index, (r["prompt"] + r["canonical_solution"]).replace("    ", "\t"))]
    assert len(reindented) == len(he)


def test_gsm8k_question_in_a_web_page(index, bench_dir: Path) -> None:
    q = _raw(bench_dir, "gsm8k")[0]["question"]
    page = (
        "Home | Forum | Homework help\n\nPosted by mathfan42 on 3 March\n\nCan someone help with this one?\n\n"
        + q.replace("\u2019", "'").replace(". ", ".\n")
        + "\n\nReply  Share  Report\nCopyright 2024 Example Forums. All rights reserved."
    )
    hits = index.match(page)
    assert [(h.benchmark, h.item, h.field) for h in hits] == [("gsm8k", "0", "question")]
    h = hits[0]
    assert page[h.offset : h.offset + len(h.ngram)] == h.ngram and h.ngram in h.context


def test_math_problems_long_and_short(index, bench_dir: Path) -> None:
    recs = _raw(bench_dir, "math")
    long = recs[1]  # test/algebra/2: circles with radius r and R
    doc = "Lecture notes, week 3.\n\nExercise. " + long["problem"] + "\n\nTry it before reading on."
    assert ("math", long["unique_id"]) in _items(index, doc)
    short = [r for r in recs if 3 <= len(tokenize(r["problem"])) < 10]
    assert len(short) > 300
    found = sum(("math", r["unique_id"]) in _items(index, "Homework 5:\n" + r["problem"] + "\nShow your work.") for r in short)
    assert found >= 0.95 * len(short), (found, len(short))


def test_short_strings_exact_but_not_short_answers(index, bench_dir: Path) -> None:
    # MBPP short test strings (3..9 grams) are matched whole ...
    t = "assert is_not_prime(2) == False"
    assert 3 <= len(tokenize(t)) < 10
    assert ("mbpp", "3") in _items(index, "def test():\n    assert is_not_prime( 2 )==False\n")
    # ... but a part of a short string is not a match.
    assert _items(index, "assert is_not_prime(x)") == set()
    # GSM8K final answers (< 3 grams) are never indexed, nor are HumanEval one-line solution bodies.
    g = _raw(bench_dir, "gsm8k")[0]
    assert g["answer"].endswith("#### 18")
    assert index.match("The answer is 18.\n#### 18\nShe makes $18 every day.") == []
    assert index.match("def size(string: str) -> int:\n    return len(string)\n") == []


def test_clean_code_is_not_flagged(index) -> None:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in {"site-packages", "test", "tests", "idlelib"})
        files += [Path(dirpath) / f for f in sorted(filenames) if f.endswith(".py")]
    scanned = flagged = 0
    for p in files[:700]:
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        scanned += 1
        flagged += bool(index.match(text))
    assert scanned > 400
    # Measured: 1 of 674 (collections/__init__.py, whose Counter.elements docstring MBPP 810 copied).
    assert flagged <= max(2, scanned // 200), flagged
    own = Path(__file__).resolve().parents[2] / "corpus" / "decont"
    for p in own.glob("*.py"):
        assert index.match(p.read_text(encoding="utf-8")) == [], p


def test_boilerplate_and_data_ngrams_are_not_indexed(index) -> None:
    # HumanEval's test harness lines shared by many items are boilerplate, not an item's identity ...
    boiler = "METADATA = {\n    'author': 'jt',\n    'dataset': 'test'\n}\n\n\ndef check(candidate):\n    assert candidate(42) == 42\n"
    assert index.match(boiler) == []
    # ... while an item's own test line is specific (HumanEval/0's first assert).
    own = "def check(candidate):\n    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True\n"
    assert ("humaneval", "HumanEval/0") in _items(index, own)  # (HumanEval/20 reuses the same data)
    assert index.match("letters = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k']") == []
    assert index.match("for i in range(n):\n    for j in range(n):\n        for k in range(n):\n            pass") == []


def test_index_pickles_and_reports_its_size(index, bench_dir: Path) -> None:
    clone = pickle.loads(pickle.dumps(index))
    r = _raw(bench_dir, "humaneval")[5]
    text = r["prompt"] + r["canonical_solution"]
    assert [h.to_dict() for h in clone.match(text)] == [h.to_dict() for h in index.match(text)]
    d = index.describe()
    assert d["keys"] == len(index.keys) > 100_000
    assert 1_000_000 < d["memory_bytes"] < 200_000_000


def test_unit_code_is_stricter_than_word(benches: dict) -> None:
    he = benches["humaneval"]
    strict = build_index([he], DecontConfig(unit="code"))
    r = he.items[2].fields
    copy = r["prompt"][0] + r["canonical_solution"][0]
    assert ("humaneval", he.items[2].id) in _items(strict, copy)
    assert ("humaneval", he.items[2].id) in _items(strict, copy.replace("    ", "\t"))


# ------------------------------------------------------------------ scanning and reports


def _records(bench_dir: Path) -> list[dict]:
    he = _raw(bench_dir, "humaneval")
    gsm = _raw(bench_dir, "gsm8k")
    return [
        {"id": "a", "source": "github", "path": "x/copy.py", "language": "Python", "text": he[3]["prompt"] + he[3]["canonical_solution"]},
        {"id": "b", "source": "github", "path": "x/clean.py", "language": "Python", "text": CLEAN_HEAD + CLEAN_TAIL},
        {"id": "c", "source": "web", "path": "https://example.org/q", "language": None, "text": "Q: " + gsm[7]["question"]},
        {"id": "d", "source": "web", "path": "https://example.org/empty", "text": None},
    ]


def test_report_shape_and_merge(index, bench_dir: Path, tmp_path: Path) -> None:
    recs = _records(bench_dir)
    hits, counts = scan_records(index, recs)
    h1, c1 = scan_records(index, recs[:2])
    h2, c2 = scan_records(index, recs[2:])
    assert merge_counts(c1, c2) == counts and len(h1) + len(h2) == len(hits)
    missing = [{"name": "mbpp", "source": "", "reason": "not configured (no source given)"}]
    report = build_report(index, counts, hits, missing)
    paths = write_reports(report, tmp_path / "out")
    data = json.loads(Path(paths["json"]).read_text())
    assert data["documents"] == {"scanned": 3, "contaminated": 2, "bytes": data["documents"]["bytes"], "skipped": 1}
    for _name, b in data["benchmarks"].items():
        assert isinstance(b["items"], int) and isinstance(b["items_matched"], int)
    assert data["benchmarks"]["humaneval"]["items_matched"] >= 1 and data["benchmarks"]["gsm8k"]["items_matched"] == 1
    assert data["benchmarks"]["math"]["items_matched"] == 0
    for h in data["hits"]:
        assert {"doc", "benchmark", "item", "ngram"} <= set(h) and all(isinstance(h[k], str) for k in ("doc", "benchmark", "item", "ngram"))
    assert {h["doc"] for h in data["hits"]} == {"x/copy.py", "https://example.org/q"}
    assert data["by_source"]["web"] == {"scanned": 1, "contaminated": 1, "bytes": data["by_source"]["web"]["bytes"]}
    assert data["by_language"]["Python"]["contaminated"] == 1
    assert data["missing"][0]["name"] == "mbpp"
    md = Path(paths["md"]).read_text()
    assert "| gsm8k | 1319 |" in md and "mbpp" in md.split("## Missing")[1]
    page = Path(paths["html"]).read_text()
    assert page.count("plotly.js v") == 1  # the bundle embedded once, however many charts
    charts = re.findall(r'<div id="chart-(decont-[a-z-]+)" class="chart plotly-graph-div"', page)
    assert charts == ["decont-benchmarks", "decont-by-source", "decont-by-language"]
    assert all(page.count(f'"chart-{c}"') >= 2 for c in charts)  # each div has the script that draws it
    assert "<mark>" in page and "Not checked: mbpp" in page
    from corpus.runreport.page import plotly_js

    ours = page.replace(plotly_js(), "")  # the bundle itself names URLs (map tiles, logo link) it never loads here
    assert len(ours) < len(page) and not re.search(r"(src|href)=['\"]?https?:", ours)  # self-contained


def _hand_report(hits: list[dict], by_language: dict) -> dict:
    """A report dict as build_report makes it, without an index: render_html only reads the dict."""
    return {
        "rule": {"n": 10, "min_short": 5, "unit": "token", "rule": "guarded"},
        "index": {"keys": 12, "memory_bytes": 4096, "build_seconds": 0.1},
        "benchmarks": {"<b>bench</b>": {"items": 3, "items_indexed": 3, "items_matched": 1, "documents": 1, "hits": len(hits),
                                         "keys": 12, "short_strings": 0, "source": "<i>src</i>"}},
        "missing": [{"name": "mbpp", "source": "", "reason": "<script>alert('missing')</script>"}],
        "documents": {"scanned": 2, "contaminated": 1, "bytes": 100, "skipped": 0},
        "skipped": {},
        "by_source": {"<u>gh</u>": {"scanned": 2, "contaminated": 1, "bytes": 100}},
        "by_language": by_language,
        "hits": hits,
    }


def test_html_escapes_hostile_text_and_marks_the_ngram() -> None:
    from corpus.runreport.decontamination import render_html

    hit = {"doc": "<img src=x onerror=alert(1)>", "benchmark": "<b>bench</b>", "item": "</td><script>alert(2)</script>",
           "field": "prompt", "ngram": "</pre><script>alert(3)</script>",
           "context": "before <!-- </pre><script>alert(3)</script> after & more"}
    page = render_html(_hand_report([hit], {}))
    assert "<script>alert" not in page and "<img" not in page and "<b>bench" not in page and "<u>gh" not in page
    assert "<mark>&lt;/pre&gt;&lt;script&gt;alert(3)&lt;/script&gt;</mark>" in page
    assert "before &lt;!-- " in page and " after &amp; more" in page
    # No contaminated language: no empty chart, a sentence instead; the other two charts are drawn.
    assert re.findall(r'<div id="chart-(decont-[a-z-]+)" class="chart plotly-graph-div"', page) == ["decont-benchmarks", "decont-by-source"]
    assert "No contaminated documents." in page
    # An n-gram the context does not contain (cut at the window): the context alone, escaped, nothing marked.
    page = render_html(_hand_report([{**hit, "ngram": "absent"}], {"Python": {"scanned": 2, "contaminated": 1, "bytes": 100}}))
    assert "<mark>" not in page and "&lt;/pre&gt;&lt;script&gt;alert(3)" in page
    assert 'id="chart-decont-by-language" class="chart plotly-graph-div"' in page


def test_filter_table_removes_or_flags(index, bench_dir: Path) -> None:
    import pyarrow as pa

    recs = [r for r in _records(bench_dir) if r["text"] is not None]
    table = pa.Table.from_pylist([{**r, "meta": "{}"} for r in recs])
    kept, hits, counts = filter_table(index, table)
    assert kept.column("id").to_pylist() == ["b"] and counts["documents"]["contaminated"] == 2
    flagged, hits2, _ = filter_table(index, table, flag_only=True)
    assert flagged.num_rows == 3 and len(hits2) == len(hits)
    metas = [json.loads(m) for m in flagged.column("meta").to_pylist()]
    assert "decont" not in metas[1]
    assert metas[2]["decont"][0]["benchmark"] == "gsm8k" and metas[2]["decont"][0]["ngram"]


def _write_inputs(root: Path, bench_dir: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    he = _raw(bench_dir, "humaneval")
    mbpp = _raw(bench_dir, "mbpp")
    math = _raw(bench_dir, "math")
    repo = root / "myrepo"
    (repo / "pkg").mkdir(parents=True)
    (repo / ".git").mkdir()
    (repo / ".git" / "HEAD").write_text(he[0]["prompt"])  # VCS internals are not documents
    (repo / "pkg" / "solve.py").write_text(he[10]["prompt"] + he[10]["canonical_solution"])
    (repo / "pkg" / "clean.py").write_text(CLEAN_HEAD + CLEAN_TAIL)
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")
    (repo / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    table = pa.table(
        {
            "id": ["p1", "p2"],
            "source": ["github", "github"],
            "path": ["a/b.py", "a/c.py"],
            "language": ["Python", "Python"],
            "text": [mbpp[40]["code"], CLEAN_HEAD],
        }
    )
    pq.write_table(table, root / "docs.parquet")
    with open(root / "pages.jsonl", "w") as fh:
        fh.write(json.dumps({"id": "w1", "source": "web", "path": "https://m.example/1", "text": "Solve: " + math[99]["problem"]}) + "\n")
        fh.write("{not json\n")


def test_cli_end_to_end_with_ray(bench_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ray_local) -> None:
    # `corpus decont` goes through the one Ray bootstrap (corpus.engine.ray_runner.start_runner): it joins the
    # session's Ray instance here instead of starting its own.
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    _write_inputs(tmp_path / "in", bench_dir)
    out = tmp_path / "out"
    spec = f"humaneval={bench_dir / FILES['humaneval']},mbpp={bench_dir / FILES['mbpp']},math={bench_dir / FILES['math']}"
    code = cli_main(
        ["decont", "--benchmarks", spec, "--input", str(tmp_path / "in" / "myrepo"), str(tmp_path / "in" / "docs.parquet"),
         str(tmp_path / "in" / "pages.jsonl"), "--output", str(out), "--num-cpus", "1", "--chunk-mb", "1"]
    )
    assert code == 0
    data = json.loads((out / "decontamination.json").read_text())
    assert data["ray"] is True
    assert data["documents"]["scanned"] == 5  # solve.py, clean.py, 2 Parquet rows, 1 JSONL page
    assert data["documents"]["contaminated"] == 3
    assert data["skipped"] == {"binary": 1, "bad_encoding": 1, "invalid JSON line": 1}  # ingest's reasons
    docs = {(h["doc"], h["benchmark"], h["item"]) for h in data["hits"]}
    assert ("myrepo/pkg/solve.py", "humaneval", "HumanEval/10") in docs
    assert ("a/b.py", "mbpp", "41") in docs
    assert ("https://m.example/1", "math", _raw(bench_dir, "math")[99]["unique_id"]) in docs
    assert [m["name"] for m in data["missing"]] == ["gsm8k"]
    assert (out / "decontamination.md").is_file() and (out / "decontamination.html").is_file()


def test_cli_in_process_default_benchmarks(tmp_path: Path, bench_dir: Path) -> None:
    _write_inputs(tmp_path / "in", bench_dir)
    code = cli_main(["decont", "--input", str(tmp_path / "in" / "myrepo"), "--output", str(tmp_path / "o"), "--no-ray"])
    assert code == 0
    data = json.loads((tmp_path / "o" / "decontamination.json").read_text())
    assert list(data["benchmarks"]) == ["humaneval"]
    assert sorted(m["name"] for m in data["missing"]) == ["gsm8k", "math", "mbpp"]
    assert data["documents"]["contaminated"] == 1


def test_cli_reads_parquet_parts_inside_a_directory(tmp_path: Path, bench_dir: Path) -> None:
    _write_inputs(tmp_path / "in", bench_dir)
    parts = tmp_path / "parts"
    parts.mkdir()
    shutil.copyfile(tmp_path / "in" / "docs.parquet", parts / "part-00000.parquet")
    spec = f"mbpp={bench_dir / FILES['mbpp']},humaneval=off"
    assert cli_main(["decont", "--benchmarks", spec, "--input", str(parts), "--output", str(tmp_path / "o"), "--no-ray"]) == 0
    data = json.loads((tmp_path / "o" / "decontamination.json").read_text())
    assert data["documents"]["scanned"] == 2 and data["documents"]["contaminated"] == 1
    assert [(h["doc"], h["item"]) for h in data["hits"]] == [("a/b.py", "41")]
    assert {m["name"]: m["reason"] for m in data["missing"]}["humaneval"] == "disabled in the configuration"


# ------------------------------------------------------------------ fetch


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


def test_fetch_from_local_http_server(bench_dir: Path, tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    for f in ("HumanEval.jsonl.gz", "mbpp.jsonl", "gsm8k_test.jsonl"):
        shutil.copyfile(bench_dir / f, served / f)
    # MATH is published as MATH.tar of per-problem JSON files: rebuild a small one from real problems.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for r in _raw(bench_dir, "math")[:25]:
            data = json.dumps({k: r[k] for k in ("problem", "level", "type", "solution")}).encode()
            info = tarfile.TarInfo("MATH/" + r["unique_id"])
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (served / "MATH.tar").write_bytes(buf.getvalue())
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        urls = {
            "humaneval": f"{base}/HumanEval.jsonl.gz",
            "mbpp": f"{base}/mbpp.jsonl",
            "gsm8k": f"{base}/gsm8k_test.jsonl",
            "math": f"{base}/MATH.tar",
        }
        manifest = fetch_benchmarks(tmp_path / "bench", urls=urls)
        assert manifest["failed"] == {}
        assert {n: i["items"] for n, i in manifest["fetched"].items()} == {"humaneval": 164, "mbpp": 974, "gsm8k": 1319, "math": 25}
        loaded, missing = load_benchmarks(parse_benchmark_specs(manifest["benchmarks_spec"]))
        assert missing == [] and [len(b) for b in loaded] == [164, 974, 1319, 25]
        # Sources may also be URLs, read directly (smart-open); MATH.tar is streamed.
        assert len(load_benchmark("gsm8k", urls["gsm8k"])) == 1319
        assert len(load_benchmark("math", urls["math"])) == 25
        _, gone = load_benchmarks([BenchmarkSpec("mbpp", f"{base}/nope.jsonl")])
        assert gone[0]["name"] == "mbpp" and "cannot read" in gone[0]["reason"]
        # The CLI reports a failed download (404) without crashing.
        code = cli_main(["benchmarks", "fetch", "--to", str(tmp_path / "b2"), "--only", "gsm8k", "--url", f"gsm8k={base}/missing.jsonl"])
        assert code == 1
        m2 = json.loads((tmp_path / "b2" / "benchmarks.json").read_text())
        assert "404" in m2["failed"]["gsm8k"]
    finally:
        server.shutdown()
        server.server_close()


def test_cli_rule_and_missing_benchmark_file(tmp_path: Path, bench_dir: Path) -> None:
    repo = tmp_path / "in" / "r"
    repo.mkdir(parents=True)
    (repo / "width.py").write_text("def width(string):\n    return len(string)\n")  # HumanEval/23's whole solution
    he = f"humaneval={bench_dir / FILES['humaneval']}"
    for rule, contaminated in (("guarded", 0), ("literal", 1)):
        out = tmp_path / rule
        assert cli_main(["decont", "--benchmarks", he, "--rule", rule, "--input", str(repo), "--output", str(out), "--no-ray"]) == 0
        data = json.loads((out / "decontamination.json").read_text())
        assert data["rule"]["rule"] == rule and data["documents"]["contaminated"] == contaminated
    missing = f"{he},mbpp={tmp_path / 'nope.jsonl'}"
    assert cli_main(["decont", "--benchmarks", missing, "--input", str(repo), "--output", str(tmp_path / "m"), "--no-ray"]) == 2
    assert not (tmp_path / "m" / "decontamination.json").exists()
    assert cli_main(["decont", "--benchmarks", missing, "--allow-empty", "--input", str(repo), "--output", str(tmp_path / "m"), "--no-ray"]) == 0
    assert json.loads((tmp_path / "m" / "decontamination.json").read_text())["missing"][0]["name"] == "mbpp"
