"""Download the public benchmark copies from their canonical URLs (`corpus benchmarks fetch --to DIR`).

Every download is checked by loading it with the benchmark's loader; DIR/benchmarks.json records
url, file, bytes, sha256 and item count, and the `--benchmarks` value to pass to `corpus decont`.
The URLs are the projects' own release locations; they could not be reached from the offline machine
this was written on, so tests run the same code against a local HTTP server.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from decont.benchmarks import BenchmarkError, load_benchmark

CANONICAL_URLS: dict[str, str] = {
    "humaneval": "https://github.com/openai/human-eval/raw/master/data/HumanEval.jsonl.gz",
    "mbpp": "https://raw.githubusercontent.com/google-research/google-research/master/mbpp/mbpp.jsonl",
    "gsm8k": "https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data/test.jsonl",
    "math": "https://people.eecs.berkeley.edu/~hendrycks/MATH.tar",
}

# Saved file names: the loaders tell formats apart by extension (.gz, .tar), so keep the URL's suffix.
FILE_NAMES: dict[str, str] = {
    "humaneval": "HumanEval.jsonl.gz",
    "mbpp": "mbpp.jsonl",
    "gsm8k": "gsm8k_test.jsonl",
    "math": "MATH.tar",
}


def _file_name(name: str, url: str) -> str:
    base = os.path.basename(url.split("?", 1)[0]) or name
    default = FILE_NAMES.get(name, base)
    # An override URL may point at another format of the same benchmark (e.g. MATH as JSONL).
    for suffix in (".jsonl.gz", ".jsonl", ".json", ".tar.gz", ".tgz", ".tar"):
        if base.endswith(suffix):
            return default if default.endswith(suffix) else f"{name}{suffix}"
    return default


def _download(url: str, dest: Path, timeout: float) -> tuple[int, str]:
    sha = hashlib.sha256()
    n = 0
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, os.fdopen(fd, "wb") as out:
            while True:
                block = resp.read(1 << 20)
                if not block:
                    break
                sha.update(block)
                out.write(block)
                n += len(block)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return n, sha.hexdigest()


def fetch_benchmarks(
    to_dir: str | Path,
    urls: dict[str, str] | None = None,
    names: list[str] | None = None,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Download benchmarks into to_dir; `urls` overrides the canonical URLs (tests, mirrors).

    Returns the manifest (also written to to_dir/benchmarks.json); failures are listed, not raised.
    """
    dest = Path(to_dir)
    dest.mkdir(parents=True, exist_ok=True)
    table = dict(CANONICAL_URLS)
    table.update(urls or {})
    wanted = names or list(table)
    fetched: dict[str, Any] = {}
    failed: dict[str, str] = {}
    for name in wanted:
        url = table.get(name)
        if not url:
            failed[name] = "no URL known"
            continue
        path = dest / _file_name(name, url)
        try:
            size, sha = _download(url, path, timeout)
        except Exception as exc:
            failed[name] = f"download failed: {type(exc).__name__}: {exc}"
            continue
        try:
            bench = load_benchmark(name, str(path))
        except BenchmarkError as exc:
            failed[name] = f"downloaded but unusable: {exc}"
            continue
        fetched[name] = {"url": url, "file": path.name, "bytes": size, "sha256": sha, "items": len(bench)}
    spec = ",".join(f"{n}={dest / info['file']}" for n, info in fetched.items())
    manifest = {"fetched": fetched, "failed": failed, "benchmarks_spec": spec}
    (dest / "benchmarks.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest

