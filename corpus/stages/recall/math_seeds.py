"""Math seeds from the documentation of installed mathematics libraries (docs/recall.md, "Seeds").

The shipped math seeds are a few dozen short passages written for the project; real math documentation
(a function's definition, its formula, its properties, a worked call) looked like code to a model
trained on them and on repository docstrings: measured on the labelled real pages, every one of 40
math documentation pages was recalled as code. The docstrings of a mathematics library's modules are
that kind of text, and the library is already installed (sympy comes with torch), so they are taken as
math positives the way repository docstrings are taken as code positives. Modules not installed are
named in the report; nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import os
import re
from typing import Any

import xxhash

from corpus.stages.recall.docstrings import docstrings

WORD = re.compile(r"\w+")
# Files are parsed in hash order until this many pieces per wanted piece are found (docstrings per
# file vary; parsing stops early, so a big package costs a few files, not all of them).
_TESTS = re.compile(r"(^|/)(tests?|benchmarks?)(/|$)")


def _module_files(module: str) -> list[str]:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    roots = list(spec.submodule_search_locations or [])
    if not roots and spec.origin and spec.origin.endswith(".py"):
        return [spec.origin]
    out = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not _TESTS.search(d) and d != "__pycache__")
            out += [os.path.join(folder, f) for f in sorted(files) if f.endswith(".py") and not f.startswith("test_")]
    return out


def math_text_seeds(modules: list[str], wanted: int, min_words: int, salt: str) -> tuple[list[str], dict[str, Any]]:
    """Up to `wanted` docstrings (>= min_words words) of the modules' files, whitespace-normalised, from the
    files with the smallest xxh64 keys of (salt, module, relative path): the same pieces on every run."""
    report: dict[str, Any] = {"modules": {}, "missing": []}
    files = []
    for module in modules:
        found = _module_files(module)
        if not found:
            report["missing"].append(module)
            continue
        root = os.path.dirname(found[0]) if len(found) == 1 else os.path.commonpath(found)
        files += [(xxhash.xxh64_intdigest(f"{salt}\0{module}\0{os.path.relpath(p, root)}"), module, p) for p in found]
        report["modules"][module] = {"files": len(found), "pieces": 0}
    pieces: list[str] = []
    parsed = 0
    for _, module, path in sorted(files):
        if len(pieces) >= wanted:
            break
        parsed += 1
        try:
            with open(path, encoding="utf-8") as fh:
                source = fh.read()
        except (OSError, UnicodeDecodeError):
            continue
        for doc in docstrings(source):
            if len(WORD.findall(doc)) >= min_words and len(pieces) < wanted:
                pieces.append(" ".join(doc.split()))
                report["modules"][module]["pieces"] += 1
    report["files_parsed"] = parsed
    report["pieces"] = len(pieces)
    return pieces, report
