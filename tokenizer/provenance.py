"""Provenance of packed shards: which piece of which document fills which tokens of which row.

One provenance row per (shard file, row, segment): a segment is the part of one chunk copy that sits in
one row (a plain chunk may continue in the next row; a FIM example never does). It names the chunk copy
(`chunk_id`, `rep`), its document (`doc_id`, `repo`, `path`, `license`, `commit`, `archive`) and, for a
repository sample, the `files` whose text the chunk holds; `offset`/`length` are the segment's tokens in
the row and `start` where the segment begins in the copy's final ids (BOS, FIM sentinels included).

The document columns ride along with every chunk from encode to pack (`with_doc_columns`), so a pack task
writes its range's provenance from what it already reads: no join with the documents afterwards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .chunks import Chunk
from .encode import EncodedDoc
from .packing import Packer, Row

# The per-chunk document columns encode adds to the chunk table (mix and the gather carry them to pack).
DOC_FIELDS = [
    pa.field("repo", pa.string()),
    pa.field("path", pa.string()),
    pa.field("license", pa.string()),
    pa.field("commit", pa.string()),  # the source commit where ingest recorded one (GitHub's commit_sha)
    pa.field("archive", pa.string()),  # the source archive or file where recorded (a WARC file and record)
    pa.field("files", pa.list_(pa.string())),  # a repository sample's files held by the chunk
]
DOC_COLUMNS = [f.name for f in DOC_FIELDS]

PROVENANCE_SCHEMA = pa.schema(
    [
        pa.field("shard", pa.string()),
        pa.field("row", pa.int32()),
        pa.field("segment", pa.int32()),
        pa.field("offset", pa.int32()),
        pa.field("length", pa.int32()),
        pa.field("start", pa.int32()),
        pa.field("chunk_id", pa.string()),
        pa.field("rep", pa.int32()),
        pa.field("fim", pa.string()),
        pa.field("doc_id", pa.string()),
        pa.field("source", pa.string()),
        pa.field("domain", pa.string()),
        pa.field("language", pa.string()),
        *DOC_FIELDS,
    ]
)


def with_doc_columns(table: pa.Table, chunks: Sequence[Chunk], docs: Mapping[str, Mapping[str, Any]]) -> pa.Table:
    """The chunk table (chunks_to_table of `chunks`) with the document columns of each chunk's document
    (`docs`: doc id -> repo, path, license, commit, archive)."""
    info = [docs.get(c.doc_id, {}) for c in chunks]
    cols = {name: pa.array([d.get(name) for d in info], pa.string()) for name in DOC_COLUMNS if name != "files"}
    cols["files"] = pa.array([list(c.files) for c in chunks], pa.list_(pa.string()))
    for f in DOC_FIELDS:
        table = table.append_column(f, cols[f.name])
    return table


class ProvenanceRecorder:
    """Collects the provenance rows of one pack range, shard file by shard file."""

    def __init__(self, table: pa.Table) -> None:
        # chunk id -> its document columns (one entry per chunk, whatever its copies), from the range's rows.
        names = ["chunk_id", "doc_id"] + [c for c in DOC_COLUMNS if c in table.column_names]
        cols = table.select(names).to_pydict()
        self._docs: dict[str, dict[str, Any]] = {}
        for i, cid in enumerate(cols["chunk_id"]):
            if cid not in self._docs:
                self._docs[cid] = {n: cols[n][i] for n in names[1:]}
        self._cols: dict[str, list[Any]] = {f.name: [] for f in PROVENANCE_SCHEMA}

    def add(self, shard: str, rows: Sequence[Row], seq_len: int) -> None:
        c = self._cols
        for r, row in enumerate(rows):
            ends = row.doc_offsets[1:] + [seq_len - row.n_pad]
            for j, (off, end, key) in enumerate(zip(row.doc_offsets, ends, row.doc_keys)):
                cid, rep, fim, start = key
                doc = self._docs.get(cid, {})
                c["shard"].append(shard)
                c["row"].append(r)
                c["segment"].append(j)
                c["offset"].append(off)
                c["length"].append(end - off)
                c["start"].append(start)
                c["chunk_id"].append(cid)
                c["rep"].append(rep)
                c["fim"].append(fim)
                c["doc_id"].append(doc.get("doc_id"))
                c["source"].append(row.doc_sources[j])
                c["domain"].append(row.doc_domains[j])
                c["language"].append(row.doc_languages[j])
                for name in DOC_COLUMNS:
                    c[name].append(doc.get(name) if name != "files" else list(doc.get("files") or []))

    def table(self) -> pa.Table:
        return pa.table(self._cols, schema=PROVENANCE_SCHEMA)


def provenance_bytes(table: pa.Table, compression_level: int = 3) -> bytes:
    """One provenance file's bytes (zstd Parquet; the same table gives the same bytes)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", compression_level=compression_level)
    return sink.getvalue().to_pybytes()


