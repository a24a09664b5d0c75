"""Progress of a map: log lines off a terminal, a bar on one, records counted per task by the caller.

Tests of log lines through a runner set CORPUS_PROGRESS_MODE=log: under `pytest -s` in a terminal,
stderr is one, and the automatic choice would be a bar."""

from __future__ import annotations

import io
import logging

import pytest

from corpus.engine.progress import INTERVAL_ENV, MODE_ENV, Progress, format_duration, log_interval
from corpus.engine.runner import InProcessRunner


class _Clock:
    """A clock that moves only when told to: rates and ETAs become exact numbers."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _progress_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "corpus" and r.getMessage().startswith("progress ")]


def test_log_mode_writes_done_of_total_rate_and_eta(caplog) -> None:
    caplog.set_level(logging.INFO, logger="corpus")
    clock = _Clock()
    with Progress(4, "langid", mode="log", interval=0.0, clock=clock) as progress:
        clock.now += 10
        progress.update(1, 500)
        clock.now += 10
        progress.update(1, 300)
    assert _progress_lines(caplog) == [
        "progress langid: 1/4 tasks (25%), 500 records (50 records/s), elapsed 10s, ETA 30s",
        "progress langid: 2/4 tasks (50%), 800 records (40 records/s), elapsed 20s, ETA 20s",
    ]


def test_log_mode_waits_for_the_interval_and_closes_with_the_final_count(caplog) -> None:
    caplog.set_level(logging.INFO, logger="corpus")
    clock = _Clock()
    with Progress(6, "dedup_near:bands", mode="log", interval=25.0, clock=clock) as progress:
        for _ in range(6):
            clock.now += 10
            progress.update(1)  # no records: the rate is in tasks
    lines = _progress_lines(caplog)
    # Lines at t=30 (first >= 25) and t=60 (>= 30+25); the close does not repeat the t=60 line.
    assert lines == [
        "progress dedup_near:bands: 3/6 tasks (50%), 0.10 tasks/s, elapsed 30s, ETA 30s",
        "progress dedup_near:bands: 6/6 tasks (100%), 0.10 tasks/s, elapsed 1m00s, ETA 0s",
    ]


def test_a_map_shorter_than_the_interval_logs_nothing(caplog) -> None:
    caplog.set_level(logging.INFO, logger="corpus")
    clock = _Clock()
    with Progress(3, "s", mode="log", interval=30.0, clock=clock) as progress:
        clock.now += 40  # past the interval only after the last task
        progress.update(2)
        progress.update(1)
    assert [line.split(":", 1)[1].split(",")[0] for line in _progress_lines(caplog)] == [" 2/3 tasks (66%)", " 3/3 tasks (100%)"]


def test_the_interval_comes_from_the_environment(monkeypatch, caplog) -> None:
    monkeypatch.setenv(INTERVAL_ENV, "0")
    assert log_interval() == 0.0
    monkeypatch.setenv(INTERVAL_ENV, "45.5")
    assert log_interval() == 45.5
    monkeypatch.setenv(INTERVAL_ENV, "soon")
    caplog.set_level(logging.WARNING, logger="corpus")
    assert log_interval() == 30.0 and "is not a number" in caplog.text
    monkeypatch.delenv(INTERVAL_ENV)
    assert log_interval() == 30.0


def test_runner_map_sums_count_over_tasks(monkeypatch, caplog) -> None:
    """`count(result)` of every task adds up: the last line says how many records the map went through."""
    monkeypatch.setenv(INTERVAL_ENV, "0")
    monkeypatch.setenv(MODE_ENV, "log")
    caplog.set_level(logging.INFO, logger="corpus")
    out = InProcessRunner().map(range, [(n,) for n in (3, 0, 7, 5)], desc="s:step", count=len)
    assert [list(r) for r in out] == [list(range(n)) for n in (3, 0, 7, 5)]
    lines = _progress_lines(caplog)
    assert [line.split(",")[0] for line in lines] == [f"progress s:step: {i}/4 tasks ({25 * i}%)" for i in (1, 2, 3, 4)]
    assert [line.split(", ")[1].split(" (")[0] for line in lines] == ["3 records", "3 records", "10 records", "15 records"]


def test_without_count_the_map_reports_tasks(monkeypatch, caplog) -> None:
    monkeypatch.setenv(INTERVAL_ENV, "0")
    monkeypatch.setenv(MODE_ENV, "log")
    caplog.set_level(logging.INFO, logger="corpus")
    assert InProcessRunner().map(abs, [(-1,), (-2,)], desc="plain") == [1, 2]
    lines = _progress_lines(caplog)
    assert len(lines) == 2 and "2/2 tasks" in lines[-1] and "tasks/s" in lines[-1] and "records" not in lines[-1]


def test_bar_mode_on_a_terminal_shows_tasks_and_records(monkeypatch) -> None:
    monkeypatch.delenv(MODE_ENV, raising=False)
    term = _Terminal()
    clock = _Clock()
    with Progress(3, "filter", stream=term, interval=0.0, clock=clock) as progress:
        assert progress.mode == "bar"
        for n in (100, 200, 300):
            clock.now += 2
            progress.update(1, n)
        drawn = term.getvalue()
    assert "filter" in drawn and "3/3" in drawn and "600 records" in drawn and "100 records/s" in drawn


def test_off_a_terminal_there_is_no_bar(monkeypatch) -> None:
    monkeypatch.delenv(MODE_ENV, raising=False)
    plain = io.StringIO()
    with Progress(2, "filter", stream=plain, interval=0.0) as progress:
        assert progress.mode == "log"
        progress.update(2)
    assert plain.getvalue() == ""


def test_an_empty_map_shows_nothing(monkeypatch, caplog) -> None:
    monkeypatch.delenv(MODE_ENV, raising=False)
    caplog.set_level(logging.INFO, logger="corpus")
    term = _Terminal()
    with Progress(0, "empty", stream=term, interval=0.0):
        pass
    with Progress(0, "empty", mode="log", interval=0.0) as progress:
        progress.update(0)
    assert term.getvalue() == "" and _progress_lines(caplog) == []


def test_the_mode_comes_from_the_environment_unless_given(monkeypatch) -> None:
    monkeypatch.setenv(MODE_ENV, "log")
    assert Progress(1, stream=_Terminal()).mode == "log"
    monkeypatch.setenv(MODE_ENV, " BAR ")
    assert Progress(1, stream=io.StringIO(), interval=0.0).mode == "bar"
    assert Progress(1, mode="log", stream=_Terminal()).mode == "log"  # an explicit mode wins


def test_a_bad_mode_in_the_environment_warns_and_chooses_by_the_stream(monkeypatch, caplog) -> None:
    monkeypatch.setenv(MODE_ENV, "fancy")
    caplog.set_level(logging.WARNING, logger="corpus")
    assert Progress(1, stream=io.StringIO()).mode == "log"
    assert Progress(1, stream=_Terminal(), interval=0.0).mode == "bar"
    assert f"{MODE_ENV}='fancy'" in caplog.text


def test_a_heartbeat_logs_when_due_and_keeps_the_eta_right(caplog) -> None:
    """update(0): what a runner sends while no task finishes. A due line says 0 done and no ETA yet;
    heartbeats count no task, so the rate and ETA after the first task are those of tasks alone."""
    caplog.set_level(logging.INFO, logger="corpus")
    clock = _Clock()
    with Progress(2, "long", mode="log", interval=10.0, clock=clock) as progress:
        clock.now += 5
        progress.update(0)  # not due yet
        clock.now += 6
        progress.update(0)
        clock.now += 9
        progress.update(0)  # 9 s after the last line: not due
        clock.now += 10
        progress.update(1)
        clock.now += 10
        progress.update(0)  # the second task is slow: the ETA grows with the elapsed time
    assert _progress_lines(caplog) == [
        "progress long: 0/2 tasks (0%), 0.00 tasks/s, elapsed 11s, ETA ?",
        "progress long: 1/2 tasks (50%), 0.03 tasks/s, elapsed 30s, ETA 30s",
        "progress long: 1/2 tasks (50%), 0.03 tasks/s, elapsed 40s, ETA 40s",
    ]


def test_a_heartbeat_redraws_the_bar(monkeypatch) -> None:
    term = _Terminal()
    with Progress(2, "bar", mode="bar", stream=term) as progress:
        before = len(term.getvalue())
        progress.update(0)
        assert len(term.getvalue()) > before and progress.done == 0


@pytest.mark.parametrize(("interval", "beat"), [(0.0, 1.0), (0.5, 1.0), (7.0, 7.0), (30.0, 30.0), (600.0, 30.0)])
def test_the_heartbeat_is_the_interval_within_bounds(interval: float, beat: float) -> None:
    assert Progress(1, mode="log", interval=interval).heartbeat_seconds == beat


def test_the_in_process_runner_has_no_heartbeat() -> None:
    """Its tasks run in the calling thread: nothing could report while one runs."""
    assert None not in list(InProcessRunner()._run_tasks(abs, [(-1,), (-2,)], [0, 1], num_cpus=1, memory_mb=None,
                                                         heartbeat=0.001))


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError):
        Progress(1, mode="fancy")


@pytest.mark.parametrize(("seconds", "text"), [(7.2, "7s"), (185, "3m05s"), (3725, "1h02m")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_engine_counts_the_records_each_part_read(tmp_path, monkeypatch, caplog) -> None:
    """The engine's `count` reads each part's commit record: the map's records equal the stage's `in`."""
    from corpus.engine.executor import Executor
    from corpus.ingest.kinds import make_input
    from corpus.stages.ingest import IngestConfig, IngestStage

    repos = []
    for r in range(4):  # one part per repository
        repos.append(tmp_path / f"repo{r}")
        repos[-1].mkdir()
        for i in range(10):
            (repos[-1] / f"m{i}.py").write_text(f"def f{i}(x):\n    return x * {i + r}\n")
    spec = make_input(name="r", kind="repos", domain="code", paths=[str(p) for p in repos])
    stage = IngestStage(IngestConfig(inputs=[spec], units_per_part=1))
    monkeypatch.setenv(INTERVAL_ENV, "0")
    monkeypatch.setenv(MODE_ENV, "log")
    caplog.set_level(logging.INFO, logger="corpus")
    stats = Executor(str(tmp_path / "out"), seed=1, runner=InProcessRunner()).run([stage])["ingest"]
    last = [line for line in _progress_lines(caplog) if line.startswith("progress ingest:")][-1]
    parts = len(list((tmp_path / "out" / "ingest").glob("part-*.parquet")))
    assert parts > 1 and stats.in_records == 40
    assert last.startswith(f"progress ingest: {parts}/{parts} tasks (100%), 40 records (")
