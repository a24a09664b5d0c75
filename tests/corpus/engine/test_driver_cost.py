"""What the Ray driver does per task must not include re-sending what every task of a map shares.

Counted, not timed: a map's function is pickled once per map (bound into the remote Ray exports),
not once per task as an argument (pipelines/bench_driver.py measures what that cost).
"""

from __future__ import annotations

import operator

from corpus.engine.ray_runner import bound_task
from corpus.storage import join


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
