"""A process's peak memory, for the benchmarks."""

from __future__ import annotations

import resource


def peak_rss_mb() -> float:
    """This process's peak RSS in MB. VmHWM, not ru_maxrss where /proc has it: Linux carries ru_maxrss over
    fork and exec, so a spawned bench child would report at least its parent's peak (the bench's parent
    holds ScanCode's ~1.4 GB licence index)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
