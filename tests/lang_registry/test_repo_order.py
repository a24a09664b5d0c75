"""repo_samples `order: dependency`: imports read with tree-sitter queries and resolved to the
repository's files put each imported file before its importer, in nine languages; cycles still order."""

from __future__ import annotations

import itertools
import json
import random
import re

import pyarrow.parquet as pq

from corpus import storage
from corpus.engine.context import RunContext
from corpus.engine.parts import list_parts
from corpus.records import Doc, docs_to_table
from corpus.stages.repo_samples import (
    RepoSamplesConfig,
    RepoSamplesStage,
    build_samples,
    orderer_fn,
)
from lang_registry import load_registry
from lang_registry.dep_order import dependency_order, max_ordered_bound, order_repository

# path -> (language, text): one small repository in nine languages (and a README)
REPO = {
    "pkg/__init__.py": ("Python", "from .core import run\n"),
    "pkg/core.py": ("Python", "import os\nfrom pkg.util import helper\n\ndef run():\n    return helper()\n"),
    "pkg/util.py": ("Python", "import json\n\ndef helper():\n    return json.dumps({})\n"),
    "cmd/app/main.go": ("Go", 'package main\n\nimport (\n\t"fmt"\n\t"example.com/demo/store"\n)\n\nfunc main() { fmt.Println(store.Get()) }\n'),
    "store/store.go": ("Go", 'package store\n\nimport "example.com/demo/model"\n\nfunc Get() model.T { return model.T{} }\n'),
    "model/model.go": ("Go", "package model\n\ntype T struct{}\n"),
    "src/lib.rs": ("Rust", "mod ast;\nmod parser;\n"),
    "src/parser.rs": ("Rust", "use crate::ast::Node;\n\npub fn parse() -> Node { Node }\n"),
    "src/ast.rs": ("Rust", "pub struct Node;\n"),
    "c/main.c": ("C", '#include <stdio.h>\n#include "util.h"\n\nint main(void) { return f(); }\n'),
    "c/util.h": ("C", "int f(void);\n"),
    "c/util.c": ("C", '#include "util.h"\n\nint f(void) { return 0; }\n'),
    "cpp/app.cpp": ("C++", '#include "geo/shape.hpp"\n\nint main() { Shape s; return 0; }\n'),
    "cpp/geo/shape.hpp": ("C++", '#include "point.hpp"\n\nstruct Shape { P p; };\n'),
    "cpp/geo/point.hpp": ("C++", "struct P { int x; };\n"),
    "java/src/com/ex/App.java": ("Java", "package com.ex;\n\nimport java.util.List;\nimport com.ex.model.User;\n\nclass App { User u; }\n"),
    "java/src/com/ex/model/User.java": ("Java", "package com.ex.model;\n\npublic class User {}\n"),
    "cs/Program.cs": ("C#", "using System;\nusing Demo.Models;\n\nclass Program { Item i; }\n"),
    "cs/Models/Item.cs": ("C#", "namespace Demo.Models { class Item {} }\n"),
    "web/index.js": ("JavaScript", "import React from 'react';\nconst api = require('./lib/api');\n"),
    "web/lib/api.js": ("JavaScript", "export function get() { return 1; }\n"),
    "ts/main.ts": ("TypeScript", "import { a } from './a.js';\nconsole.log(a);\n"),
    "ts/a.ts": ("TypeScript", "export const a: number = 1;\n"),
    "README.md": ("Markdown", "# demo\n"),
}
# importer -> imported: every resolvable import of REPO
EDGES = {
    ("pkg/__init__.py", "pkg/core.py"), ("pkg/core.py", "pkg/util.py"),
    ("cmd/app/main.go", "store/store.go"), ("store/store.go", "model/model.go"),
    ("src/parser.rs", "src/ast.rs"),
    ("c/main.c", "c/util.h"), ("c/util.c", "c/util.h"),
    ("cpp/app.cpp", "cpp/geo/shape.hpp"), ("cpp/geo/shape.hpp", "cpp/geo/point.hpp"),
    ("java/src/com/ex/App.java", "java/src/com/ex/model/User.java"),
    ("cs/Program.cs", "cs/Models/Item.cs"),
    ("web/index.js", "web/lib/api.js"),
    ("ts/main.ts", "ts/a.ts"),
}
# language -> (import statements, resolved to a file of REPO)
STATEMENTS = {"Python": (4, 2), "Go": (3, 2), "Rust": (1, 1), "C": (3, 2), "C++": (2, 2), "Java": (2, 1), "C#": (2, 1),
              "JavaScript": (2, 1), "TypeScript": (1, 1)}


