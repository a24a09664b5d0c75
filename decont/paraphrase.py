"""Paraphrased copies of Python code, to measure decontamination against them (bench, `corpus ablate`).

A paraphrase here is what a copy edited to hide its origin looks like: every local name (function,
parameter, variable; not builtins, attributes, keyword-argument names or imports) renamed consistently,
comments and docstrings removed, blank lines dropped and indentation changed from 4 to 2 spaces
(tabs to 2 spaces). The code still parses to the same program up to names.
"""

from __future__ import annotations

import hashlib

from decont.normalize import _is_docstring, _keep_name, _parser, imported_names


def _new_name(name: str, salt: str) -> str:
    digest = hashlib.blake2b(f"{salt}\0{name}".encode(), digest_size=4).hexdigest()
    return f"n{digest}"


def paraphrase_python(code: str, salt: str = "p") -> str:
    """`code` with names renamed, comments and docstrings removed, re-indented (see module doc)."""
    data = code.encode("utf-8", "surrogatepass")
    tree = _parser().parse(data)
    imported = imported_names(tree.root_node)
    edits: list[tuple[int, int, bytes]] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "comment" or _is_docstring(node):
            edits.append((node.start_byte, node.end_byte, b""))
            continue
        if node.type == "identifier" and not _keep_name(node, imported):
            edits.append((node.start_byte, node.end_byte, _new_name(node.text.decode("utf-8", "replace"), salt).encode()))
            continue
        stack.extend(node.children)
    out = bytearray(data)
    for start, end, new in sorted(edits, reverse=True):
        out[start:end] = new
    lines = []
    for line in out.decode("utf-8", "surrogatepass").expandtabs(4).splitlines():
        if not line.strip():
            continue
        body = line.lstrip(" ")
        indent = len(line) - len(body)
        lines.append(" " * (indent // 2) + body.rstrip())
    return "\n".join(lines) + "\n"
