"""Progress of one map: a live bar on a terminal, a periodic log line everywhere else.

Runners report once per finished task, so following a map costs the driver O(tasks), never
O(documents), plus a heartbeat while no task finishes (RayRunner; see Progress.heartbeat_seconds), so
a map whose one task runs for 20 minutes still logs every interval. How many records a task stood for comes from the caller (`count=` of `Runner.map`):
only it knows what a task's result holds.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

log = logging.getLogger("corpus")

INTERVAL_ENV = "CORPUS_PROGRESS_SECONDS"
MODE_ENV = "CORPUS_PROGRESS_MODE"
MODES = ("bar", "log")
DEFAULT_INTERVAL_S = 30.0
# Bounds of the heartbeat a runner sends while no task finishes (Progress.heartbeat_seconds): at least
# 1 s (no busy wait, even with an interval of 0), at most 30 s (a bar's elapsed time stays live).
MIN_HEARTBEAT_S = 1.0
MAX_HEARTBEAT_S = 30.0


def log_interval() -> float:
    """Seconds between two progress log lines: $CORPUS_PROGRESS_SECONDS, default 30."""
    raw = os.environ.get(INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_INTERVAL_S
    try:
        return max(0.0, float(raw))
    except ValueError:
        log.warning("%s=%r is not a number of seconds; using %.0f", INTERVAL_ENV, raw, DEFAULT_INTERVAL_S)
        return DEFAULT_INTERVAL_S


def env_mode() -> str | None:
    """$CORPUS_PROGRESS_MODE: "bar" or "log", or None (unset, empty or invalid: chosen by the stream)."""
    raw = os.environ.get(MODE_ENV, "").strip()
    if not raw:
        return None
    if raw.lower() in MODES:
        return raw.lower()
    log.warning("%s=%r is neither 'bar' nor 'log'; choosing by whether the output is a terminal", MODE_ENV, raw)
    return None


def format_duration(seconds: float) -> str:
    """3725 -> '1h02m', 185 -> '3m05s', 7.2 -> '7s'."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Progress:
    """Tasks done of `total`, records and records/s, and an ETA for one map.

    mode "bar": a tqdm bar on `stream` (default: stderr when it is a terminal), redrawn at most every
    `interval` seconds (default: tqdm's); mode "log": a line on the "corpus" logger at most every
    `interval` seconds (default: $CORPUS_PROGRESS_SECONDS), because a bar redrawn into a log file or
    CI output is noise. Without `mode`, $CORPUS_PROGRESS_MODE ("bar" or "log") decides, else whether
    `stream` is a terminal. `update(0)` is a heartbeat: a runner sends one every `heartbeat_seconds`
    while no task finishes, so a line is due on time even while one long task runs. `clock` is for
    tests."""

    def __init__(self, total: int, desc: str = "", *, mode: str | None = None, stream: TextIO | None = None,
                 interval: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        stream = stream if stream is not None else sys.stderr
        self.total = total
        self.desc = desc or "tasks"
        self.done = 0
        self.records = 0
        self.mode = mode or env_mode() or ("bar" if _is_terminal(stream) else "log")
        if self.mode not in MODES:
            raise ValueError(f"progress mode must be 'bar' or 'log', not {self.mode!r}")
        self._clock = clock
        self._started = clock()
        self._interval = interval if interval is not None else log_interval() if self.mode == "log" else None
        self._next_log = self._started + (self._interval or 0.0)
        self._logged_done = -1  # `done` at the last log line: the closing line is not a repeat
        self._bar = None
        if self.mode == "bar" and total:
            from tqdm import tqdm

            redraw = {} if self._interval is None else {"mininterval": self._interval}
            self._bar = tqdm(total=total, desc=self.desc, unit="task", leave=False, file=stream, dynamic_ncols=True, **redraw)

    @property
    def heartbeat_seconds(self) -> float:
        """How often a runner waiting on tasks should call `update(0)` when none finishes: the log
        interval (a bar: its redraw interval, else 1 s), kept within [1 s, 30 s]."""
        interval = self._interval if self._interval is not None else MIN_HEARTBEAT_S
        return min(MAX_HEARTBEAT_S, max(MIN_HEARTBEAT_S, interval))

    def update(self, tasks: int = 1, records: int = 0) -> None:
        """`tasks` more finished, standing for `records` more records. `update(0)`: nothing new (a
        heartbeat), but a log line that is due is written and a bar's elapsed time redrawn."""
        self.done += tasks
        self.records += records
        if self._bar is not None:
            if not tasks and not records:
                self._bar.refresh()  # tqdm's update(0) may not redraw: the elapsed time would freeze
                return
            if self.records:
                now = self._clock()
                self._bar.set_postfix_str(f"{self.records:,} records, {self._rate(self.records, now):,.0f} records/s", refresh=False)
            self._bar.update(tasks)
        elif self.mode == "log" and self.total:
            now = self._clock()
            if now >= self._next_log:
                self._log(now)
                self._next_log = now + (self._interval or 0.0)

    def line(self, now: float | None = None) -> str:
        """'langid: 12/40 tasks (30%), 51,200 records (1,706 records/s), elapsed 30s, ETA 1m10s'."""
        now = self._clock() if now is None else now
        elapsed = now - self._started
        parts = [f"{self.desc}: {self.done}/{self.total} tasks ({100 * self.done // max(1, self.total)}%)"]
        if self.records:
            parts.append(f"{self.records:,} records ({self._rate(self.records, now):,.0f} records/s)")
        else:
            parts.append(f"{self._rate(self.done, now):.2f} tasks/s")
        eta = elapsed / self.done * (self.total - self.done) if self.done else None
        parts.append(f"elapsed {format_duration(elapsed)}, ETA {format_duration(eta) if eta is not None else '?'}")
        return ", ".join(parts)

    def _rate(self, n: int, now: float) -> float:
        elapsed = now - self._started
        return n / elapsed if elapsed > 0 else 0.0

    def _log(self, now: float) -> None:
        log.info("progress %s", self.line(now))
        self._logged_done = self.done

    def close(self) -> None:
        """Remove the bar; in log mode, a last line if earlier lines left the map unfinished."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.mode == "log" and 0 <= self._logged_done < self.done:
            self._log(self._clock())

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
