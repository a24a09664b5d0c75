"""Connected components of a large graph as rounds of the file shuffle: large-star / small-star.

Why this scheme (Kiveris, Lattanzi, Mirrokni, Rastogi, Vassilvitskii, "Connected Components in
MapReduce and Beyond", SoCC 2014): every round is a plain hash shuffle of an edge list, so it runs on
the runner's ordinary tasks and files in scratch, needs no long-lived actors holding state (a killed
driver or worker loses nothing: each round is a set of idempotent tasks over files, recorded as a step),
and converges in O(log n) rounds in practice, including on long chains. The driver holds O(buckets)
per round (file names and a change count), never an edge. A distributed union-find over actors would
need fewer passes over the edges but keeps the forest in actor memory, which a restart loses.

Nodes are int64 (dedup: document refs `part << 32 | row`). At the end every non-minimal node of a
component has exactly one edge, to the component's minimum: the deterministic survivor, whatever the
number of workers or buckets.

Edge files are shuffle map files with columns (node, nbr, _route = hash_route(node)):
- large-star (reduce on u over all neighbours Γ(u)): m = min(Γ(u) ∪ {u}); each v in Γ(u) with v > u
  is linked to m. Emitted keyed by v (the larger end) for the small-star that follows.
- small-star (reduce on u over its smaller neighbours N(u)): m = min(N(u) ∪ {u}); each v in N(u) ∪ {u}
  is linked to m. Emitted in both directions for the large-star that follows.
A large-star changes nothing iff no node has both a smaller and a larger neighbour; a small-star changes
nothing iff no node has two smaller neighbours. When a large-star and the small-star after it both
change nothing, every component is a star around its minimum, and the rounds stop.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from corpus import storage
from corpus.ops.shuffle import ROUTE, Bucket, Shuffled, collect, hash_route, map_file, read_bucket, write_map_file

LARGE, SMALL = "large", "small"


def edge_table(node: np.ndarray, nbr: np.ndarray) -> pa.Table:
    """Rows (node, nbr) routed by node."""
    node, nbr = node.astype(np.int64), nbr.astype(np.int64)
    return pa.table({"node": node, "nbr": nbr, ROUTE: hash_route(node)})


def both_directions(a: np.ndarray, b: np.ndarray) -> pa.Table:
    return edge_table(np.concatenate([a, b]), np.concatenate([b, a]))


def _unique_pairs(node: np.ndarray, nbr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((nbr, node))
    node, nbr = node[order], nbr[order]
    keep = np.r_[True, (node[1:] != node[:-1]) | (nbr[1:] != nbr[:-1])] if len(node) else np.zeros(0, bool)
    return node[keep], nbr[keep]


def _groups(node: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length of each run of equal (sorted) nodes."""
    starts = np.flatnonzero(np.r_[True, node[1:] != node[:-1]])
    return starts, np.diff(np.r_[starts, len(node)])


def large_star(node: np.ndarray, nbr: np.ndarray) -> tuple[pa.Table, int]:
    """One large-star reduce over rows (u, v) holding both directions of each edge."""
    node, nbr = _unique_pairs(node, nbr)
    if not len(node):
        return edge_table(node, nbr), 0
    starts, lengths = _groups(node)
    # Rows are sorted by (node, nbr): a group's first nbr is its smallest.
    m = np.repeat(np.minimum(nbr[starts], node[starts]), lengths)
    larger = nbr > node
    changes = int(np.count_nonzero(larger & (m != node)))
    return edge_table(nbr[larger], m[larger]), changes


def small_star(node: np.ndarray, nbr: np.ndarray) -> tuple[pa.Table, int]:
    """One small-star reduce over rows (u, v) with v < u (each edge once, keyed by its larger end)."""
    node, nbr = _unique_pairs(node, nbr)
    if not len(node):
        return both_directions(node, nbr), 0
    starts, lengths = _groups(node)
    m = np.repeat(nbr[starts], lengths)  # smallest neighbour; all neighbours here are < u
    changes = int(np.count_nonzero(lengths > 1))
    others = nbr != m
    # every smaller neighbour v != m links to m, and u itself links to m
    a = np.concatenate([nbr[others], node[starts]])
    b = np.concatenate([m[others], nbr[starts]])
    return both_directions(a, b), changes


def star_task(kind: str, bucket: Bucket, out_uri: str) -> dict[str, int]:
    """One bucket of one round; writes the next round's map file."""
    t = read_bucket(bucket, ["node", "nbr"])
    node = t.column("node").to_numpy().astype(np.int64) if t.num_rows else np.empty(0, np.int64)
    nbr = t.column("nbr").to_numpy().astype(np.int64) if t.num_rows else np.empty(0, np.int64)
    table, changes = (large_star if kind == LARGE else small_star)(node, nbr)
    return {**write_map_file(table, out_uri), "changes": changes}


def connected_components(ctx: Any, edges: Shuffled, name: str = "cc", target_bytes: int | None = None) -> Shuffled:
    """Rounds of large-star / small-star from `edges` (map files holding both directions of every edge,
    as `both_directions` writes them) until the graph is a star around each component's minimum.

    Each round is one step (`<name>-NNN`, via ctx.load_step / ctx.save_step): a rerun after a kill
    resumes at the first unfinished round. A round's input files are deleted once the round after it
    is recorded, so scratch holds at most two rounds. Returns the final edges (both directions)."""
    current, previous_changes, i = edges, None, 0
    while current.rows:
        kind = LARGE if i % 2 == 0 else SMALL
        step = f"{name}-{i:03d}"
        record = ctx.load_step(step)
        if record is None:
            folder = ctx.scratch(step)
            args = [(kind, current.bucket(b), map_file(folder, b)) for b in range(current.n_buckets)]
            stats = ctx.map(star_task, args, desc=f"{ctx.stage_name}:{step}")
            record = {"shuffle": collect(folder, stats, target_bytes).to_json(), "changes": sum(s["changes"] for s in stats)}
            ctx.save_step(step, record)
        storage.remove(current.folder, recursive=True)  # this round is recorded: its input is not needed again
        current = Shuffled.from_json(record["shuffle"])
        if kind == SMALL and previous_changes == 0 and record["changes"] == 0:
            break
        previous_changes = record["changes"]
        i += 1
    return current


def roots(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """(node, component minimum) of every non-minimal node, from final edge rows."""
    if not table.num_rows:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    node = table.column("node").to_numpy().astype(np.int64)
    nbr = table.column("nbr").to_numpy().astype(np.int64)
    leaf = node > nbr
    return _unique_pairs(node[leaf], nbr[leaf])
