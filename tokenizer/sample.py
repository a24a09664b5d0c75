"""A small, real, offline sample corpus for tests and benchmarks: Python's own standard library.

- code: stdlib `.py` files, cut at line boundaries into pieces of at most `max_doc_chars`;
- text: the longer docstrings of those files (English prose);
- math: generated arithmetic word problems with worked answers.
Records carry the document-schema keys the pipeline uses (id, text, source, domain, language).
"""

from __future__ import annotations

import ast
import hashlib
import random
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _doc_id(*parts: str) -> str:
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()[:32]


def _stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts and "test" not in p.parts)


def _chunks(text: str, max_chars: int) -> Iterator[str]:
    piece: list[str] = []
    size = 0
    for line in text.splitlines(keepends=True):
        if size + len(line) > max_chars and piece:
            yield "".join(piece)
            piece, size = [], 0
        piece.append(line)
        size += len(line)
    if piece:
        yield "".join(piece)


def sample_records(max_bytes: int = 4_000_000, *, max_doc_chars: int = 6000, math_docs: int = 2000,
                   seed: int = 0) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    code_bytes = 0
    root = Path(sysconfig.get_paths()["stdlib"])
    for f in _stdlib_files():
        if code_bytes >= max_bytes:
            break
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        rel = f.relative_to(root).as_posix()
        for i, chunk in enumerate(_chunks(text, max_doc_chars)):
            records.append({"id": _doc_id("github", rel, str(i)), "text": chunk, "source": "github",
                            "domain": "code", "language": "Python", "path": rel})
            code_bytes += len(chunk)
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Module)):
                doc = ast.get_docstring(node)
                if doc and len(doc) >= 300:
                    records.append({"id": _doc_id("web", rel, str(getattr(node, "lineno", 0))), "text": doc,
                                    "source": "web", "domain": "text", "language": None, "path": rel})
    rng = random.Random(seed)
    for i in range(math_docs):
        a, b, c = rng.randint(2, 999), rng.randint(2, 99), rng.randint(2, 9)
        text = (f"Problem {i}: A crate holds {a} apples. {b} crates are loaded, then each crate is split into {c} "
                f"boxes. How many apples are in each box, and how many apples in total?\n"
                f"Solution: In total there are {a} * {b} = {a * b} apples. Each box holds {a} / {c} = "
                f"{a / c:.4g} apples.\n")
        records.append({"id": _doc_id("math", str(seed), str(i)), "text": text, "source": "mathweb",
                        "domain": "math", "language": None, "path": f"math/{i}"})
    return records
