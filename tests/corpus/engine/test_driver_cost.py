"""What the driver does per task and per part, counted, not timed (pipelines/bench_driver.py times it).

A map's function is pickled once per map (bound into the remote Ray exports), not once per task as
an argument; --resume checks the parts' commits with 6 requests each (not 9), on an object store in
threads, a chunk at a time, reusing the same parts.
"""

from __future__ import annotations

import operator

import pytest

from corpus import storage
from corpus.engine import executor
from corpus.engine.executor import Executor
from corpus.engine.parts import commit_part, commit_uri, committed, dropped_uri, part_name
from corpus.engine.ray_runner import bound_task
from corpus.layout import SUCCESS
from corpus.records import DROP_SCHEMA, Doc, docs_to_table
from corpus.stats import StageStats
from corpus.storage import join
from pipelines.bench_driver import BenchKeep, BenchSource


class CountsItsPickles:
    """A task function that counts how often the driver pickles it; a worker unpickles it as
    operator.itemgetter(0) (importable there: the tests folder is not a package workers can import)."""

    pickled = 0

    def __reduce__(self):
        CountsItsPickles.pickled += 1
        return operator.itemgetter, (0,)


def test_a_map_pickles_its_function_once_not_once_per_task(ray_runner) -> None:
    fn = CountsItsPickles()
    CountsItsPickles.pickled = 0
    out = ray_runner.map(fn, [((f"x{i}", i),) for i in range(30)], desc="driver:pickles")
    assert out == [f"x{i}" for i in range(30)]
    assert 1 <= CountsItsPickles.pickled <= 2  # the export (Ray may size-check it once): not 30
    ray_runner.map(fn, [(("again", 0),)], desc="driver:pickles")  # the same function, same resources: no new export
    assert CountsItsPickles.pickled <= 2


def test_bound_tasks_carry_the_name_of_their_function() -> None:
    task = bound_task(join)
    assert task.__name__ == "join"
    result, cpu, requests = task("a", "b")
    assert result == join("a", "b") and cpu >= 0 and isinstance(requests, dict)


def test_resume_checks_commits_a_chunk_at_a_time_in_part_order(tmp_path, s3_server, monkeypatch) -> None:
    """A driver killed before the map stage's commit, on an object store (where the checks run in
    threads, a chunk at a time): every intact part is reused in its place and only the torn one is
    recomputed, with the same commit as before."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    out = f"s3://{s3_server.bucket}/resume-{tmp_path.name}"
    stages = [BenchSource(7), BenchKeep()]
    Executor(out, seed=1).run(stages)
    stage_uri = storage.join(out, "bench_keep")
    first = storage.read_json(storage.join(stage_uri, SUCCESS))
    parts = [storage.join(stage_uri, part_name(i)) for i in range(7)]
    whole = [storage.read_bytes(p) for p in parts]
    storage.write_bytes(parts[3], whole[3][: len(whole[3]) // 2])  # torn after its commit record
    storage.remove(storage.join(stage_uri, SUCCESS))
    recomputed: list[str] = []
    monkeypatch.setattr(executor, "commit_part", lambda part, *a, **k: recomputed.append(part) or commit_part(part, *a, **k))
    monkeypatch.setattr(executor, "RESUME_CHECK_CHUNK", 2)  # 7 parts: four chunks, the last one short
    again = Executor(out, seed=1, resume=True)
    again.run(stages)
    assert again.ran == ["bench_keep"] and recomputed == [parts[3]]
    assert [storage.read_bytes(p) for p in parts] == whole
    done = storage.read_json(storage.join(stage_uri, SUCCESS))
    assert (done["parts"], done["part_bytes"], done["stats"]) == (first["parts"], first["part_bytes"], first["stats"])


def _committed_part(root: str) -> str:
    part = storage.join(root, "langid", part_name(2))
    storage.write_table(part, docs_to_table([Doc(source="s", domain="code", path=f"f{i}.py", text="x = 1\n") for i in range(5)]))
    storage.write_table(dropped_uri(part), DROP_SCHEMA.empty_table())
    stats = StageStats()
    stats.add_in(5, 30)
    stats.add_kept(5, 30)
    commit_part(part, "key", stats)
    return part


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_commit_check_asks_six_requests_and_refuses_what_is_missing(tmp_path, where, request, monkeypatch) -> None:
    """The record read, then each file's size and footer: no existence question before each (9 before).
    A missing record or file still makes the part one to recompute."""
    root = str(tmp_path)
    if where == "s3":
        server = request.getfixturevalue("s3_server")
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        root = f"s3://{server.bucket}/check-{tmp_path.name}"
    part = _committed_part(root)
    with storage.counting_requests() as requests:
        assert committed(part, "key") is not None
    assert storage.requests_total(requests) == 6, requests
    storage.remove(dropped_uri(part))
    assert committed(part, "key") is None
    storage.remove(commit_uri(part))
    assert committed(part, "key") is None
