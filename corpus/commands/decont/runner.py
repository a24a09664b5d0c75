"""Distributing a `corpus decont` scan through the runner protocol: the index is shared once, one task
per input chunk.

The runner comes from the one bootstrap every command uses (`corpus.engine.ray_runner.start_runner`): Ray at
RAY_ADDRESS or a local instance, or in-process (`--no-ray`). Either way each task runs
`scan.scan_records` on `inputs.read_chunk`, so both compute exactly the same thing.
"""

from __future__ import annotations

from typing import Any

from corpus.commands.decont.inputs import Chunk, read_chunk
from corpus.engine.runner import Runner
from decont.index import DecontIndex
from decont.scan import merge_counts, new_counts, scan_records


def scan_chunk(index: DecontIndex, chunk: Chunk, max_file_bytes: int, text_field: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    return scan_records(index, read_chunk(chunk, max_file_bytes=max_file_bytes, text_field=text_field))


def scan_chunks(
    index: DecontIndex,
    chunks: list[Chunk],
    runner: Runner,
    max_file_bytes: int = 10 << 20,
    text_field: str = "text",
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Scan all chunks on `runner`; returns (hits in chunk order, merged counts)."""
    hits: list[dict[str, Any]] = []
    counts = new_counts()
    if not chunks:
        return hits, counts
    shared = runner.share(index)  # once; every task reads the same copy
    results = runner.map(scan_chunk, [(shared, ch, max_file_bytes, text_field) for ch in chunks], desc="decont")
    for h, c in results:
        hits.extend(h)
        counts = merge_counts(counts, c)
    return hits, counts
