"""The runner protocol's submission order: costliest first, results always in input order."""

from __future__ import annotations

import pytest

from corpus.context import RunContext
from corpus.runner import InProcessRunner, largest_first, submission_order


def test_largest_first_is_a_stable_descending_order() -> None:
    assert largest_first([3, 10, -1, 10, 0]) == [1, 3, 0, 4, 2]
    assert largest_first([]) == []


def test_submission_order_must_be_a_permutation() -> None:
    assert submission_order(3, None) == [0, 1, 2]
    assert submission_order(3, [2, 0, 1]) == [2, 0, 1]
    with pytest.raises(ValueError):
        submission_order(3, [0, 0, 1])


def _square(x: int) -> int:
    return x * x


def test_ray_map_with_an_order_returns_results_in_input_order(ray_runner) -> None:
    from corpus.storage import join  # a function the workers can import (test modules are not on their path)

    assert ray_runner.map(join, [("d", str(i)) for i in range(40)], order=largest_first([i % 7 for i in range(40)])) == [join("d", str(i)) for i in range(40)]


class _Recording(InProcessRunner):
    def __init__(self) -> None:
        self.orders: list = []

    def map(self, fn, arg_list, **kw):
        self.orders.append(kw.get("order"))
        return super().map(fn, arg_list, **kw)


def test_context_map_turns_costs_into_a_largest_first_order(tmp_path) -> None:
    for name, size in (("a", 5), ("b", 50), ("c", 20)):
        (tmp_path / name).write_bytes(b"x" * size)
    runner = _Recording()
    ctx = RunContext(str(tmp_path / "out"), stage_name="s", runner=runner)
    uris = [str(tmp_path / n) for n in ("a", "b", "c", "missing")]
    assert ctx.part_sizes(uris) == [5, 50, 20, -1]
    assert ctx.map(_square, [(1,), (2,), (3,), (4,)], costs=ctx.part_sizes(uris)) == [1, 4, 9, 16]
    assert runner.orders == [[1, 2, 0, 3]]


def test_runners_add_up_the_cpu_time_of_tasks_by_desc(ray_runner) -> None:
    """Each task's own CPU time comes back with its result: a per-step CPU profile, also on a cluster."""
    import hashlib

    args = [("sha256", b"pw", bytes([i]), 300_000) for i in range(4)]
    for runner in (ray_runner, InProcessRunner()):
        before = dict(getattr(runner, "cpu_seconds", {}))
        out = runner.map(hashlib.pbkdf2_hmac, args, desc="cpu-test")
        assert out == [hashlib.pbkdf2_hmac(*a) for a in args]
        spent = runner.cpu_seconds["cpu-test"] - before.get("cpu-test", 0.0)
        assert 0.05 < spent < 60, spent


def test_stage_commit_records_its_tasks_cpu(tmp_path) -> None:
    import json

    from corpus.engine import Executor
    from corpus.stages.ingest import IngestConfig, IngestStage, InputSpec

    src = tmp_path / "repo"
    src.mkdir()
    for i in range(300):
        (src / f"m{i}.py").write_text(f"def f{i}(x):\n    return x * {i}\n" * 800)
    stage = IngestStage(IngestConfig(inputs=[InputSpec(name="r", kind="repos", domain="code", paths=[str(src)])]))
    Executor(str(tmp_path / "out"), seed=1, resume=False, runner=InProcessRunner()).run([stage])
    done = json.loads((tmp_path / "out" / "ingest" / "_SUCCESS.json").read_text())
    assert set(done["task_cpu_by_step"]) == {"ingest"} and done["task_cpu_seconds"] == done["task_cpu_by_step"]["ingest"] > 0
