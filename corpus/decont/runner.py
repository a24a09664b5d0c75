"""Distributing a scan over Ray: the index is put in the object store once, one task per input chunk.

Used by `corpus decont`. The per-chunk work is `scan.scan_records` on `inputs.read_chunk`, so the
in-process path (`use_ray=False`, for small inputs and tests) computes exactly the same thing.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

from corpus.decont.index import DecontIndex
from corpus.decont.inputs import Chunk, read_chunk
from corpus.decont.scan import merge_counts, new_counts, scan_records


def scan_chunk(index: DecontIndex, chunk: Chunk, max_file_bytes: int, text_field: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    return scan_records(index, read_chunk(chunk, max_file_bytes=max_file_bytes, text_field=text_field))


def scan_chunks(
    index: DecontIndex,
    chunks: list[Chunk],
    use_ray: bool = True,
    num_cpus: int | None = None,
    max_file_bytes: int = 10 << 20,
    text_field: str = "text",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Scan all chunks; returns (hits, merged counts)."""
    hits: list[dict[str, Any]] = []
    counts = new_counts()
    if not chunks:
        return hits, counts
    if not use_ray:
        for i, ch in enumerate(chunks):
            h, c = scan_chunk(index, ch, max_file_bytes, text_field)
            hits.extend(h)
            counts = merge_counts(counts, c)
            if progress:
                progress(i + 1, len(chunks))
        return hits, counts

    import ray

    started = False
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS") or None
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address is None:
            kwargs["num_cpus"] = num_cpus
            # Workers must import this package from wherever the driver found it (repo checkout or site-packages).
            root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            path = os.pathsep.join([root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
            kwargs["runtime_env"] = {"env_vars": {"PYTHONPATH": path}}
        ray.init(address=address, **kwargs)
        started = True
    try:
        remote = ray.remote(num_cpus=1)(scan_chunk)
        index_ref = ray.put(index)  # once; every task reads the same shared copy
        pending = [remote.remote(index_ref, ch, max_file_bytes, text_field) for ch in chunks]
        done_n = 0
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            h, c = ray.get(ready[0])
            hits.extend(h)
            counts = merge_counts(counts, c)
            done_n += 1
            if progress:
                progress(done_n, len(chunks))
    finally:
        if started:
            ray.shutdown()
    return hits, counts


def _stderr_progress(done: int, total: int) -> None:
    if total > 1 and (done == total or done % max(1, total // 20) == 0):
        print(f"decont: {done}/{total} chunks scanned", file=sys.stderr)
