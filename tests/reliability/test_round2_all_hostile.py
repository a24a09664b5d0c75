"""One run over the round-2 hostile inputs together (a notebook nested 1,200 deep, a newline in a file
name, a Parquet column that expands 40-fold through a dictionary, a row group over the bound, a WARC
record after garbage with no line break, a 1 PB Content-Length) finishes, each input contained as its
own drop, every stage accounted for, and `--resume` over it finishes too."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from test_per_file_errors import DEEP_NOTEBOOK
from test_warc_damage import records

from corpus.engine.executor import Executor
from corpus.ingest.kinds import make_input
from corpus.stages.filter import FilterStage
from corpus.stages.ingest import IngestConfig, IngestStage, InputSpec
from corpus.stages.langid import LangIdStage

MB = 1 << 20


def _inputs(tmp_path: Path) -> list[InputSpec]:
    repo = tmp_path / "repos" / "r"
    repo.mkdir(parents=True)
    (repo / "deep.ipynb").write_text(DEEP_NOTEBOOK)
    (repo / "evil\nname.py").write_text("x = 1\n")
    (repo / "ok.py").write_text("def f(x):\n    return x + 1\n")
    stack = tmp_path / "stack"
    stack.mkdir()
    value = pa.array(["b" * (2 * MB)])
    content = pa.DictionaryArray.from_arrays(pa.array([0] * 40 + [1], pa.int32()), pa.concat_arrays([value, pa.array(["y = 2\n"])]))
    pq.write_table(pa.table({"content": content, "path": [f"f{i}.py" for i in range(41)], "repo_name": ["s"] * 41}),
                   stack / "dict.parquet", compression="zstd")
    pq.write_table(pa.table({"content": ["c" * MB] * 12, "path": [f"g{i}.py" for i in range(12)], "repo_name": ["s"] * 12}),
                   stack / "plain.parquet", use_dictionary=False, compression="zstd")
    recs = records(3, gz=True)
    lie = gzip.compress(re.sub(rb"Content-Length: \d+", b"Content-Length: 1000000000000000", gzip.decompress(records(1, gz=True)[0]), count=1))
    web = tmp_path / "web"
    web.mkdir()
    (web / "crawl.warc.gz").write_bytes(recs[0] + gzip.compress(b"garbage, no line break") + recs[1] + lie + recs[2])
    return [make_input(name="gh", kind="repos", paths=[str(tmp_path / "repos")], each_subdir=True),
            make_input(name="stack", kind="stack_parquet", paths=[str(stack)]),
            make_input(name="web", kind="warc", domain="text", paths=[str(web)])]


def test_one_run_over_every_round2_hostile_input(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path)

    def stages() -> list:
        return [IngestStage(IngestConfig(inputs=inputs, max_parquet_row_group_bytes=8 * MB)), LangIdStage(), FilterStage()]

    out = str(tmp_path / "out")
    results = Executor(out, seed=1).run(stages())
    ingest = results["ingest"]
    assert dict(ingest.dropped) == {"hostile_path": 1, "too_large": 40 + 12 + 1, "malformed_record": 1}
    assert ingest.in_bytes < 100 * MB, "bytes met count what was read (40 rows of 2 MB), not a header's 1 PB"
    assert dict(results["langid"].dropped) == {"notebook_unparsable": 1}
    for stats in results.values():
        assert stats.in_records == stats.kept + sum(stats.dropped.values())
    assert results["filter"].in_records == results["langid"].kept
    again = Executor(out, seed=1, resume=True)
    again.run(stages())
    assert again.ran == []