def _rows(repo: str = "demo") -> list[dict]:
    docs = [Doc(source="gh", domain="code", repo=repo, path=p, text=t, language=lang) for p, (lang, t) in REPO.items()]
    return docs_to_table(docs).to_pylist()


def _violations(order: list[str]) -> set[tuple[str, str]]:
    rank = {p: k for k, p in enumerate(order)}
    return {(a, b) for a, b in EDGES if rank[b] > rank[a]}


def test_dependency_order_puts_every_imported_file_first_in_nine_languages() -> None:
    orderer = orderer_fn("dependency", None)
    random_violations = 0
    for seed in range(8):
        counts: dict = {}
        (doc,) = build_samples(_rows(), seed, 10**6, lambda lang, path: f"# path: {path}", orderer, counts)
        files = doc.meta["files"]
        assert sorted(files) == sorted(REPO) and _violations(files) == set()
        assert {lang: (c["statements"], c["resolved"]) for lang, c in counts.items() if c["statements"]} == STATEMENTS
        assert sum(c["edges"] for c in counts.values()) == len(EDGES)
        assert sum(c["imported_first"] for c in counts.values()) == len(EDGES)
        (plain,) = build_samples(_rows(), seed, 10**6, lambda lang, path: f"# path: {path}")
        random_violations += len(_violations(plain.meta["files"]))
    assert random_violations > 0  # the seeded random order alone does not satisfy the edges


def test_files_without_imports_keep_the_random_order_among_themselves() -> None:
    orderer = orderer_fn("dependency", None)
    (plain,) = build_samples(_rows(), 3, 10**6, lambda lang, path: "#")
    (ordered,) = build_samples(_rows(), 3, 10**6, lambda lang, path: "#", orderer)
    involved = {p for e in EDGES for p in e}
    free = [p for p in plain.meta["files"] if p not in involved]
    assert [p for p in ordered.meta["files"] if p not in involved] == free


def test_a_cycle_still_orders_from_the_file_with_fewest_imports() -> None:
    # 0 -> 1 -> 2 -> 0 is a cycle; 1 also imports 3; 4 imports 0 (outside the cycle)
    order = dependency_order(5, [(0, 1), (1, 2), (2, 0), (1, 3), (4, 0)])
    assert sorted(order) == [0, 1, 2, 3, 4]
    assert order.index(3) < order.index(1)  # 3 imports nothing
    assert order.index(4) == 4  # waits for its import's whole cycle
    # the cycle is placed in its best order (two of its three edges kept), the rotation that starts at the
    # earliest position: 0, 2, then 1 once 3 is placed
    assert [v for v in order if v in (0, 1, 2)] == [0, 2, 1]


def test_soft_imports_give_way_in_a_cycle() -> None:
    files = [
        ("pkg/a.py", "Python", "def f():\n    from pkg import b\n    return b\n"),  # imported at call time
        ("pkg/b.py", "Python", "from pkg import a\n"),
        ("pkg/__init__.py", "Python", ""),
    ]
    result = order_repository(files, load_registry())
    assert [files[k][0] for k in result.order].index("pkg/a.py") < [files[k][0] for k in result.order].index("pkg/b.py")


