"""Benchmarks' peak memory is the measured process's own, not carried over from the process that started it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.peak_rss import peak_rss_mb


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM needs Linux's /proc")
def test_a_child_reports_its_own_peak_not_its_parents() -> None:
    held = bytearray(300 << 20)  # this process now peaks above 300 MB
    held[::4096] = b"x" * len(held[::4096])  # touched, so resident
    assert peak_rss_mb() > 300
    code = "from pipelines.peak_rss import peak_rss_mb; import resource; " \
           "print(peak_rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    own, carried = map(float, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                             cwd=Path(__file__).resolve().parents[2]).stdout.split())
    assert carried > 300 > 200 > own  # ru_maxrss carries the parent's peak over fork and exec; VmHWM does not
    del held
