"""Docstrings of Python source: code-text seeds (web recall) and math seeds (installed maths modules)."""

from __future__ import annotations

import ast

_DOC_OWNERS = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def docstrings(source: str) -> list[str]:
    """Module, class and function docstrings of a Python file ([] when it does not parse).

    Walks statement blocks only (definitions cannot sit inside expressions), breadth first: the
    same docstrings as `ast.walk` over every node at a fraction of the walk."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    out = []
    queue = [tree]
    for node in queue:  # grows while iterating: breadth-first
        if isinstance(node, _DOC_OWNERS):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                out.append(doc)
        for name in _BLOCKS:
            block = getattr(node, name, None)
            if block and isinstance(block, list):
                queue.extend(block)
    return out