def test_stage_writes_dependency_order_and_import_counts(tmp_path) -> None:
    rows = _rows()
    part = str(tmp_path / "in" / "part-00000.parquet")
    storage.write_table(part, docs_to_table([Doc(**{k: r[k] for k in ("source", "domain", "repo", "path", "text", "language")})
                                             for r in rows]))
    ctx = RunContext(str(tmp_path / "out"), stage_name="repo_samples", stage_key="k")
    stats = RepoSamplesStage(RepoSamplesConfig(order="dependency")).run(ctx, [part])
    stats.check("repo_samples")
    (doc,) = pq.read_table(list_parts(ctx.stage_uri)[0]).to_pylist()
    assert _violations(json.loads(doc["meta"])["files"]) == set()
    report = json.loads(storage.read_bytes(storage.join(ctx.stage_uri, "imports.json")))
    assert report["languages"]["Python"]["resolved_share"] == 0.5
    assert all(v["imported_first_share"] == 1.0 for v in report["languages"].values() if v["edges"])


# ------------------------------------------------------------------------------- syntax signal


def test_syntax_error_fraction_is_zero_on_clean_code_and_positive_on_broken_code() -> None:
    from corpus.filters.syntax import syntax_error_fraction

    for path, (language, text) in REPO.items():
        if language != "Markdown":
            assert syntax_error_fraction(text, language) == 0.0, path
    assert syntax_error_fraction(REPO["README.md"][1], "Markdown") is None  # no grammar in the registry
    broken = "def f(:\n    return [1, 2\nclass\n"
    assert 0 < syntax_error_fraction(broken, "Python") <= 1
    assert syntax_error_fraction("int main( { return 0 }\n", "C") > 0
    assert syntax_error_fraction("const x = <div>{a}</div>;\n", "TypeScript") == 0.0  # TSX content: tsx grammar


def test_max_syntax_error_fraction_rule_is_off_by_default_and_drops_with_detail() -> None:
    from corpus.filters.code_rules import evaluate_code, load_rules
    from corpus.stages.filter import FilterStage

    broken = "def f(:\n    return [1, 2\n" * 5 + "value = compute(alpha, beta)\n" * 20
    rules = load_rules()
    assert all(r.name != "syntax_error_fraction" for r in evaluate_code(broken, "Python", rules))
    on = {**rules, "languages": {**rules["languages"], "Python": {"max_syntax_error_fraction": 0.01}}}
    (rule,) = [r for r in evaluate_code(broken, "Python", on) if r.name == "syntax_error_fraction"]
    assert not rule.passed and rule.value > 0.01
    clean = "value = compute(alpha, beta)\n" * 20
    assert all(r.passed for r in evaluate_code(clean, "Python", on))
    stage = FilterStage()
    stage.setup()
    stage._rules = on
    row = {"repo": "r", "path": "a.py", "domain": "code", "text": broken, "language": "Python", "vendored": False,
           "generated": False, "meta": None}
    reason, detail = stage.judge(row)
    assert reason == "syntax_error_fraction" and re.fullmatch(r"syntax_error_fraction [0-9.]+ > 0\.01 \(Python\)", detail)


def test_explain_shows_syntax_error_fraction(tmp_path) -> None:
    from corpus.commands.explain import Explainer, load_stage_configs

    (tmp_path / "ok.py").write_text("def total(values):\n    return sum(values)\n")
    (tmp_path / "bad.py").write_text("def total(values:\n    return sum(values\n\nprint(total([1, 2]))\n")
    (tmp_path / "notes.txt").write_text("plain text without a grammar\n")
    explainer = Explainer(load_stage_configs())
    lines = {line["path"]: line for line in explainer.explain_paths([str(tmp_path)], root=str(tmp_path))}
    assert lines["ok.py"]["signals"]["syntax_error_fraction"] == 0.0
    assert lines["bad.py"]["signals"]["syntax_error_fraction"] > 0
    assert lines["bad.py"]["decision"] == "kept"  # the rule is off by default
    assert lines["notes.txt"]["signals"].get("syntax_error_fraction") is None


