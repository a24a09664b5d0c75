"""The run report: OUT/reports/index.html (charts of the whole run) and OUT/reports/summary.json (every
figure the page shows), written at the end of `corpus run` and by `corpus report OUT`."""

from __future__ import annotations

import time
from typing import Any

from corpus import storage
from corpus.layout import HTML_REPORT, REPORTS_DIR

__all__ = ["write_run_report"]


def write_run_report(out_uri: str) -> dict[str, Any]:
    """Build the summary of the run in out_uri, write summary.json and index.html; returns
    {"summary": uri, "html": uri, "seconds": build time}."""
    from corpus.runreport.render import render_report  # deferred: off `corpus --help`
    from corpus.runreport.summary import build_summary, write_summary  # deferred: off `corpus --help`

    started = time.perf_counter()
    out_uri = storage.normalize(out_uri)
    summary = build_summary(out_uri)
    summary_uri = write_summary(out_uri, summary)
    html_uri = storage.join(out_uri, REPORTS_DIR, HTML_REPORT)
    storage.write_text(html_uri, render_report(summary))
    return {"summary": summary_uri, "html": html_uri, "seconds": round(time.perf_counter() - started, 3)}
