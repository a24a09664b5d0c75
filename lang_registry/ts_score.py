"""Tree-sitter parse quality, used only to disambiguate files whose extension several languages share.

Grammars come from tree-sitter-language-pack 0.13.0, which bundles them (no download at first use).
Untrusted input gets two guards: grammars listed as unsafe (measured to hang, e.g. cobol) are never
run, and every parse reads its input through a callback with a progress deadline, so a slow grammar
is aborted after `budget_s` seconds (tree-sitter's progress callback only works on callback input).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lang_registry.ts_parse import parse_file

if TYPE_CHECKING:
    from lang_registry.registry import Registry

SCORE_BYTES = 16384  # parse quality from the first 16 KiB is enough to tell candidates apart
DEFAULT_BUDGET_S = 0.25

def error_ratio(grammar: str, data: bytes, budget_s: float = DEFAULT_BUDGET_S) -> float | None:
    """Share of bytes covered by ERROR nodes (+1 byte per MISSING node); None if no parse in budget."""
    src = data[:SCORE_BYTES]
    tree = parse_file(grammar, src, budget_s)
    if tree is None:
        return None
    root = tree.root_node
    if not root.has_error:
        return 0.0
    bad = 0
    stack = [root]
    while stack:  # only descend into subtrees that contain errors
        node = stack.pop()
        if node.is_error:
            bad += node.end_byte - node.start_byte
        elif node.is_missing:
            bad += 1
        elif node.has_error:
            stack.extend(node.children)
    return min(1.0, bad / max(1, len(src)))


def parse_error_ratio(registry: Registry, language: str | None, data: bytes,
                      budget_s: float = DEFAULT_BUDGET_S) -> float | None:
    """Tree-sitter signal for a file in its detected language: share of error bytes in the first 16 KiB.

    None when the language has no grammar, its grammar is unsafe, or the parse ran out of budget.
    Usable as a quality signal beside detection (e.g. drop files that do not parse in their language).
    """
    entry = registry.entries.get(language) if language else None
    if entry is None or not entry.grammar or entry.grammar in registry.unsafe_grammars:
        return None
    return error_ratio(entry.grammar, data, budget_s)
