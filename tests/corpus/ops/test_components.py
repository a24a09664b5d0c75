"""Large-star / small-star connected components against a single-process union-find."""

from __future__ import annotations

import numpy as np
import pytest

from corpus.engine.context import RunContext
from corpus.engine.runner import InProcessRunner
from corpus.ops import components as cc
from corpus.ops import shuffle as sh


def union_find_minimum(edges: np.ndarray) -> dict[int, int]:
    """Reference: every non-minimal node -> the smallest node of its component."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges.tolist():
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in list(parent) if find(x) != x}


def _distributed(tmp_path, edges: np.ndarray, n_files: int, target: int, name: str = "g") -> tuple[dict[int, int], RunContext]:
    ctx = RunContext(out_uri=str(tmp_path / "out"), stage_name="cc", runner=InProcessRunner(), stage_key="k")
    folder = ctx.scratch(name)
    stats = [sh.write_map_file(cc.both_directions(c[:, 0], c[:, 1]), sh.map_file(folder, i)) for i, c in enumerate(np.array_split(edges, n_files))]
    final = cc.connected_components(ctx, sh.collect(folder, stats, target), target_bytes=target)
    out: dict[int, int] = {}
    for b in range(final.n_buckets):
        node, root = cc.roots(sh.read_bucket(final.bucket(b)))
        for n, r in zip(node.tolist(), root.tolist()):
            assert out.setdefault(n, r) == r, "a node must have one root"
    return out, ctx


def _relabel(edges: np.ndarray, rng) -> np.ndarray:
    """Random refs in the dedup layout (part << 32 | row), so node order is unrelated to edge order."""
    nodes = np.unique(edges)
    refs = (rng.integers(0, 50, len(nodes)).astype(np.int64) << 32) | rng.permutation(len(nodes)).astype(np.int64)
    return refs[np.searchsorted(nodes, edges)]


def _graphs(rng) -> dict[str, np.ndarray]:
    n = 10_000
    order = rng.permutation(n)
    path = np.stack([order[:-1], order[1:]], axis=1)  # a path visiting the nodes in shuffled order
    stars = np.concatenate([np.stack([np.full(200, c * 1000), c * 1000 + 1 + rng.permutation(200)], axis=1) for c in range(20)])
    small = rng.integers(0, 30_000, size=(8_000, 2))  # sparse random: many small components
    pairs = np.arange(0, 4000).reshape(-1, 2)  # 2,000 components of two
    cycle = np.stack([np.arange(3000), (np.arange(3000) + 1) % 3000], axis=1)[rng.permutation(3000)]
    return {"path": path[rng.permutation(len(path))], "stars": stars, "random": small, "pairs": pairs, "cycle": cycle,
            "mixed": np.concatenate([path + 100_000, stars, small + 200_000])}


@pytest.mark.parametrize("graph", ["path", "stars", "random", "pairs", "cycle", "mixed"])
def test_components_match_union_find(tmp_path, graph) -> None:
    rng = np.random.default_rng(7)
    edges = _relabel(_graphs(rng)[graph], rng)
    got, _ = _distributed(tmp_path, edges, n_files=3, target=256 * 1024)  # small target: several buckets per round
    assert got == union_find_minimum(edges)


def test_result_does_not_depend_on_buckets_or_input_split(tmp_path) -> None:
    rng = np.random.default_rng(3)
    edges = _relabel(rng.integers(0, 5_000, size=(6_000, 2)), rng)
    one, _ = _distributed(tmp_path / "a", edges, n_files=1, target=1 << 40)
    many, _ = _distributed(tmp_path / "b", edges, n_files=5, target=16 * 1024)
    assert one == many == union_find_minimum(edges)


def test_a_killed_round_resumes_from_the_last_recorded_one(tmp_path, monkeypatch) -> None:
    rng = np.random.default_rng(5)
    edges = _relabel(_graphs(rng)["path"], rng)
    real = cc.star_task
    calls: list[str] = []

    def dying(kind, bucket, out_uri):
        calls.append(out_uri)
        if "cc-003" in out_uri:
            raise RuntimeError("driver killed")
        return real(kind, bucket, out_uri)

    monkeypatch.setattr(cc, "star_task", dying)
    with pytest.raises(RuntimeError):
        _distributed(tmp_path, edges, n_files=2, target=1 << 40, name="g")
    ctx = RunContext(out_uri=str(tmp_path / "out"), stage_name="cc", runner=InProcessRunner(), stage_key="k")
    assert ctx.load_step("cc-002") is not None and ctx.load_step("cc-003") is None
    monkeypatch.setattr(cc, "star_task", lambda *a: calls.append(a[2]) or real(*a))
    calls.clear()
    final = cc.connected_components(ctx, sh.Shuffled(ctx.scratch("gone"), 0, 1, 0, 0), "cc")  # input unused: rounds recorded
    assert "cc-000" not in " ".join(calls) and "cc-003" in calls[0]
    got = {}
    for b in range(final.n_buckets):
        node, root = cc.roots(sh.read_bucket(final.bucket(b)))
        got.update(zip(node.tolist(), root.tolist()))
    assert got == union_find_minimum(edges)
