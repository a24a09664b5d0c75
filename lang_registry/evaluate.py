"""Accuracy of detection on labelled files: per-method accuracy and confusion pairs.

Two sets:
- `samples`: small files written for the shared extensions (tests/data/langs/samples + labels.tsv).
  They were written next to the rules, so read them as a regression set, not an unbiased estimate.
- `installed`: real files found on this machine, labelled by a rule about where they come from
  (e.g. headers of the Perl 5 standard library are Perl, libstdc++'s bits/*.h are C++). Files the
  rules do not find are skipped, so the set adapts to the machine.

Usage: python -m lang_registry.evaluate [--samples DIR] [--per-rule N] [--markdown]
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import sysconfig
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from lang_registry.detect import PREFIX_BYTES, code_related, detect, tree_sitter_choice
from lang_registry.registry import Registry, load_registry

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SAMPLES = REPO_ROOT / "tests" / "data" / "langs"


@dataclass(frozen=True)
class Labelled:
    path: str      # file to read
    rel: str       # path given to detect (relative to the labelling root)
    label: str | None
    source: str    # which set / rule
    generated: bool | None = None  # expected generated flag, if the rule says


def _site() -> str:
    return sysconfig.get_paths()["purelib"]


# (name, root glob, pattern under root, label, expected generated flag, why the label is right)
INSTALLED_RULES: list[tuple[str, str, str, str, bool | None, str]] = [
    ("perl-stdlib-pm", "/usr/share/perl/5.*", "**/*.pm", "Perl", None, "modules of the Perl 5 standard library"),
    ("perl-stdlib-pl", "/usr/share/perl/5.*", "**/*.pl", "Perl", None, "Perl 5 standard-library data/scripts"),
    ("glibc-headers", "/usr/include", "*.h", "C", None,
     "top-level /usr/include headers (glibc, zlib, ...) are C, except the C++ bindings listed in CPP_BINDINGS"),
    ("libstdc++-bits", "/usr/include/c++/*", "bits/*.h", "C++", None, "libstdc++ internals are C++"),
    ("numpy-c-api", "{site}/numpy/_core/include", "**/*.h", "C", None, "NumPy's C API headers"),
    ("arrow-cpp", "{site}/pyarrow/include/arrow", "**/*.h", "C++", None,
     "Arrow C++ headers (c/ = the C ABI and vendored/ = third-party C code excluded)"),
    ("aten-cpp", "{site}/torch/include/ATen", "**/*.h", "C++", None, "PyTorch ATen C++ headers"),
    ("cython", "{site}", "**/*.p[yx][xd]", "Cython", None, ".pyx/.pxd files of installed packages"),
    ("python-stubs", "{site}", "**/*.pyi", "Python", None, "type stubs are Python syntax"),
    ("fortran90", "{site}", "**/*.f90", "Fortran", None, ".f90 is free-form Fortran by definition"),
    ("vim-runtime", "/usr/share/vim/vim*", "**/*.vim", "VimL", None, "Vim's runtime files"),
    ("bash-completion", "/usr/share/bash-completion/completions", "*", "Shell", None,
     "bash-completion scripts are bash (no extension, rarely a shebang)"),
    ("cmake-modules", "/usr/share/cmake-*", "**/*.cmake", "CMake", None, "CMake's own modules"),
    ("tcl-tk", "/usr/share/tcltk", "**/*.tcl", "Tcl", None, "Tcl/Tk library scripts"),
    ("webpack-bundles", "{site}/ray/dashboard/client/build/static/js", "*.js", "JavaScript", True,
     "Ray dashboard webpack output: JavaScript, and generated (minified)"),
]


# Files a rule's glob finds but its label does not cover (relative to the rule's root).
EXCLUDE = {"arrow-cpp": re.compile(r"^(c|vendored|python/vendored)/")}

# Top-level /usr/include headers that are C++ bindings (ncurses++, GMP's C++ class interface).
CPP_BINDINGS = {"cursesapp.h", "cursesf.h", "cursesm.h", "cursesp.h", "cursesw.h", "cursslk.h", "etip.h", "gmpxx.h", "z3++.h"}


def sample_set(samples_dir: Path) -> list[Labelled]:
    out = []
    labels = samples_dir / "labels.tsv"
    for line in labels.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, label = line.split("\t")[:2]
        out.append(Labelled(str(samples_dir / "samples" / name), name, None if label == "-" else label, "samples"))
    return out


def installed_set(per_rule: int = 200) -> list[Labelled]:
    out: list[Labelled] = []
    for name, root_glob, pattern, label, gen, _why in INSTALLED_RULES:
        files: list[tuple[str, str]] = []
        for root in sorted(glob.glob(root_glob.format(site=_site()))):
            for f in sorted(glob.glob(os.path.join(root, pattern), recursive=True)):
                if name == "glibc-headers" and os.path.basename(f) in CPP_BINDINGS:
                    continue
                if name in EXCLUDE and EXCLUDE[name].search(os.path.relpath(f, root)):
                    continue
                if os.path.isfile(f) and not os.path.islink(f):
                    files.append((f, os.path.relpath(f, root)))
        if len(files) > per_rule:  # deterministic spread over the whole list
            step = len(files) / per_rule
            files = [files[int(i * step)] for i in range(per_rule)]
        out.extend(Labelled(f, rel, label, name, gen) for f, rel in files)
    return out


def evaluate(items: list[Labelled], reg: Registry | None = None) -> dict:
    reg = reg or load_registry()
    by_method: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_source: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    confusion: Counter[tuple[str, str]] = Counter()
    flags = [0, 0]
    wrong: list[tuple[str, str, str, str]] = []
    for it in items:
        try:
            with open(it.path, "rb") as fh:
                data = fh.read(PREFIX_BYTES)
        except OSError:
            continue
        d = detect(it.rel, data, reg)
        ok = d.language == it.label
        m = d.method or "none"
        by_method[m][0] += ok
        by_method[m][1] += 1
        by_source[it.source][0] += ok
        by_source[it.source][1] += 1
        if not ok:
            confusion[(it.label or "-", d.language or "-")] += 1
            wrong.append((it.path, it.label or "-", d.language or "-", m))
        if it.generated is not None:
            flags[0] += d.generated == it.generated
            flags[1] += 1
    total_ok = sum(v[0] for v in by_method.values())
    total = sum(v[1] for v in by_method.values())
    return {"total": total, "correct": total_ok, "by_method": dict(by_method), "by_source": dict(by_source),
            "confusion": confusion.most_common(), "generated_flag": flags, "wrong": wrong}


FILENAME_LABELS = Path(__file__).resolve().parent / "data" / "filename_labels.tsv"


def reported_name(reg: Registry, path: str, data: bytes = b"") -> str | None:
    """The name a run reports for a file, as the langid stage decides it: one of the 338, else Linguist's
    name outside the 338 (`outside:Go Module`), else a code-related name (YAML, TOML, ...), else None."""
    d = detect(path, data, reg)
    if d.language is not None:
        return d.language
    if d.outside is not None:
        return f"outside:{d.outside[0]}"
    return None if d.binary else code_related(reg, path)


def filename_accuracy(reg: Registry | None = None, labels: Path = FILENAME_LABELS) -> dict:
    """Accuracy on filename-level files (lock files, build and CI files, config folders): real repository
    paths, each labelled with the name it should get and its vendored flag. The content is one neutral
    line: these files are named by their path, and a default must not guess from an extension."""
    reg = reg if reg is not None else load_registry()
    rows = [ln.split("\t") for ln in labels.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    misses, flag_misses = [], []
    for path, label, _repo, vendored in rows:
        got = reported_name(reg, path, b"x\n")
        if got != (None if label == "-" else label):
            misses.append(f"{path}: {got} (want {label})")
        if detect(path, b"x\n", reg).vendored != (vendored == "1"):
            flag_misses.append(f"{path}: vendored {vendored != '1'}")
    n = len(rows)
    return {"files": n, "correct": n - len(misses), "accuracy": round((n - len(misses)) / n, 4) if n else None,
            "vendored_flag_correct": n - len(flag_misses), "misses": misses, "vendored_misses": flag_misses}


def tree_sitter_ablation(items: list[Labelled], reg: Registry | None = None) -> tuple[int, int, list[str]]:
    """Parse quality alone (content rules switched off) on the labelled files it could decide:
    shared extension, label among the candidates, at least two candidates with safe grammars."""
    reg = reg or load_registry()
    ok = n = 0
    misses: list[str] = []
    for it in items:
        ext = reg.extension_of(os.path.basename(it.rel))
        amb = reg.ambiguous.get(ext) if ext else None
        if amb is None or it.label not in amb.candidates:
            continue
        with open(it.path, "rb") as fh:
            data = fh.read(PREFIX_BYTES)
        choice = tree_sitter_choice(reg, amb.candidates, data)
        if choice is None:
            continue
        n += 1
        ok += choice == it.label
        if choice != it.label:
            misses.append(f"{it.rel}: {it.label} -> {choice}")
    return ok, n, misses


def format_report(name: str, res: dict) -> str:
    lines = [f"### {name}: {res['correct']}/{res['total']} correct "
             f"({100.0 * res['correct'] / max(1, res['total']):.1f}%)", "",
             "| method | files | correct | accuracy |", "|---|---|---|---|"]
    for m, (ok, n) in sorted(res["by_method"].items(), key=lambda kv: -kv[1][1]):
        lines.append(f"| {m} | {n} | {ok} | {100.0 * ok / n:.1f}% |")
    if len(res["by_source"]) > 1:
        lines += ["", "| labelling rule | files | correct |", "|---|---|---|"]
        for s, (ok, n) in res["by_source"].items():
            lines.append(f"| {s} | {n} | {ok} |")
    lines += ["", "Confusion pairs (expected -> detected: count): " + (
        ", ".join(f"{a} -> {b}: {c}" for (a, b), c in res["confusion"]) or "none")]
    if res["generated_flag"][1]:
        ok, n = res["generated_flag"]
        lines.append(f"\nGenerated flag on files labelled for it: {ok}/{n} correct.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", default=str(DEFAULT_SAMPLES))
    ap.add_argument("--per-rule", type=int, default=200)
    ap.add_argument("--show-wrong", type=int, default=0, help="list up to N misdetected files")
    args = ap.parse_args(argv)
    reg = load_registry()
    for name, items in (("samples", sample_set(Path(args.samples))), ("installed", installed_set(args.per_rule))):
        res = evaluate(items, reg)
        print(format_report(name, res))
        for w in res["wrong"][: args.show_wrong]:
            print("  wrong:", *w)
        ok, n, misses = tree_sitter_ablation(items, reg)
        print(f"\nTree-sitter parse quality alone (rules off) on the {n} files it can decide: {ok}/{n} correct"
              + (f"; misses: {'; '.join(misses[:10])}" if misses else ""))
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
