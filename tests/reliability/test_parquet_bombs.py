"""Stack-style Parquet that expands far past its size on disk: a row group whose footer says its
columns expand past `max_parquet_row_group_bytes` is never decompressed (each row a `too_large` drop),
and a dictionary-encoded column (one large value shared by many rows: small in the footer, huge once
decoded) is read as a dictionary, so oversize rows are dropped from their Arrow length. The reading
process's peak memory is measured in a subprocess (on main: 10 x 150 MB in 5.5 KB took 5.3 GB)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
MB = 1 << 20

READER = """
import json, resource, sys
from corpus.engine.executor import run_source_part
from corpus.stages.ingest import IngestConfig, IngestStage
from corpus.ingest.kinds import make_input
from corpus import storage
from corpus.engine.parts import dropped_uri
path, out, extra = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
stage = IngestStage(IngestConfig(inputs=[make_input(name="stack", kind="stack_parquet", paths=[path])], **extra))
units = stage.plan()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
record = run_source_part(stage, units, out, "k")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
drops = storage.read_table(dropped_uri(out)).to_pylist()
print(json.dumps({"growth_mb": (peak - base) / 1024, "stats": record["stats"], "details": [d["detail"] for d in drops]}))
"""


def _read(path: Path, tmp: Path, **config: object) -> dict:
    proc = subprocess.run([sys.executable, "-c", READER, str(path), str(tmp / "out" / "part-00000.parquet"), json.dumps(config)],
                          capture_output=True, text=True, check=False, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_row_group_expanding_past_the_bound_is_never_decompressed(tmp_path: Path) -> None:
    path = tmp_path / "plain.parquet"
    big = "a" * (12 * MB)
    table = pa.table({"content": [big] * 10, "path": [f"f{i}.py" for i in range(10)], "repo_name": ["r"] * 10})
    pq.write_table(table, path, use_dictionary=False, compression="zstd")  # one row group, 120 MB expanded
    del big, table
    assert path.stat().st_size < 100_000
    result = _read(path, tmp_path, max_parquet_row_group_bytes=32 * MB)
    assert result["stats"]["dropped"] == {"too_large": 10} and result["stats"]["kept"] == 0
    assert all("max_row_group_bytes" in d and "row group 0" in d for d in result["details"])
    assert result["growth_mb"] < 60, result["growth_mb"]


def test_a_dictionary_column_is_not_expanded_to_every_row(tmp_path: Path) -> None:
    path = tmp_path / "dict.parquet"
    value = pa.array(["b" * (20 * MB)])
    content = pa.DictionaryArray.from_arrays(pa.array([0] * 40, pa.int32()), value)  # 40 rows, 800 MB once decoded
    small = pa.DictionaryArray.from_arrays(pa.array([0], pa.int32()), pa.array(["print(1)\n"]))
    table = pa.table({"content": pa.concat_arrays([content, small]), "path": [f"f{i}.py" for i in range(41)], "repo_name": ["r"] * 41})
    pq.write_table(table, path, compression="zstd")
    del value, content, table
    result = _read(path, tmp_path)  # the default bound: the footer says ~20 MB, so the row group is read
    assert result["stats"]["dropped"] == {"too_large": 40} and result["stats"]["kept"] == 1
    assert all(f"{20 * MB} bytes > 1000000" in d for d in result["details"])
    assert result["growth_mb"] < 100, result["growth_mb"]
