"""Detection throughput on a real tree (single process = one core).

`bench_detection(root, limit_files)` reads up to `limit_files` files under `root` into memory first
(capped at MAX_FILE_BYTES each, so disk speed is not measured), then times `detect` over them.
MB/s counts the bytes handed to `detect` (the pipeline hands whole files; detection reads a prefix).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter

from lang_registry.detect import detect
from lang_registry.registry import load_registry

MAX_FILE_BYTES = 8 << 20
DISAMBIGUATION_METHODS = ("heuristic", "tree-sitter", "default")


def collect(root: str, limit_files: int) -> list[tuple[str, bytes]]:
    files: list[tuple[str, bytes]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            try:
                with open(full, "rb") as fh:
                    data = fh.read(MAX_FILE_BYTES)
            except OSError:
                continue
            files.append((os.path.relpath(full, root), data))
            if len(files) >= limit_files:
                return files
    return files


def bench_detection(root: str, limit_files: int = 20000) -> dict:
    """files/s, MB/s and the share of files that needed disambiguation, for one process."""
    reg = load_registry()
    files = collect(root, limit_files)
    detect(files[0][0], files[0][1], reg) if files else None  # warm caches (registry, regexes)
    methods: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    flags = Counter()
    nbytes = sum(len(d) for _, d in files)
    t0 = time.perf_counter()
    for path, data in files:
        d = detect(path, data, reg)
        methods[d.method or "none"] += 1
        languages[d.language or "-"] += 1
        flags["vendored"] += d.vendored
        flags["generated"] += d.generated
        flags["binary"] += d.binary
    dt = time.perf_counter() - t0
    n = len(files)
    ambiguous = sum(methods[m] for m in DISAMBIGUATION_METHODS)
    return {
        "root": root, "files": n, "bytes": nbytes, "seconds": round(dt, 3),
        "files_per_s": round(n / dt, 1) if dt else None,
        "mb_per_s": round(nbytes / 1e6 / dt, 1) if dt else None,
        "disambiguation_share": round(ambiguous / n, 4) if n else 0.0,
        "tree_sitter_share": round(methods["tree-sitter"] / n, 4) if n else 0.0,
        "methods": dict(methods.most_common()),
        "top_languages": dict(languages.most_common(12)),
        "flags": dict(flags),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("root")
    ap.add_argument("--limit-files", type=int, default=20000)
    args = ap.parse_args(argv)
    print(json.dumps(bench_detection(args.root, args.limit_files), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
