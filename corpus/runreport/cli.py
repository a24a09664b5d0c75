"""`corpus report OUT`: (re)write the run report of an existing output folder."""

from __future__ import annotations

import argparse
import sys

from corpus import storage
from corpus.layout import REPORTS_DIR, STATS_REPORT
from corpus.runreport import write_run_report


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write OUT/reports/index.html and summary.json for a finished run",
                       description="Build the run report of an output folder (local or s3://...) from what the run wrote; "
                                   "reads no text column.")
    p.add_argument("output", help="the run's output folder or object-store URI")
    p.set_defaults(func=report_command)


def report_command(args: argparse.Namespace) -> int:
    out = storage.normalize(args.output)
    if not storage.exists(storage.join(out, REPORTS_DIR, STATS_REPORT)):
        print(f"corpus report: {out} has no reports/stats.json (not a finished run)", file=sys.stderr)
        return 2
    written = write_run_report(out)
    print(f"report: {written['html']}\nsummary: {written['summary']}\n({written['seconds']} s)")
    return 0
