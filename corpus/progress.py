"""Progress of one map: a live bar on a terminal, a periodic log line everywhere else.

Runners report once per finished task, so following a map costs the driver O(tasks), never
O(documents). How many records a task stood for comes from the caller (`count=` of `Runner.map`):
only it knows what a task's result holds.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any, Callable, TextIO

log = logging.getLogger("corpus")

INTERVAL_ENV = "CORPUS_PROGRESS_SECONDS"
DEFAULT_INTERVAL_S = 30.0


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
    CI output is noise. `clock` is for tests."""

    def __init__(self, total: int, desc: str = "", *, mode: str | None = None, stream: TextIO | None = None,
                 interval: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        stream = stream if stream is not None else sys.stderr
        self.total = total
        self.desc = desc or "tasks"
        self.done = 0
        self.records = 0
        self.mode = mode or ("bar" if _is_terminal(stream) else "log")
        if self.mode not in ("bar", "log"):
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

    def update(self, tasks: int = 1, records: int = 0) -> None:
        """`tasks` more finished, standing for `records` more records."""
        self.done += tasks
        self.records += records
        if self._bar is not None:
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

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
