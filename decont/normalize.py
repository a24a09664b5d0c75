"""Normalised code for the paraphrase-aware decontamination rule (off by default; `normalized_code`).

Benchmark copies with renamed identifiers, stripped comments or reformatted whitespace escape the word
n-gram rule: every renamed variable breaks the n-grams around it. This rule compares code after a
normalisation that such edits do not change, then applies the same n-gram test (decont.index):

- the code is split into tokens by tree-sitter (the Python grammar), so layout never matters;
- comments and docstrings (a statement that is only a string) are removed;
- identifiers become one placeholder `v`, except names that a renaming leaves alone: builtins, attribute
  names after a dot, keyword-argument names and imported names;
- punctuation and operators become word-like grams (`_40` for `(`, `_61_61` for `==`) that carry no
  content (decont.text.is_content), keywords stay, the words inside string literals stay, as do numbers.

The normalised text is those grams joined by spaces, so the index and scanner read it as ordinary text.
Only Python is normalised (HumanEval and MBPP are Python); other files return None.
"""

from __future__ import annotations

import builtins
import functools
from typing import Any

from decont.benchmarks import Benchmark, BenchmarkItem, load_benchmark
from decont.index import DecontConfig, build_index

PLACEHOLDER = "v"
LANGUAGES = ("Python",)
_BUILTINS = frozenset(dir(builtins))
_KEEP_PARENTS = ("import_statement", "import_from_statement", "dotted_name", "aliased_import")


@functools.lru_cache(maxsize=1)
def _parser() -> Any:
    from tree_sitter_language_pack import get_parser

    return get_parser("python")


def _is_docstring(node: Any) -> bool:
    """A statement that is only a string (this grammar puts such a string directly in the block/module)."""
    if node.type == "expression_statement":
        return node.named_child_count == 1 and node.named_children[0].type in ("string", "concatenated_string")
    return node.type in ("string", "concatenated_string") and node.parent is not None and node.parent.type in (
        "block", "module")


def imported_names(root: Any) -> frozenset[str]:
    """Names bound by import statements (kept: a renaming leaves them alone)."""
    names: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type in ("import_statement", "import_from_statement"):
            inner = [node]
            while inner:
                n = inner.pop()
                if n.type == "identifier":
                    names.add(n.text.decode("utf-8", "replace"))
                inner.extend(n.children)
            continue
        stack.extend(node.children)
    return frozenset(names)


def _keep_name(node: Any, imported: frozenset[str] = frozenset()) -> bool:
    if node.text.decode("utf-8", "replace") in imported:
        return True
    parent = node.parent
    if parent is None:
        return False
    if parent.type == "attribute" and parent.child_by_field_name("attribute") == node:
        return True
    if parent.type == "keyword_argument" and parent.child_by_field_name("name") == node:
        return True
    p = parent
    while p is not None and p.type in _KEEP_PARENTS + ("dotted_name",):
        if p.type in _KEEP_PARENTS[:2]:
            return True
        p = p.parent
    return node.text.decode("utf-8", "replace") in _BUILTINS


def _punct(text: str) -> str:
    return "_" + "_".join(str(ord(c)) for c in text)


def normalized_grams(code: str) -> list[str]:
    """The grams of the normalisation above, in source order."""
    tree = _parser().parse(code.encode("utf-8", "surrogatepass"))
    imported = imported_names(tree.root_node)
    out: list[str] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "comment" or _is_docstring(node):
            continue
        if node.child_count:
            stack.extend(reversed(node.children))
            continue
        text = node.text.decode("utf-8", "replace") if node.text is not None else ""
        if node.type in ("string_start", "string_end") or not text.strip():
            continue
        if node.type == "identifier":
            out.append(text if _keep_name(node, imported) else PLACEHOLDER)
        elif node.type in ("string_content", "escape_sequence"):
            out.append(text)  # the index splits it into its words
        elif node.is_named or text.replace("_", "").isalnum():
            out.append(text)  # numbers, True/False/None, keywords
        else:
            out.append(_punct(text))
    return out


def normalize_code(code: str) -> str:
    """The normalised text of Python `code` (grams joined by spaces)."""
    return " ".join(normalized_grams(code))


def normalize_document(text: str, language: str | None) -> str | None:
    """The normalised text of a document in a normalised language, else None."""
    if language not in LANGUAGES:
        return None
    return normalize_code(text)


# Benchmarks whose reference code is normalised, and the fields joined into one code text per item.
CODE_FIELDS: dict[str, tuple[str, ...]] = {"humaneval": ("prompt", "canonical_solution"), "mbpp": ("code",)}
DEFAULT_N = 20  # normalised grams per n-gram (measured in `make bench`, docs/decontamination.md)


def normalized_benchmarks(benchmarks: list[Any]) -> list[Any]:
    """The code benchmarks with one field, `normalized`: each item's reference code, normalised."""
    out = []
    for bench in benchmarks:
        fields = CODE_FIELDS.get(bench.name)
        if not fields:
            continue
        if not all(f in bench.fields for f in fields):  # loaded without the code fields: read them again
            bench = load_benchmark(bench.name, bench.source, fields)
        items = []
        for item in bench.items:
            code = "".join(item.fields.get(f, [""])[0] for f in fields)
            if code.strip():
                items.append(BenchmarkItem(item.id, {"normalized": [normalize_code(code)]}))
        out.append(Benchmark(bench.name, bench.source, items, ("normalized",), ()))
    return out


def build_normalized_index(benchmarks: list[Any], n: int = DEFAULT_N) -> Any:
    """The n-gram index over normalised benchmark code: the guarded rule (content and boilerplate
    guards), n grams, no short strings matched whole (a short normalised string is any code's)."""
    return build_index(normalized_benchmarks(benchmarks), DecontConfig(rule="guarded", n=n, min_short=n))


def normalized_hits(index: Any, record: dict[str, Any]) -> list[Any]:
    """Hits of the normalised rule on one document record (text, language); [] for other languages."""
    text = record.get("text")
    if index is None or not isinstance(text, str):
        return []
    norm = normalize_document(text, record.get("language"))
    return index.match(norm) if norm else []