def test_false_error_languages_never_get_the_rule() -> None:
    from corpus.filters.code_rules import evaluate_code, load_rules

    rules = load_rules()
    on = {**rules, "default": {**rules["default"], "max_syntax_error_fraction": 0.0}}
    broken_c = "int main( { return 0 }\n" + "int value_of_something(void);\n" * 10
    assert not any(r.name == "syntax_error_fraction" for r in evaluate_code(broken_c, "C", on))
    (rule,) = [r for r in evaluate_code("def f(:\n" + "value = compute(alpha)\n" * 10, "Python", on) if r.name == "syntax_error_fraction"]
    assert not rule.passed


def test_import_region_parse_finds_the_same_imports_as_a_whole_file_parse() -> None:
    from lang_registry.imports import import_region

    text = ('"""Docs that mention\nimport nothing\n"""\nimport os\nfrom pkg import (\n    core,\n    util,\n)\n\n'
            'def f():\n    from pkg import util\n    return """\nimport inside a string\n"""\n\nx = 1\n' * 3 + "y = 2\n" * 50)
    files = [("pkg/a.py", "Python", text), ("pkg/core.py", "Python", "x = 1\n"), ("pkg/util.py", "Python", "y = 2\n"),
             ("pkg/__init__.py", "Python", ""),
             ("c/a.c", "C", '#include "b.h"\n/* #include "c.h"\n */\nint f(void) { return 0; }\n' + "int g;\n" * 50),
             ("c/b.h", "C", "int f(void);\n"), ("c/c.h", "C", "int h;\n")]
    assert import_region("python", text.encode()) < len(text)  # the trailing assignments are not parsed
    whole = order_repository(files, load_registry(), syntax=True)
    region = order_repository(files, load_registry())
    assert region.edges == whole.edges and region.order == whole.order
    assert region.counts.to_json() == whole.counts.to_json()
    assert whole.syntax_error_fraction[0] == 0.0 and region.syntax_error_fraction[0] is None  # not parsed whole


def test_unsafe_grammar_is_never_run_for_the_signal_or_the_order() -> None:
    from lang_registry.ts_parse import syntax_error_fraction

    registry = load_registry()
    assert "cobol" in registry.unsafe_grammars and registry.entries["COBOL"].grammar == "cobol"
    assert syntax_error_fraction(registry, "COBOL", b"hello") is None  # cobol loops forever on this input
    result = order_repository([("a.cbl", "COBOL", "hello"), ("b.py", "Python", "import a\n")], registry, syntax=True)
    assert result.syntax_error_fraction[0] is None and sorted(result.order) == [0, 1]


def test_run_report_shows_the_dependency_order_counts(tmp_path) -> None:
    from corpus.runreport.render import render_report
    from corpus.runreport.summary import build_summary

    out = tmp_path / "out"
    assert "Dependency order" not in render_report(build_summary(str(out)))  # random order: no section
    rows = _rows()
    part = str(tmp_path / "in" / "part-00000.parquet")
    storage.write_table(part, docs_to_table([Doc(**{k: r[k] for k in ("source", "domain", "repo", "path", "text", "language")})
                                             for r in rows]))
    ctx = RunContext(str(out), stage_name="repo_samples", stage_key="k")
    RepoSamplesStage(RepoSamplesConfig(order="dependency")).run(ctx, [part])
    summary = build_summary(str(out))
    assert summary["dependency_order"]["Go"]["statements"] == 3 and summary["dependency_order"]["Go"]["imported_first_share"] == 1.0
    page = render_report(summary)
    assert "Dependency order" in page and "<td>TypeScript</td>" in page
    assert summary["dependency_order"]["Go"]["acyclic_imported_first_share"] == 1.0 and "imported first: in cycles" in page


