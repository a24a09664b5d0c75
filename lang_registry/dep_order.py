"""Dependency order of one repository's files (DeepSeek-Coder v1's repository-level samples).

`order_repository` parses each file once (its language's grammar, under the hang guard), reads its
imports from that tree (`lang_registry.imports`), resolves them to files of the repository and orders
the files so that a file comes after the files it imports: repeatedly the file with the fewest
not-yet-placed imports, ties by the order given (the caller's seeded random order), so cycles still
give an order and files without imports (other languages) keep their given order among themselves.
It also counts, per language, the import statements, those resolved to a repository file, the
resolved edges and those where the imported file comes first.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lang_registry.imports import (
    DECLARATIONS,
    SUPPORTED_GRAMMARS,
    Import,
    RepoIndex,
    file_imports,
    import_region,
    region_is_trusted,
)
from lang_registry.ts_parse import error_fraction, grammar_for, parse_file

if TYPE_CHECKING:
    from lang_registry.registry import Registry


def components(n: int, deps: Sequence[Iterable[int]]) -> list[int]:
    """Strongly connected component id of each node (Tarjan, iterative: no recursion limit)."""
    index = [-1] * n
    low = [0] * n
    comp = [-1] * n
    on_stack = [False] * n
    stack: list[int] = []
    counter = n_comp = 0
    adj = [list(d) for d in deps]
    for root in range(n):
        if index[root] != -1:
            continue
        work = [(root, 0)]
        while work:
            v, k = work.pop()
            if k == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack[v] = True
            if k < len(adj[v]):
                work.append((v, k + 1))
                w = adj[v][k]
                if index[w] == -1:
                    work.append((w, 0))
                elif on_stack[w]:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp[w] = n_comp
                    if w == v:
                        break
                n_comp += 1
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return comp


def dependency_order(n: int, edges: Iterable[tuple[int, int]], soft: Iterable[tuple[int, int]] = ()) -> list[int]:
    """Positions 0..n-1 in dependency order; (i, j) in `edges`: i imports j (j should come first).

    Each step takes the file with the fewest unplaced imports (its in-degree in the graph of what is
    left), ties by fewer unplaced `soft` imports (needed only at call time; an edge in both counts as
    hard), then by position (the caller's seeded random order). Always a permutation: a cycle is
    broken at the file with the fewest unplaced imports. One refinement: a file waits until the
    files it imports outside its own cycle (strongly connected component) are placed, so breaking
    a cycle never places a file before imports that are not part of that cycle."""
    hard_deps: list[set[int]] = [set() for _ in range(n)]
    soft_deps: list[set[int]] = [set() for _ in range(n)]
    for i, j in edges:
        if i != j:
            hard_deps[i].add(j)
    for i, j in soft:
        if i != j and j not in hard_deps[i]:
            soft_deps[i].add(j)
    comp = components(n, [hard_deps[i] | soft_deps[i] for i in range(n)])
    dependents: list[list[tuple[int, int]]] = [[] for _ in range(n)]  # j -> [(i, counter it lowers)]
    waiting = [[0, 0, 0] for _ in range(n)]  # unplaced imports: [outside the cycle, hard, soft]
    for i in range(n):
        for deps, kind in ((hard_deps[i], 1), (soft_deps[i], 2)):
            for j in deps:
                counter = 0 if comp[j] != comp[i] else kind
                waiting[i][counter] += 1
                dependents[j].append((i, counter))
    heap = [(*w, i) for i, w in enumerate(waiting)]
    heapq.heapify(heap)
    placed = [False] * n
    order: list[int] = []
    while heap:
        *counts, i = heapq.heappop(heap)
        if placed[i] or counts != waiting[i]:
            continue  # a stale entry: the file's counts dropped and a newer entry holds it
        placed[i] = True
        order.append(i)
        for d, counter in dependents[i]:
            if not placed[d]:
                waiting[d][counter] -= 1
                heapq.heappush(heap, (*waiting[d], d))
    return order


@dataclass
class ImportCounts:
    """Per language: import statements, those resolved to a file of the repository, the resolved
    (importer, imported file) edges, and the edges whose imported file comes first in the order."""

    statements: Counter = field(default_factory=Counter)
    resolved: Counter = field(default_factory=Counter)
    edges: Counter = field(default_factory=Counter)
    imported_first: Counter = field(default_factory=Counter)
    files_parsed: Counter = field(default_factory=Counter)
    parse_failed: Counter = field(default_factory=Counter)

    def merge(self, other: ImportCounts) -> None:
        for name in ("statements", "resolved", "edges", "imported_first", "files_parsed", "parse_failed"):
            getattr(self, name).update(getattr(other, name))

    def to_json(self) -> dict[str, dict[str, float]]:
        out = {}
        for lang in sorted(set(self.statements) | set(self.files_parsed)):
            s, r, e, f = self.statements[lang], self.resolved[lang], self.edges[lang], self.imported_first[lang]
            out[lang] = {"files": self.files_parsed[lang], "parse_failed": self.parse_failed[lang], "statements": s,
                         "resolved": r, "resolved_share": round(r / s, 4) if s else None, "edges": e,
                         "imported_first": f, "imported_first_share": round(f / e, 4) if e else None}
        return out


@dataclass
class RepoOrder:
    order: list[int]  # positions into the files given, in dependency order
    counts: ImportCounts
    syntax_error_fraction: list[float | None]  # per file given, from the same parse (None: not parsed)
    edges: list[tuple[int, int, str]]  # (importer, imported file, importer's language), positions as given


def order_repository(files: Sequence[tuple[str, str | None, str]], registry: Registry, syntax: bool = False) -> RepoOrder:
    """files: (path, language, text) of one repository in the caller's (seeded random) order.

    Each file of a supported language is parsed once. By default only its import region is parsed
    (`imports.import_region`: up to the end of its last import statement), which is all the query
    needs; with `syntax=True` whole files are parsed and the same tree also gives each file's
    `syntax_error_fraction` (else that is only known for files whose import region is the whole file)."""
    counts = ImportCounts()
    per_file: list[list[Import]] = []
    declared: list[tuple[str, Import]] = []
    errors: list[float | None] = []
    for path, language, text in files:
        grammar = grammar_for(registry, language, path)
        imports: list[Import] = []
        err = None
        if grammar in SUPPORTED_GRAMMARS:
            counts.files_parsed[language] += 1
            data = text.encode("utf-8", "surrogatepass")
            size = len(data) if syntax else import_region(grammar, data)
            if not data:
                err = 0.0
            elif size:
                part = data if size == len(data) else data[:size]
                tree = parse_file(grammar, part)
                if tree is not None and part is not data and not region_is_trusted(grammar, tree):
                    part = data
                    tree = parse_file(grammar, data)
                if tree is None:
                    counts.parse_failed[language] += 1
                else:
                    err = error_fraction(tree, len(data)) if size == len(data) else None
                    for imp in file_imports(grammar, tree, part):
                        (declared.append((path, imp)) if imp.kind in DECLARATIONS else imports.append(imp))
        per_file.append(imports)
        errors.append(err)
    index = RepoIndex((p for p, _, _ in files), declared)
    position = {p: k for k, (p, _, _) in enumerate(files)}
    edges: list[tuple[int, int, str]] = []
    soft: set[tuple[int, int]] = set()
    for k, ((path, language, _), imports) in enumerate(zip(files, per_file)):
        hard: set[int] = set()
        for imp in imports:
            targets = index.resolve(path, imp)
            counts.statements[language] += 1
            if targets:
                counts.resolved[language] += 1
            for t in targets:
                (soft.add((k, position[t])) if imp.soft or index.soft_target(path, t) else hard.add(position[t]))
        edges += [(k, j, language or "") for j in sorted(hard)]
        edges += [(k, j, language or "") for kk, j in sorted(soft) if kk == k and j not in hard]
    order = dependency_order(len(files), ((i, j) for i, j, _ in edges if (i, j) not in soft), soft)
    for _i, _j, language in edges:
        counts.edges[language] += 1
    counts.imported_first = imported_first(order, edges)
    return RepoOrder(order, counts, errors, edges)


def imported_first(order: Sequence[int], edges: Iterable[tuple[int, int, str]]) -> Counter:
    """Per language, the edges (i imports j) whose imported file j comes before i in `order`."""
    rank = {f: r for r, f in enumerate(order)}
    out: Counter = Counter()
    for i, j, language in edges:
        out[language] += rank[j] < rank[i]
    return out
