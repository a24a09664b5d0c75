"""Tree-sitter measurements on real code (issue 24), for `make bench` and docs/repo_order.md:

- dependency order: per language, the share of import statements resolved to a file of the same
  repository and the share of resolved edges whose imported file comes first, in the dependency order
  and in the seeded random order (the baseline), on real repositories: Python distributions installed
  in the venv, and the Go, Rust, Java, JavaScript, TypeScript, C, C++ and C# sources that
  scripts/ts_repos.sh lays out (skipped when absent); what the graph allows: the edges inside import
  cycles (strongly connected components: no order puts them all first) and the others, the share of
  each the order puts imported-first, and the best share any order could reach (`best_share`: exact
  when every cycle has at most 14 files, else an upper bound from edge-disjoint cycles);
- syntax signal: per language with a safe grammar, the distribution of `syntax_error_fraction` over
  installed (so valid) files and what each threshold would drop, with the worst examples; and, as
  the broken counterpart, how often each threshold catches the same clean files cut in half.

    python -m pipelines.bench_treesitter [--repos /tmp/ts-repos/repos] [--out FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import sysconfig
import time
from collections import Counter, defaultdict
from pathlib import Path

from lang_registry import detect, load_registry
from lang_registry.dep_order import ImportCounts, imported_first, max_ordered_bound, order_repository
from lang_registry.ts_parse import error_fraction, grammar_for, parse_file

DEFAULT_REPOS = os.environ.get("TS_REPOS_DIR", "/tmp/ts-repos") + "/repos"
PYTHON_DISTS = ["numpy", "pip", "rich", "pygments", "jinja2", "nltk", "tqdm", "bs4", "yaml", "datasketch", "pyarrow"]
MAX_FILE_BYTES = 1_000_000
THRESHOLDS = (0.0, 0.001, 0.01, 0.05, 0.1, 0.2, 0.5)
SYNTAX_ROOTS = ("/usr/include", "/usr/share/perl", "/usr/share/vim", "/usr/lib/python3", "/usr/share/doc", "/usr/share/X11",
                "/usr/share/emacs", "/usr/share/bash-completion", "/usr/lib/git-core", "/usr/share/tcltk", "/usr/share/cmake")


def _site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def _read_repo(root: Path, base: Path, registry) -> list[tuple[str, str | None, str]]:
    """(path relative to `base`, language, text) of the files under `root`, as langid would tag them."""
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", ".git", "node_modules"))
        for name in sorted(names):
            full = Path(folder) / name
            if full.is_symlink() or not full.is_file() or full.stat().st_size > MAX_FILE_BYTES:
                continue
            data = full.read_bytes()
            rel = full.relative_to(base).as_posix()
            d = detect(rel, data, registry)
            if d.binary or d.language is None or d.vendored:
                continue
            files.append((rel, d.language, data.decode("utf-8", "replace")))
    return files


def repositories(repos_dir: str = DEFAULT_REPOS) -> list[tuple[str, Path, Path]]:
    """(name, folder to read, folder paths are relative to): installed Python distributions (their
    paths start with the package folder, as ingest's python_dists gives them) and the ts_repos.sh ones."""
    sp = _site_packages()
    out = [(f"pypi:{d}", sp / d, sp) for d in PYTHON_DISTS if (sp / d).is_dir()]
    if Path(repos_dir).is_dir():
        out += [(p.name, p, p) for p in sorted(Path(repos_dir).iterdir()) if p.is_dir()]
    return out


def bench_dependency_order(repos_dir: str = DEFAULT_REPOS, seed: int = 1234) -> dict:
    """Per language and per repository: statements, resolved share, edges, imported-first share in the
    dependency order and in the seeded random order; seconds of order_repository (parse + resolve +
    order) against MB of text."""
    registry = load_registry()
    total = ImportCounts()
    random_first: Counter = Counter()
    best: Counter = Counter()  # per language: upper bound on the edges any order puts imported-first
    inexact: Counter = Counter()  # repositories where that bound is not exact (a large cycle)
    per_repo = {}
    seconds = 0.0
    n_bytes = n_files = 0
    for name, root, base in repositories(repos_dir):
        files = _read_repo(root, base, registry)
        random.Random(f"{seed}\0{name}").shuffle(files)
        started = time.perf_counter()
        result = order_repository(files, registry)
        seconds += time.perf_counter() - started
        n_bytes += sum(len(t.encode("utf-8", "replace")) for _, _, t in files)
        n_files += len(files)
        base_first = imported_first(range(len(files)), result.edges)
        random_first.update(base_first)
        total.merge(result.counts)
        repo_best = _best_possible(len(files), result.edges)
        for lang, (bound, exact) in repo_best.items():
            best[lang] += bound
            inexact[lang] += not exact
        per_repo[name] = {lang: {**row, "random_imported_first_share": round(base_first[lang] / row["edges"], 4) if row["edges"] else None,
                                 **_best_fields(row, *repo_best.get(lang, (0, True)))}
                          for lang, row in result.counts.to_json().items() if row["statements"]}
    languages = {}
    for lang, row in total.to_json().items():
        if not row["statements"]:
            continue
        row["random_imported_first_share"] = round(random_first[lang] / row["edges"], 4) if row["edges"] else None
        languages[lang] = {**row, **_best_fields(row, best[lang], not inexact[lang])}
    return {"languages": languages, "repositories": per_repo, "files": n_files, "mb": round(n_bytes / 1e6, 2),
            "seconds": round(seconds, 2), "mb_per_s": round(n_bytes / 1e6 / seconds, 2) if seconds else None}


def _best_possible(n: int, edges: list[tuple[int, int, str]]) -> dict[str, tuple[int, bool]]:
    """Per language: the most of its edges any order could put imported-first (an upper bound; exact or not)."""
    by_lang: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for i, j, lang in edges:
        by_lang[lang].append((i, j))
    return {lang: max_ordered_bound(n, pairs) for lang, pairs in by_lang.items()}


def _best_fields(row: dict, bound: int, exact: bool) -> dict:
    """What the graph allows: the best share any order could reach (`best_exact`: else an upper bound,
    from cycle packing), and the order's imported-first edges as a share of that best."""
    e = row["edges"]
    return {"best_imported_first": bound, "best_exact": exact, "best_share": round(bound / e, 4) if e else None,
            "share_of_best": round(row["imported_first"] / bound, 4) if bound else None}


def _sample_key(path: str) -> str:
    return hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()


def _syntax_files(roots: list[Path], per_language: int, registry) -> dict[str, list[tuple[str, bytes]]]:
    """Up to `per_language` files per language with a safe grammar (a stable hash sample)."""
    exts: set[str] = set()
    for entry in registry.entries.values():
        if grammar_for(registry, entry.name):
            exts.update(e.lower() for e in entry.extensions)
    candidates: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for root in roots:
        for folder, dirs, names in os.walk(root):
            dirs[:] = [d for d in dirs if d not in ("__pycache__", ".git")]
            for name in names:
                suffixes = ["." + ".".join(name.lower().split(".")[k:]) for k in range(1, name.count(".") + 1)]
                if any(s in exts for s in suffixes):
                    full = os.path.join(folder, name)
                    candidates[suffixes[-1]].append(full)
    picked: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for ext in sorted(candidates):
        for full in sorted(candidates[ext], key=_sample_key)[: per_language * 3]:
            try:
                if os.path.islink(full) or os.path.getsize(full) > MAX_FILE_BYTES:
                    continue
                data = Path(full).read_bytes()
            except OSError:
                continue
            d = detect(full, data, registry)
            ok = d.language and not d.binary and not d.generated and grammar_for(registry, d.language, full)
            if ok and len(picked[d.language]) < per_language:
                picked[d.language].append((full, data))
    return picked


def bench_syntax_signal(repos_dir: str = DEFAULT_REPOS, per_language: int = 200, examples: int = 3) -> dict:
    """Distribution of syntax_error_fraction per language on installed (valid) code, and the share of
    files each threshold would drop, with the worst files as examples."""
    registry = load_registry()
    roots = [_site_packages()] + [Path(p) for p in SYNTAX_ROOTS if Path(p).is_dir()]
    if Path(repos_dir).is_dir():
        roots.append(Path(repos_dir))
    files = _syntax_files(roots, per_language, registry)
    out = {}
    seconds = 0.0
    n_bytes = 0
    for language in sorted(files):
        values = []
        cut_values = []  # the same clean files cut at half their bytes: how often the signal sees a truncation
        timeouts = 0
        for path, data in files[language]:
            grammar = grammar_for(registry, language, path)
            started = time.perf_counter()
            tree = parse_file(grammar, data) if data else None
            value = (error_fraction(tree, len(data)) if tree is not None else None) if data else 0.0
            seconds += time.perf_counter() - started
            n_bytes += len(data)
            if value is None:
                timeouts += 1
            else:
                values.append((value, path))
            if value == 0.0 and len(data) > 1:
                cut = data[: len(data) // 2]
                cut_tree = parse_file(grammar, cut)
                if cut_tree is not None:
                    cut_values.append(error_fraction(cut_tree, len(cut)))
        if not values:
            continue
        vs = sorted(v for v, _ in values)
        n = len(vs)
        out[language] = {
            "files": n, "timeouts": timeouts, "clean_share": round(sum(v == 0 for v in vs) / n, 4),
            "p50": round(vs[n // 2], 5), "p90": round(vs[min(n - 1, int(n * 0.9))], 5), "p99": round(vs[min(n - 1, int(n * 0.99))], 5),
            "max": round(vs[-1], 5),
            "dropped_share_above": {str(t): round(sum(v > t for v in vs) / n, 4) for t in THRESHOLDS},
            "worst": [{"path": p, "value": round(v, 4)} for v, p in sorted(values, reverse=True)[:examples] if v > 0],
            "cut_in_half": {"files": len(cut_values),
                            "detected_share_above": {str(t): round(sum(v > t for v in cut_values) / len(cut_values), 4)
                                                     for t in THRESHOLDS} if cut_values else {}},
        }
    return {"languages": out, "mb": round(n_bytes / 1e6, 2), "seconds": round(seconds, 2),
            "mb_per_s": round(n_bytes / 1e6 / seconds, 2) if seconds else None}


def bench_treesitter(repos_dir: str = DEFAULT_REPOS) -> dict:
    return {"dependency_order": bench_dependency_order(repos_dir), "syntax_signal": bench_syntax_signal(repos_dir)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", default=DEFAULT_REPOS, help="folder of repositories laid out by scripts/ts_repos.sh")
    parser.add_argument("--out", default=None, help="write the JSON here too")
    parser.add_argument("--only", choices=["dependency_order", "syntax_signal"], default=None)
    args = parser.parse_args(argv)
    if args.only == "dependency_order":
        result = {"dependency_order": bench_dependency_order(args.repos)}
    elif args.only == "syntax_signal":
        result = {"syntax_signal": bench_syntax_signal(args.repos)}
    else:
        result = bench_treesitter(args.repos)
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