# ------------------------------------------------------------------ what the graph allows, cycles


def _kept(order: list[int], edges: list[tuple[int, int]]) -> int:
    rank = {f: k for k, f in enumerate(order)}
    return sum(rank[j] < rank[i] for i, j in edges)


def _random_graph(seed: int, n: int, m: int) -> list[tuple[int, int]]:
    rnd = random.Random(seed)
    return sorted({(rnd.randrange(n), rnd.randrange(n)) for _ in range(m)} - {(i, i) for i in range(n)})


def test_small_cycles_are_placed_in_their_best_order_and_the_bound_is_exact() -> None:
    for seed in range(150):
        edges = _random_graph(seed, 6, 10)
        brute = max(_kept(list(p), edges) for p in itertools.permutations(range(6)))
        bound, exact = max_ordered_bound(6, edges)
        assert exact and bound == brute, seed
        assert _kept(dependency_order(6, edges), edges) == brute, seed  # the greedy alone missed 28 of 200


def test_cycle_packing_bound_is_never_below_the_best_order() -> None:
    for seed in range(30):
        edges = _random_graph(seed, 7, 14)
        brute = max(_kept(list(p), edges) for p in itertools.permutations(range(7)))
        bound, exact = max_ordered_bound(7, edges, exact_up_to=0)
        assert bound >= brute and (exact or any(i != j for i, j in edges))
        assert max_ordered_bound(7, edges)[0] == brute


def test_large_cycle_order_is_a_local_optimum() -> None:
    # one component of 40 files (a ring, so strongly connected, plus random edges): no single file can
    # be moved to a place that keeps more of its edges
    n = 40
    edges = sorted(set(_random_graph(7, n, 120)) | {(k, (k + 1) % n) for k in range(n)})
    order = dependency_order(n, edges)
    assert sorted(order) == list(range(n))
    kept = _kept(order, edges)
    for v in range(n):
        rest = [u for u in order if u != v]
        assert all(_kept(rest[:k] + [v] + rest[k:], edges) <= kept for k in range(n)), v
    assert kept <= max_ordered_bound(n, edges)[0]


def test_counts_split_edges_inside_cycles_from_the_others() -> None:
    files = [("pkg/a.py", "Python", "from pkg import b\n"), ("pkg/b.py", "Python", "from pkg import a\n"),
             ("pkg/c.py", "Python", "from pkg import a\n"), ("pkg/__init__.py", "Python", "")]
    row = order_repository(files, load_registry()).counts.to_json()["Python"]
    assert (row["edges"], row["cyclic_edges"], row["acyclic_edges"]) == (3, 2, 1)
    assert (row["cyclic_imported_first"], row["acyclic_imported_first"]) == (1, 1)
    assert row["acyclic_imported_first_share"] == 1.0 and row["cyclic_imported_first_share"] == 0.5


# ------------------------------------------------------------------------------ Rust resolution


def _rust_edges(repo: dict[str, str]) -> set[tuple[str, str]]:
    files = [(p, "Rust", t) for p, t in sorted(repo.items())]
    result = order_repository(files, load_registry())
    return {(files[i][0], files[j][0]) for i, j, _ in result.edges}


def test_rust_use_of_a_reexported_item_names_the_file_that_defines_it() -> None:
    edges = _rust_edges({
        "src/lib.rs": "mod error;\nmod parser;\npub use crate::error::{Error, Result as Res};\npub fn is_meta() -> bool { true }\n",
        "src/error.rs": "pub struct Error;\npub type Result<T> = std::result::Result<T, Error>;\n",
        "src/parser.rs": "use crate::Error;\nuse crate::Res;\nuse crate::is_meta;\n",
    })
    assert ("src/parser.rs", "src/error.rs") in edges  # through lib.rs's `pub use` (and its alias)
    assert ("src/parser.rs", "src/lib.rs") in edges  # is_meta is lib.rs's own
    assert ("src/lib.rs", "src/error.rs") in edges  # the re-export itself (a soft edge)


