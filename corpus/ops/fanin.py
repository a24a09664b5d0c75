"""Bounded fan-in trees: a step that needs something of every part reads at most `fan_in` files per task.

A "read every part in one task" step (a classifier's training set, a top-k over all parts, summed
counts) costs P requests in one task, one after the other, on the critical path. Here it becomes a tree:
each task of a level merges <= fan_in consecutive files into one small file, and levels repeat until
<= fan_in files remain for the step's own task. The merge must be associative over consecutive groups
(a top-k, a sum, a filter that keeps order), so the root sees what it would have computed from the parts
themselves; files stay in part order, so ties keep breaking by part order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from corpus import storage

DEFAULT_FAN_IN = 128  # files per task: a few hundred requests at most (an open and a read each)
MAX_FAN_IN = 256


def tree_levels(n_files: int, fan_in: int) -> list[int]:
    """Tasks per level of the tree over n_files files (empty when one task can read them all)."""
    fan_in = max(2, fan_in)
    levels = []
    while n_files > fan_in:
        n_files = -(-n_files // fan_in)
        levels.append(n_files)
    return levels


def groups_of(items: list[Any], size: int) -> list[list[Any]]:
    """Consecutive groups of at most `size` items, in order."""
    size = max(1, size)
    return [items[i:i + size] for i in range(0, len(items), size)]


def fan_in_tree(ctx: Any, uris: list[str], merge: Callable[..., Any], name: str, extra: tuple = (),
                fan_in: int = DEFAULT_FAN_IN, limit: int | None = None) -> list[str]:
    """Merge `uris` level by level until at most `limit` (default: `fan_in`) files remain; returns those
    (the input itself when it is already that short). merge(group, *extra, out_uri) writes one file from
    <= fan_in files of the same kind as its inputs, so the same merge serves every level; a merge that
    skips an output already written makes a killed step resume where it was."""
    fan_in = max(2, fan_in)
    limit = max(1, fan_in if limit is None else limit)
    level = 0
    while len(uris) > limit:
        groups = groups_of(uris, fan_in)
        outs = [ctx.scratch(name, f"level-{level}", f"merge-{g:05d}") for g in range(len(groups))]
        ctx.map(merge, [(group, *extra, out) for group, out in zip(groups, outs)], desc=f"{ctx.stage_name}:{name}:merge")
        uris, level = outs, level + 1
    return uris


def remove_tree(ctx: Any, name: str) -> None:
    """The tree's scratch files (once the step that read them is recorded)."""
    storage.remove(ctx.scratch(name), recursive=True)
