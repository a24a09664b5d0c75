"""Dependency order of one repository's files (DeepSeek-Coder v1's repository-level samples).

`order_repository` parses each file once (its language's grammar, under the hang guard), reads its
imports from that tree (`lang_registry.imports`), resolves them to files of the repository and orders
the files so that a file comes after the files it imports: repeatedly the file with the fewest
not-yet-placed imports, ties by the order given (the caller's seeded random order); the files of an
import cycle in the order that keeps the most of its edges; files without imports (other languages)
keep their given order among themselves. It also counts, per language, the import statements, those
resolved to a repository file, the resolved edges and those where the imported file comes first,
overall and for the edges inside cycles (`max_ordered_bound`: the most any order could keep).
"""

from __future__ import annotations

import heapq
import posixpath
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lang_registry.imports import (
    DECLARATIONS,
    SUPPORTED_GRAMMARS,
    Import,
    RepoIndex,
    cargo_crate,
    file_imports,
    import_region,
    is_reexport,
    region_is_trusted,
)
from lang_registry.ts_parse import error_fraction, grammar_for, parse_file

if TYPE_CHECKING:
    from lang_registry.registry import Registry


EXACT_CYCLE = 12  # cycles of at most this many files are ordered exactly (2^12 states); larger ones greedily
SIFT_MAX = 1000  # larger cycles skip the local search (its cost grows with their size squared per pass)
SIFT_PASSES = 4


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
    hard), then by position (the caller's seeded random order). Always a permutation. A file waits
    until the files it imports outside its own cycle (strongly connected component) are placed, so
    every edge outside a cycle is kept; inside, the cycle's imports are replaced by one chain: the
    order `best_sequence` (exact, up to EXACT_CYCLE files) or `cycle_sequence` (heuristic) gives."""
    hard_deps: list[set[int]] = [set() for _ in range(n)]
    soft_deps: list[set[int]] = [set() for _ in range(n)]
    for i, j in edges:
        if i != j:
            hard_deps[i].add(j)
    for i, j in soft:
        if i != j and j not in hard_deps[i]:
            soft_deps[i].add(j)
    comp = components(n, [hard_deps[i] | soft_deps[i] for i in range(n)])
    members: dict[int, list[int]] = {}
    for i in range(n):
        members.setdefault(comp[i], []).append(i)
    for nodes in members.values():
        if len(nodes) >= 2:
            if len(nodes) <= EXACT_CYCLE:
                seq = best_sequence(nodes, hard_deps, soft_deps)
            else:
                seq = cycle_sequence(nodes, hard_deps, soft_deps)
            # the component is placed in this order: each file waits on the one before
            for a, b in zip(seq, seq[1:]):
                hard_deps[b] = {j for j in hard_deps[b] if comp[j] != comp[b]} | {a}
                soft_deps[b] = {j for j in soft_deps[b] if comp[j] != comp[b]}
            hard_deps[seq[0]] = {j for j in hard_deps[seq[0]] if comp[j] != comp[seq[0]]}
            soft_deps[seq[0]] = {j for j in soft_deps[seq[0]] if comp[j] != comp[seq[0]]}
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


def max_ordered_bound(n: int, edges: Iterable[tuple[int, int]], exact_up_to: int = 14) -> tuple[int, bool]:
    """An upper bound on the edges (i imports j) that any order of n files can put imported-first, and
    whether it is exact. Edges between strongly connected components can all be satisfied; inside a
    component this is the maximum acyclic subgraph: solved exactly (dynamic programme over subsets)
    for components of at most `exact_up_to` files, else bounded by a packing of edge-disjoint cycles
    (each needs one edge violated, whatever the order)."""
    deps: list[set[int]] = [set() for _ in range(n)]
    for i, j in edges:
        if i != j:
            deps[i].add(j)
    comp = components(n, deps)
    members: dict[int, list[int]] = {}
    for v in range(n):
        members.setdefault(comp[v], []).append(v)
    total = sum(len(d) for d in deps)
    exact = True
    for nodes in members.values():
        if len(nodes) < 2:
            continue
        if len(nodes) <= exact_up_to:
            inside = sum(1 for v in nodes for j in deps[v] if comp[j] == comp[v])
            total -= inside - _max_acyclic(nodes, deps)
        else:
            exact = False
            total -= _cycle_packing(nodes, deps)
    return total, exact


def best_sequence(nodes: list[int], hard: Sequence[set[int]], soft: Sequence[set[int]]) -> list[int]:
    """An order of the files `nodes` (one strongly connected component, in position order) that puts
    the most of their imports among themselves first: the most hard imports, then the most soft ones.
    Exact, by dynamic programming over subsets (best[S] = max over v in S of best[S - v] + the files
    of S - v importing v, v placed first of S): 2^len(nodes) states, so for small components only.
    Ties: the file with the earlier position goes first."""
    local = {v: k for k, v in enumerate(nodes)}
    size = len(nodes)
    hard_in, soft_in = [0] * size, [0] * size  # per file: the files of the component importing it
    n_soft = 0
    for v in nodes:
        for j in hard[v]:
            if j in local:
                hard_in[local[j]] |= 1 << local[v]
        for j in soft[v]:
            if j in local:
                soft_in[local[j]] |= 1 << local[v]
                n_soft += 1
    weight = 1 + n_soft  # one hard import outweighs every soft one

    def gain(k: int, others: int) -> int:
        return weight * (hard_in[k] & others).bit_count() + (soft_in[k] & others).bit_count()

    best = [0] * (1 << size)
    for s in range(1, 1 << size):
        b = 0
        rest = s
        while rest:
            low = rest & -rest
            rest ^= low
            value = best[s ^ low] + gain(low.bit_length() - 1, s ^ low)
            if value > b:
                b = value
        best[s] = b
    seq = []
    s = (1 << size) - 1
    while s:
        k = next(k for k in range(size) if s >> k & 1 and best[s ^ 1 << k] + gain(k, s ^ 1 << k) == best[s])
        seq.append(nodes[k])
        s ^= 1 << k
    return seq


def cycle_sequence(nodes: list[int], hard: Sequence[set[int]], soft: Sequence[set[int]]) -> list[int]:
    """A good order of one large strongly connected component (`nodes` in position order) for the same
    aim as `best_sequence` (hard imports satisfied first, then soft ones), which is NP-hard in general:
    the greedy of Eades, Lin and Smyth (1993) for the feedback arc set -- repeatedly a file without
    unplaced imports if there is one, else the file whose unplaced importers most outnumber its
    unplaced imports -- then local search: each file moved to the place that keeps the most of its
    edges (sifting), while that gains, up to SIFT_PASSES passes; components above SIFT_MAX files keep
    the greedy order (sifting costs their size squared per pass)."""
    local = {v: k for k, v in enumerate(nodes)}
    size = len(nodes)
    out = [[(local[j], w) for deps, w in ((hard[v], 0), (soft[v], 1)) for j in deps if j in local] for v in nodes]
    n_soft = sum(1 for edges in out for _, w in edges if w)
    weight = (1 + n_soft, 1)  # one hard import outweighs every soft one
    out = [[(j, weight[w]) for j, w in edges] for edges in out]
    into: list[list[tuple[int, int]]] = [[] for _ in range(size)]
    for k, edges in enumerate(out):
        for j, w in edges:
            into[j].append((k, w))
    imports_left = [sum(w for _, w in edges) for edges in out]  # weighted, unplaced
    importers_left = [sum(w for _, w in edges) for edges in into]
    heap = [(imports_left[k] > 0, imports_left[k] - importers_left[k], k) for k in range(size)]
    heapq.heapify(heap)
    placed = [False] * size
    seq: list[int] = []
    while heap:
        free, delta, k = heapq.heappop(heap)
        if placed[k] or (free, delta) != (imports_left[k] > 0, imports_left[k] - importers_left[k]):
            continue
        placed[k] = True
        seq.append(k)
        for d, w in into[k]:  # files importing k: one import fewer left
            if not placed[d]:
                imports_left[d] -= w
                heapq.heappush(heap, (imports_left[d] > 0, imports_left[d] - importers_left[d], d))
        for j, w in out[k]:  # files k imports: one importer fewer left
            if not placed[j]:
                importers_left[j] -= w
                heapq.heappush(heap, (imports_left[j] > 0, imports_left[j] - importers_left[j], j))
    if size <= SIFT_MAX:
        seq = _sift(seq, out, into)
    return [nodes[k] for k in seq]


def _sift(seq: list[int], out: list[list[tuple[int, int]]], into: list[list[tuple[int, int]]]) -> list[int]:
    """Local search over an order: each file in turn moved to the slot that keeps the most weight of its
    edges (an import is kept when it comes before, an importer when it comes after); ties keep it."""
    for _ in range(SIFT_PASSES):
        improved = False
        for v in list(seq):
            here = seq.index(v)
            seq.pop(here)
            role: dict[int, int] = {}  # neighbour -> weight gained when v moves past it: + an import, - an importer
            for j, w in out[v]:
                role[j] = role.get(j, 0) + w
            for d, w in into[v]:
                role[d] = role.get(d, 0) - w
            score = best = 0
            at = 0
            scores = [0]
            for slot, u in enumerate(seq, 1):
                score += role.get(u, 0)
                scores.append(score)
                if score > best:
                    best, at = score, slot
            if best > scores[here]:
                improved = True
            else:
                at = here
            seq.insert(at, v)
        if not improved:
            break
    return seq


def _max_acyclic(nodes: list[int], deps: Sequence[set[int]]) -> int:
    """Most edges of one component satisfiable by an order."""
    seq = best_sequence(nodes, deps, [set() for _ in deps])
    rank = {v: k for k, v in enumerate(seq)}
    return sum(1 for v in nodes for j in deps[v] if j in rank and rank[j] < rank[v])


def _cycle_packing(nodes: list[int], deps: Sequence[set[int]]) -> int:
    """Edge-disjoint cycles found greedily (shortest first: length 2, 3, ... through each node in turn):
    a lower bound on the edges any order must violate inside the component."""
    inside = set(nodes)
    adj = {v: {j for j in deps[v] if j in inside} for v in nodes}
    found = 0
    for limit in range(2, len(nodes) + 1):
        for v in nodes:
            while (cycle := _shortest_cycle(adj, v, limit)) is not None:
                for a, b in zip(cycle, cycle[1:] + cycle[:1]):
                    adj[a].discard(b)
                found += 1
        local = {v: k for k, v in enumerate(nodes)}
        comp = components(len(nodes), [[local[j] for j in adj[v]] for v in nodes])
        if len(set(comp)) == len(nodes):  # what is left has no cycle
            break
    return found


def _shortest_cycle(adj: dict[int, set[int]], start: int, limit: int) -> list[int] | None:
    """Nodes of a shortest cycle through `start` of at most `limit` edges (breadth-first), or None."""
    parent = {start: start}
    frontier = [start]
    for _ in range(limit):
        nxt = []
        for u in frontier:
            for w in sorted(adj[u]):
                if w == start:
                    path = [u]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return path[::-1]
                if w not in parent:
                    parent[w] = u
                    nxt.append(w)
        frontier = nxt
        if not frontier:
            return None
    return None


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
    # Edges inside a cycle (both files in one strongly connected component of the import graph): no order
    # satisfies them all. The others (acyclic) can all be, and the order does.
    cyclic_edges: Counter = field(default_factory=Counter)
    cyclic_imported_first: Counter = field(default_factory=Counter)

    def merge(self, other: ImportCounts) -> None:
        for name in ("statements", "resolved", "edges", "imported_first", "files_parsed", "parse_failed", "cyclic_edges",
                     "cyclic_imported_first"):
            getattr(self, name).update(getattr(other, name))

    def to_json(self) -> dict[str, dict[str, float]]:
        out = {}
        for lang in sorted(set(self.statements) | set(self.files_parsed)):
            s, r, e, f = self.statements[lang], self.resolved[lang], self.edges[lang], self.imported_first[lang]
            ce, cf = self.cyclic_edges[lang], self.cyclic_imported_first[lang]
            out[lang] = {"files": self.files_parsed[lang], "parse_failed": self.parse_failed[lang], "statements": s,
                         "resolved": r, "resolved_share": round(r / s, 4) if s else None, "edges": e,
                         "imported_first": f, "imported_first_share": round(f / e, 4) if e else None,
                         "acyclic_edges": e - ce, "acyclic_imported_first": f - cf,
                         "acyclic_imported_first_share": round((f - cf) / (e - ce), 4) if e - ce else None,
                         "cyclic_edges": ce, "cyclic_imported_first": cf,
                         "cyclic_imported_first_share": round(cf / ce, 4) if ce else None}
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
                        if imp.kind in DECLARATIONS or is_reexport(path, imp):
                            declared.append((path, imp))
                        if imp.kind not in DECLARATIONS:
                            imports.append(imp)
        if posixpath.basename(path) == "Cargo.toml" and (crate := cargo_crate(path, text)) is not None:
            declared.append((path, crate))
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
    adjacency: list[list[int]] = [[] for _ in files]
    for i, j, _ in edges:
        adjacency[i].append(j)
    comp = components(len(files), adjacency)
    cyclic = [e for e in edges if comp[e[0]] == comp[e[1]]]
    for _i, _j, language in edges:
        counts.edges[language] += 1
    counts.imported_first = imported_first(order, edges)
    counts.cyclic_edges = Counter(language for _, _, language in cyclic)
    counts.cyclic_imported_first = imported_first(order, cyclic)
    return RepoOrder(order, counts, errors, edges)


def imported_first(order: Sequence[int], edges: Iterable[tuple[int, int, str]]) -> Counter:
    """Per language, the edges (i imports j) whose imported file j comes before i in `order`."""
    rank = {f: r for r, f in enumerate(order)}
    out: Counter = Counter()
    for i, j, language in edges:
        out[language] += rank[j] < rank[i]
    return out