def test_rust_self_and_super_inside_an_inline_module_name_the_file_itself() -> None:
    edges = _rust_edges({
        "src/lib.rs": "mod ast;\n",
        "src/ast/mod.rs": "mod print;\npub struct Ast;\n",
        "src/ast/print.rs": "pub struct Printer;\n#[cfg(test)]\nmod tests {\n    use super::Printer;\n}\n",
        "src/ast/parse.rs": "use self::inner as other;\nmod inner;\n",
        "src/ast/parse/inner.rs": "pub struct X;\n",
    })
    assert not any(a == "src/ast/print.rs" for a, _ in edges)  # `super` in its tests module: print.rs itself
    assert ("src/ast/parse.rs", "src/ast/parse/inner.rs") in edges  # `as` alias read apart from the path


def test_rust_uses_in_test_modules_are_soft() -> None:
    from lang_registry.imports import file_imports
    from lang_registry.ts_parse import parse_file

    data = b"use crate::a::B;\npub use crate::c::D;\n#[cfg(test)]\nmod checks {\n    use crate::e::F;\n}\n"
    imports = file_imports("rust", parse_file("rust", data), data)
    assert [(i.target, i.soft, i.names) for i in imports] == [
        ("crate::a::B", False, ()), ("crate::c::D", True, ()), ("crate::e::F", True, ("checks",))]


def test_python_name_reexported_by_a_package_init_names_the_module_that_defines_it() -> None:
    files = [("pkg/__init__.py", "Python", "from .core import run\nfrom pkg.util import helper as h\nVERSION = 1\n"),
             ("pkg/core.py", "Python", "def run():\n    return 1\n"), ("pkg/util.py", "Python", "def helper():\n    return 2\n"),
             ("app.py", "Python", "from pkg import run\nfrom pkg import helper, VERSION\n")]
    result = order_repository(files, load_registry())
    edges = {(files[i][0], files[j][0]) for i, j, _ in result.edges}
    assert ("app.py", "pkg/core.py") in edges and ("app.py", "pkg/util.py") in edges
    assert ("app.py", "pkg/__init__.py") in edges  # VERSION is the __init__'s own
    assert result.counts.to_json()["Python"]["statements"] == 4


def test_rust_use_of_another_crate_of_the_workspace_resolves_through_its_manifest() -> None:
    files = [("Cargo.toml", "TOML", '[workspace]\nmembers = ["crates/*"]\n'),
             ("crates/core/Cargo.toml", "TOML", '[package]\nname = "foo-core"\nversion = "0.1.0"\n'),
             ("crates/core/src/lib.rs", "Rust", "mod model;\npub use crate::model::Item;\npub fn version() -> u32 { 1 }\n"),
             ("crates/core/src/model.rs", "Rust", "pub struct Item;\n"),
             ("crates/app/Cargo.toml", "TOML", '[package]\nname = "app"\n[lib]\npath = "lib/root.rs"\n'),
             ("crates/app/lib/root.rs", "Rust", "use foo_core::Item;\nuse foo_core::version;\n"),
             ("crates/app/tests/it.rs", "Rust", "use app::*;\n"),
             ("crates/bad/Cargo.toml", "TOML", "[package\nname = \n")]
    result = order_repository(files, load_registry())
    edges = {(files[i][0], files[j][0]) for i, j, _ in result.edges}
    assert ("crates/app/lib/root.rs", "crates/core/src/model.rs") in edges  # through the re-export
    assert ("crates/app/lib/root.rs", "crates/core/src/lib.rs") in edges
    assert ("crates/app/tests/it.rs", "crates/app/lib/root.rs") in edges  # a crate's tests use it by name
    assert result.counts.to_json()["Rust"]["statements"] == 4  # manifests are not import statements