def provenance_entry(name: str, table: pa.Table, write: Callable[[str, bytes], None]) -> dict[str, Any]:
    """Write one provenance file through `write(name, data)`; its manifest entry (path, rows, sha256)."""
    data = provenance_bytes(table)
    write(name, data)
    return {"path": name, "rows": table.num_rows, "sha256": hashlib.sha256(data).hexdigest()}


def shard_rows(shard: pa.Table, seq_len: int) -> np.ndarray:
    """A shard file's `input_ids` as one (rows, seq_len) int32 array."""
    ids = shard.column("input_ids").combine_chunks()
    return ids.values.to_numpy(zero_copy_only=False).astype(np.int32, copy=False).reshape(len(ids), seq_len)


def repack_without(shard: pa.Table, prov: pa.Table, remove: np.ndarray, seq_len: int, pad_id: int) -> tuple[list[Row], pa.Table]:
    """One shard file packed again without the segments `remove` (a bool per row of `prov`, the file's
    provenance rows in (row, segment) order): the other segments keep their order and their tokens, the
    pieces of one chunk copy that sat in consecutive rows are joined again, and the Packer cuts rows as
    pack does (a FIM example stays whole, only the file's last row is padded). Returns the rows and
    their provenance (the same document columns, new row/segment/offset/length; `start` kept)."""
    ids = shard_rows(shard, seq_len)
    cols = prov.to_pydict()
    # One run per stretch of consecutive segments of one copy. A copy can be two runs in one file: the
    # packer places waiting FIM examples at the start of a row before a cut plain copy continues there.
    runs: list[tuple[int, list[np.ndarray]]] = []  # (first provenance row, segments)
    last: tuple[str, int] | None = None
    for i in range(prov.num_rows):
        if remove[i]:
            last = None
            continue
        key = (cols["chunk_id"][i], int(cols["rep"][i]))
        seg = ids[cols["row"][i], cols["offset"][i] : cols["offset"][i] + cols["length"][i]]
        if key == last:  # the same copy continued from the row before
            runs[-1][1].append(seg)
            continue
        last = key
        runs.append((i, [seg]))
    packer = Packer(seq_len, pad_id)
    rows: list[Row] = []
    for k, (i, segs) in enumerate(runs):
        # The run's index as the packer's doc id: the provenance below maps each new segment back to it.
        rows.extend(packer.add(EncodedDoc(doc_id=str(k), rep=int(cols["rep"][i]), source=cols["source"][i] or "",
                                          domain=cols["domain"][i] or "", language=cols["language"][i] or "", split="",
                                          fim=cols["fim"][i] or "none", ids=np.concatenate(segs))))
    rows.extend(packer.finish_rows())
    out: dict[str, list[Any]] = {f.name: [] for f in PROVENANCE_SCHEMA}
    for r, row in enumerate(rows):
        ends = row.doc_offsets[1:] + [seq_len - row.n_pad]
        for j, (off, end, (run, _, _, pos)) in enumerate(zip(row.doc_offsets, ends, row.doc_keys)):
            i = runs[int(run)][0]
            for name in out:
                out[name].append(cols[name][i])
            out["row"][-1], out["segment"][-1], out["offset"][-1], out["length"][-1] = r, j, off, end - off
            out["start"][-1] = int(cols["start"][i]) + pos
        row.doc_keys = [(cols["chunk_id"][runs[int(k)][0]], rep, fim, pos) for k, rep, fim, pos in row.doc_keys]
    return rows, pa.table(out, schema=PROVENANCE_SCHEMA)
