"""Whole-file tree-sitter parses under the hang guard, and the syntax signal read from their trees.

One parse serves every consumer of a file (the syntax signal, the import query): `parse_file` returns
the tree, `error_fraction` and `lang_registry.imports.file_imports` read it. Guards as in `ts_score`:
grammars the registry lists as unsafe (cobol) are never run, and the input is read through a callback
with a progress deadline, which scales with the file's size so that a long valid file still parses.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lang_registry.registry import Registry

BASE_BUDGET_S = 0.25
BUDGET_S_PER_MIB = 10.0  # tree-sitter parses >= 5 MB/s on one idle core; the margin covers a loaded machine
_CHUNK = 65536


_local = threading.local()  # parsers are not thread-safe: one set per thread
_failed: set[str] = set()


def _parser(grammar: str) -> Any | None:
    cache = getattr(_local, "parsers", None)
    if cache is None:
        cache = _local.parsers = {}
    if grammar in cache:
        return cache[grammar]
    if grammar in _failed:
        return None
    try:
        from tree_sitter_language_pack import get_parser

        p = get_parser(grammar)  # type: ignore[arg-type]
    except Exception:  # missing package / grammar: tree-sitter is optional for detection
        _failed.add(grammar)
        return None
    cache[grammar] = p
    return p


def grammar_loads(grammar: str) -> bool:
    return _parser(grammar) is not None



def grammar_for(registry: Registry, language: str | None, path: str = "") -> str | None:
    """The safe grammar a file of `language` is parsed with (None: no grammar, or an unsafe one).
    TypeScript's `.tsx` files take the tsx grammar (JSX inside TypeScript breaks the typescript one)."""
    entry = registry.entries.get(language) if language else None
    if entry is None or not entry.grammar or entry.grammar in registry.unsafe_grammars:
        return None
    if entry.grammar == "typescript" and path.lower().endswith(".tsx"):
        return "tsx"
    return entry.grammar


def parse_file(grammar: str, data: bytes, budget_s: float | None = None) -> Any | None:
    """The tree of the whole file, or None: grammar missing, empty input, or the deadline passed."""
    parser = _parser(grammar)
    if parser is None or not data:
        return None
    budget = budget_s if budget_s is not None else BASE_BUDGET_S + BUDGET_S_PER_MIB * len(data) / (1 << 20)
    deadline = time.monotonic() + budget

    def read(offset: int, _point: Any) -> bytes:
        return data[offset:offset + _CHUNK]

    def progress(*_args: Any) -> bool:
        return time.monotonic() > deadline

    try:
        tree = parser.parse(read, progress_callback=progress)
    except ValueError:  # aborted by the deadline
        parser.reset()
        return None
    return tree


def error_fraction(tree: Any, n_bytes: int) -> float:
    """Share of the file's bytes that tree-sitter could not parse, plus one byte per MISSING node (a
    zero-width token the parser invented, e.g. a `)` the file lacks). 0.0 for a clean parse.

    Inside an ERROR node only the tokens it skipped count (its leaves, and recursively the errors of
    its children), not the complete error-free constructs it holds: when recovery fails near the top,
    tree-sitter wraps the whole file in one ERROR whose children are the file's parsed classes and
    functions, and counting the whole span would say 1.0 for one bad `#if` (measured: a valid
    14 KB C# file of pythonnet read 1.0 that way)."""
    root = tree.root_node
    if not root.has_error or n_bytes <= 0:
        return 0.0
    bad = 0
    stack = [(root, False)]
    while stack:  # enter only nodes that hold an error; inside an ERROR, leaves are skipped tokens
        node, in_error = stack.pop()
        if node.is_missing:
            bad += 1
        elif node.child_count == 0:
            if in_error or node.is_error:
                bad += node.end_byte - node.start_byte
        elif node.is_error:
            stack.extend((c, True) for c in node.children if c.has_error or c.is_missing or c.child_count == 0)
        elif node.has_error:
            stack.extend((c, False) for c in node.children if c.has_error or c.is_missing)
    return min(1.0, bad / n_bytes)


def syntax_error_fraction(registry: Registry, language: str | None, data: bytes, path: str = "") -> float | None:
    """The syntax signal of a file in its detected language; None without a safe grammar or when
    the parse ran out of its deadline (nothing measured: rules then pass the file)."""
    grammar = grammar_for(registry, language, path)
    if grammar is None:
        return None
    if not data:
        return 0.0
    tree = parse_file(grammar, data)
    value = None if tree is None else error_fraction(tree, len(data))
    if value and grammar == "typescript" and not path:  # no path to tell .tsx: the better of the two grammars
        tsx = parse_file("tsx", data)
        value = min(value, error_fraction(tsx, len(data))) if tsx is not None else value
    return value
