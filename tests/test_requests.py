"""Storage request accounting: counted per task in the storage layer, summed per step into `_SUCCESS.json`,
and bounded per task whatever the number of parts."""

from __future__ import annotations

import threading

import pyarrow as pa

from corpus import storage
from corpus.engine import Executor
from corpus.runner import InProcessRunner
from corpus.stages.ingest import IngestConfig, IngestStage, InputSpec
from corpus.stages.langid import LangIdStage


def test_each_kind_of_request_is_counted(tmp_path) -> None:
    uri = str(tmp_path / "t.parquet")
    with storage.counting_requests() as counts:
        storage.write_table(uri, pa.table({"a": list(range(10))}))
        storage.read_table(uri)
        storage.exists(uri)
        storage.listdir(str(tmp_path))
        pf = storage.parquet_file(uri)
        storage.read_row_groups(pf, [0])
    assert counts == {"opens": 2, "reads": 3, "lists": 1, "writes": 1}


def test_an_inner_scope_takes_its_requests_from_the_outer_one(tmp_path) -> None:
    uri = str(tmp_path / "x.json")
    with storage.counting_requests() as outer:
        storage.write_json(uri, {})
        with storage.counting_requests() as inner:
            storage.read_json(uri)
            # a task's own threads count into the task
            t = threading.Thread(target=storage.exists, args=(uri,))
            t.start()
            t.join()
    assert inner == {"opens": 1, "reads": 2, "lists": 0, "writes": 0}
    assert outer == {"opens": 0, "reads": 0, "lists": 0, "writes": 1}


def _read_n(uris: list[str]) -> int:
    return sum(storage.read_table(u).num_rows for u in uris)


def test_the_runner_returns_requests_per_step_with_the_largest_task(tmp_path) -> None:
    uris = []
    for i in range(3):
        uris.append(str(tmp_path / f"{i}.parquet"))
        storage.write_table(uris[-1], pa.table({"a": [i]}))
    runner = InProcessRunner()
    runner.map(_read_n, [(uris[:1],), (uris,)], desc="s:read")
    assert runner.requests_by_step["s:read"] == {"tasks": 2, "total": 8, "max_per_task": 6,
                                                 "by_kind": {"opens": 4, "reads": 4, "lists": 0, "writes": 0}}


def test_success_json_holds_requests_by_step(tmp_path) -> None:
    for r in range(3):
        repo = tmp_path / "repos" / f"r{r}"
        repo.mkdir(parents=True)
        (repo / "m.py").write_text(f"def f{r}(x):\n    return x\n" * 20)
    inputs = [InputSpec(name="github", kind="repos", paths=[str(tmp_path / "repos")], each_subdir=True)]
    out = str(tmp_path / "out")
    Executor(out, seed=1).run([IngestStage(IngestConfig(inputs=inputs, units_per_part=1, min_parts=1)), LangIdStage()])
    done = storage.read_json(storage.join(out, "langid", "_SUCCESS.json"))
    step = done["requests_by_step"]["langid"]
    assert step["tasks"] == 3 and step["total"] >= 3 * 4 and step["max_per_task"] * 3 >= step["total"]
    assert done["driver_requests"]["lists"] >= 0 and set(done["driver_requests"]) == set(storage.REQUEST_KINDS)
