"""`corpus run --output s3://...` against a real S3 server gives the same shards as a local run."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from corpus import storage


def _run(output: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus.cli", "run", "--output", output, "--num-cpus", "2"],
                          capture_output=True, text=True, env=env, timeout=1800)


def _shard_digests(root: str) -> dict[str, str]:
    manifest = storage.read_json(storage.join(root, "shards", "manifest.json"))
    names = sorted({n for n in storage.listdir(storage.join(root, "shards")) if n.endswith(".parquet")})
    assert names, "no shard files"
    digests = {n: hashlib.sha256(storage.read_bytes(storage.join(root, "shards", n))).hexdigest() for n in names}
    digests["manifest.json"] = hashlib.sha256(storage.read_bytes(storage.join(root, "shards", "manifest.json"))).hexdigest()
    assert manifest["totals"]["tokens"] > 0
    return digests


def test_default_pipeline_on_s3_matches_local(s3_server, tmp_path, monkeypatch) -> None:
    env = {**os.environ, **s3_server.env()}
    local = str(tmp_path / "local")
    remote = f"s3://{s3_server.bucket}/default-run"
    done_local = _run(local, env)
    assert done_local.returncode == 0, done_local.stderr[-3000:]
    done_remote = _run(remote, env)
    assert done_remote.returncode == 0, done_remote.stderr[-3000:]
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    storage.configure(None)
    assert _shard_digests(remote) == _shard_digests(local)
    # Nothing was written to a local folder named after the URI (the old `./s3:/bucket/run` bug).
    assert not os.path.exists("s3:")
    # Every stage committed on the object store, and its scratch is gone.
    for stage in ("ingest", "dedup_near", "shards"):
        assert storage.exists(storage.join(remote, stage, "_SUCCESS.json")), stage
    assert storage.find(storage.join(remote, "_tmp")) == []
    # The run report and the dataset card were written on the object store too, with the same figures.
    assert "WARNING the run report failed" not in done_remote.stderr
    figures = [storage.read_json(storage.join(out, "reports", "summary.json")) for out in (remote, local)]
    for f in figures:
        f.pop("output"), f.pop("run"), f.pop("build_seconds")
        for st in f["stages"]:
            st.pop("seconds"), st.pop("task_cpu_seconds")
    assert figures[0] == figures[1]
    assert storage.exists(storage.join(remote, "reports", "index.html")) and storage.exists(storage.join(remote, "README.md"))
    storage.configure(None)
