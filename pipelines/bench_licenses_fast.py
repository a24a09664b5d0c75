"""ScanCode licence detection as ingest runs it (`RulePrefilter` in front of ScanCode's candidate ranking) against
ScanCode as shipped, on the real licence files of every distribution installed in this venv: CPU-s of each, the
ratio, and every file whose detections differ (must be none). Both run in one process, text by text, in
alternating order, so load and cache effects fall on both alike.

    PYTHONPATH=. .venv/bin/python -m pipelines.bench_licenses_fast [--limit N] [--out bench-licenses-fast.json]
"""

from __future__ import annotations

import argparse
import json
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from corpus.ingest import licenses as lic


def licence_files() -> list[tuple[str, str, str]]:
    """(distribution, path, text cut as ingest cuts it) of each installed distribution's files that ingest could
    take for a licence file: the name (`LICENSE*`, `COPYING*`, `NOTICE*`, ...) or a `licenses/` folder."""
    found, seen = [], set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name or name in seen:
            continue
        seen.add(name)
        for f in dist.files or []:
            rel = str(f)
            if lic.LICENSE_FILE.match(rel.rpartition("/")[2]) or lic.role(rel) == "license_file":
                try:
                    found.append((name, rel, Path(dist.locate_file(f)).read_text(errors="replace")[:lic.MAX_LICENSE_CHARS]))
                except OSError:
                    continue
    return sorted(found)


def bench_licenses_fast(limit: int | None = None) -> dict[str, Any]:
    c0 = time.process_time()
    idx = lic._index()
    load = time.process_time() - c0
    c0 = time.process_time()
    lic.RulePrefilter(idx)
    prefilter_build = time.process_time() - c0
    files = licence_files()
    texts = sorted({t for _, _, t in files if t.strip()})[:limit]
    shipped, fast = {}, {}
    cpu = {"shipped": 0.0, "fast": 0.0}

    def shipped_scan(text: str) -> tuple[str, ...]:
        with lic.without_prefilter():
            return lic.scan(text)

    for i, text in enumerate(texts):
        order = [("shipped", shipped, shipped_scan), ("fast", fast, lic.scan)]
        for name, into, run in order if i % 2 == 0 else order[::-1]:
            c0 = time.process_time()
            into[text] = run(text)
            cpu[name] += time.process_time() - c0
    changed = [{"dist": d, "path": p, "shipped": list(shipped[t]), "fast": list(fast[t]),
                "first_detection_changed": shipped[t][:1] != fast[t][:1]}
               for d, p, t in files if t in shipped and shipped[t] != fast[t]]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    return {"licence_files": len(files), "files": sum(1 for _, _, t in files if t in shipped), "distinct_texts": len(texts), "distinct_mb": round(mb, 3),
            "index_load_cpu_seconds": round(load, 2), "prefilter_build_cpu_seconds": round(prefilter_build, 2),
            "shipped_cpu_seconds": round(cpu["shipped"], 2), "fast_cpu_seconds": round(cpu["fast"], 2),
            "shipped_cpu_seconds_per_mb": round(cpu["shipped"] / mb, 2) if mb else None,
            "fast_cpu_seconds_per_mb": round(cpu["fast"] / mb, 2) if mb else None,
            "ratio": round(cpu["shipped"] / cpu["fast"], 2) if cpu["fast"] else None,
            "files_changed": len(changed), "changed": changed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="only the first N distinct texts (sorted)")
    ap.add_argument("--out", default=None, help="write the JSON report here too")
    args = ap.parse_args()
    report = bench_licenses_fast(args.limit)
    text = json.dumps(report, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
