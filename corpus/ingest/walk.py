"""A folder walk for hostile trees: iterative (os.walk recurses once per level in Python 3.11, so a
tree 1,000 folders deep raises RecursionError), never descends through a symbolic link, and reports
every folder it cannot list to `onerror` instead of skipping it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator


def walk(top: str | os.PathLike, onerror: Callable[[OSError], None] | None = None) -> Iterator[tuple[str, list[str], list[str]]]:
    """Like os.walk(top, followlinks=False), top-down: (folder, sub-folder names, other names).
    Links to folders are listed among the sub-folders (as os.walk does) but never entered; the
    caller may sort or prune the sub-folder list in place to choose what is entered, and in what order."""
    stack = [os.fspath(top)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            if onerror is not None:
                onerror(exc)
            continue
        dirs, others = [], []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            (dirs if is_dir else others).append(entry.name)
        yield folder, dirs, others
        for name in reversed(dirs):  # popped in the caller's order
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                stack.append(path)
