"""kind: github through the engine: discovery in planning, tarball download in tasks, metadata in meta,
per-part resume, and the token kept out of every output. Against tests/github_server.py only."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timezone

import pytest

from corpus import storage
from corpus.engine.executor import Executor
from corpus.engine.parts import commit_uri, part_uri
from corpus.ingest.kinds import make_input
from corpus.stages.ingest import IngestConfig, IngestStage
from tests.github_server import FakeGitHub, FakeRepo

TOKEN = "ghp_secret-test-token-0123456789"
T0 = int(datetime(2021, 3, 1, tzinfo=timezone.utc).timestamp())
FILES = {"README.md": "# lib\n\nA library.\n", "src/lib.py": "def f(x):\n    return x + 1\n", "src/data.bin": "a\0b"}


def _repos() -> list[FakeRepo]:
    return [
        FakeRepo(1, "alice/lib", T0, stars=120, forks=30, files=FILES, license="Apache-2.0"),
        FakeRepo(2, "bob/lib", T0 + 3600, stars=2, forks=0, fork=True, files=FILES),
        FakeRepo(3, "carol/tool", T0 + 7200, stars=9, forks=1, files={"main.go": "package main\n\nfunc main() {}\n"}, language="Go"),
        FakeRepo(4, "dave/empty", T0 + 9000, stars=0, files={}),
        FakeRepo(5, "erin/web", T0 + 10000, stars=50, forks=4, files={"index.js": "console.log(1)\n"}, license=None, language="JavaScript"),
    ]


def _stage(server: FakeGitHub, **kw) -> IngestStage:
    spec = make_input(name="github", kind="github", domain="code", api_url=server.api_url, token_env="CORPUS_GH_TEST_TOKEN",
                     query="", created_after=date(2021, 1, 1), created_before=date(2021, 6, 1), include_forks=True,
                     repos_per_part=2, **kw)
    stage = IngestStage(IngestConfig(inputs=[spec], allow_empty=True))
    stage.github_client_kwargs = {"backoff_s": 0.01}
    return stage


def _docs(out: str) -> list[dict]:
    done = storage.read_json(storage.join(out, "ingest", "_SUCCESS.json"))
    return [r for p in done["parts"] for r in storage.read_table(storage.join(out, "ingest", p)).to_pylist()]


def _drops(out: str) -> list[dict]:
    done = storage.read_json(storage.join(out, "ingest", "_SUCCESS.json"))
    return [r for p in done["parts"] for r in storage.read_table(storage.join(out, "ingest", "_dropped", p)).to_pylist()]


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("CORPUS_GH_TEST_TOKEN", TOKEN)


def test_github_input_discovers_downloads_and_carries_metadata(tmp_path, token):
    out = str(tmp_path / "out")
    with FakeGitHub(_repos(), token=TOKEN) as server:
        results = Executor(out, seed=1).run([_stage(server)])
        assert server.archives == 4 and server.archive_auth == 0  # the archive host never saw the token
    docs = _docs(out)
    by_key = {(d["repo"], d["path"]): d for d in docs}
    # Top-level folder owner-repo-sha7/ stripped; binaries dropped as everywhere else.
    assert set(by_key) == {("alice/lib", "README.md"), ("alice/lib", "src/lib.py"), ("bob/lib", "README.md"), ("bob/lib", "src/lib.py"),
                           ("carol/tool", "main.go"), ("erin/web", "index.js")}
    meta = json.loads(by_key[("alice/lib", "src/lib.py")]["meta"])["github"]
    alice = _repos()[0]
    assert meta == {"full_name": "alice/lib", "id": 1, "html_url": "https://github.com/alice/lib", "fork": False, "stars": 120, "forks": 30,
                    "license": "Apache-2.0", "language": "Python", "created_at": "2021-03-01T00:00:00Z", "pushed_at": "2021-03-01T00:00:00Z",
                    "default_branch": "main", "commit_sha": alice.sha}
    assert json.loads(by_key[("erin/web", "index.js")]["meta"])["github"]["license"] is None
    reasons = sorted((d["repo"], d["reason"]) for d in _drops(out))
    assert reasons == [("alice/lib", "binary"), ("bob/lib", "binary"), ("dave/empty", "empty_repository")]
    assert results["ingest"].kept == 6
    listing = storage.read_table(storage.join(out, "github", "repos.parquet"))
    assert listing.column("full_name").to_pylist() == ["alice/lib", "bob/lib", "carol/tool", "dave/empty", "erin/web"]
    # Three parts of two repositories each (one row group of repos.parquet per part).
    assert len(storage.read_json(storage.join(out, "ingest", "_SUCCESS.json"))["parts"]) == 3
    # The token is in no file of the output.
    for root, _dirs, files in os.walk(out):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                assert TOKEN.encode() not in f.read(), name


def test_resume_reuses_the_listing_and_committed_parts(tmp_path, token):
    out = str(tmp_path / "out")
    with FakeGitHub(_repos(), token=TOKEN) as server:
        Executor(out, seed=1).run([_stage(server)])
        first = _docs(out)
        server.api_requests = server.archives = server.search_requests = 0
        # A part lost (its commit record gone) is the only one downloaded again; the listing is reused.
        storage.remove(commit_uri(part_uri(storage.join(out, "ingest"), 1)))
        storage.remove(storage.join(out, "ingest", "_SUCCESS.json"))
        Executor(out, seed=1, resume=True).run([_stage(server)])
        assert server.archives == 1  # part 1 = carol/tool + dave/empty (empty: no archive request)
        assert server.search_requests == 0
        assert _docs(out) == first


def test_an_archive_cut_short_is_downloaded_again(tmp_path, token):
    out = str(tmp_path / "out")
    with FakeGitHub(_repos(), token=TOKEN) as server:
        server.cut = {"alice/lib"}
        Executor(out, seed=1).run([_stage(server)])
        assert server.archives == 5  # alice's twice
    assert {d["path"] for d in _docs(out) if d["repo"] == "alice/lib"} == {"README.md", "src/lib.py"}
    assert not [d for d in _drops(out) if d["reason"] in ("corrupt_archive", "download_failed")]


def test_a_repository_gone_since_discovery_is_a_drop(tmp_path, token):
    out = str(tmp_path / "out")
    with FakeGitHub(_repos(), token=TOKEN) as server:
        stage = _stage(server)
        stage.bind_output(out, False)
        stage.plan()  # discovery
        del server.repos["carol/tool"]
        Executor(out, seed=1, resume=True).run([stage])
    drops = [d for d in _drops(out) if d["reason"] == "download_failed"]
    assert [d["repo"] for d in drops] == ["carol/tool"] and "404" in drops[0]["detail"]


def test_missing_token_fails_before_any_work(tmp_path, monkeypatch):
    monkeypatch.delenv("CORPUS_GH_TEST_TOKEN", raising=False)
    from corpus.errors import PreflightError

    with FakeGitHub(_repos(), token=TOKEN) as server:
        with pytest.raises(PreflightError, match="CORPUS_GH_TEST_TOKEN"):
            _stage(server).preflight()
        assert server.api_requests == 0


def test_license_allow_list_and_archive_host(tmp_path, token):
    out = str(tmp_path / "out")
    with FakeGitHub(_repos(), token=TOKEN) as server:
        archive = f"http://localhost:{server.port}/archive/{{full_name}}/{{sha}}.tar.gz"
        stage = _stage(server, licenses=["MIT", "Apache-2.0"], archive_url=archive)
        server.api_requests = 0
        Executor(out, seed=1).run([stage])
        # Discovery only: no API request per repository, and the archive host never saw the token.
        assert server.api_requests == 2 and server.archives == 3 and server.archive_auth == 0
    assert {d["repo"] for d in _docs(out)} == {"alice/lib", "bob/lib", "carol/tool"}
    refused = [(d["repo"], d["reason"]) for d in _drops(out) if d["reason"] == "license_not_allowed"]
    assert refused == [("erin/web", "license_not_allowed")]


def test_corpus_run_with_a_github_input_keeps_the_most_starred_copy(tmp_path, token, capfd):
    """The YAML config end to end (ingest -> langid -> dedup_exact): a re-upload created earlier sorts
    first in (part, row) order, the original with more stars survives."""
    from corpus.cli import main

    lib = {"lib.py": "def add(a, b):\n    \"\"\"Add two numbers.\"\"\"\n    return a + b\n" * 5}
    repos = [FakeRepo(1, "zed/lib-copy", T0, stars=3, forks=0, files=lib), FakeRepo(2, "alice/lib", T0 + 86400, stars=900, forks=40, files=lib)]
    with FakeGitHub(repos, token=TOKEN) as server:
        cfg = tmp_path / "gh.yaml"
        cfg.write_text(f"""
seed: 1
run: [ingest, langid, dedup_exact]
inputs:
  - name: github
    kind: github
    api_url: {server.api_url}
    token_env: CORPUS_GH_TEST_TOKEN
    query: "stars:>=1"
    created_after: 2021-01-01
    created_before: 2023-11-01
    repos_per_part: 1
""")
        out = tmp_path / "out"
        assert main(["run", str(cfg), "--output", str(out), "--in-process"]) == 0
    kept = [r for p in sorted((out / "dedup_exact").glob("part-*.parquet")) for r in storage.read_table(str(p)).to_pylist()]
    dropped = [r for p in sorted((out / "dedup_exact" / "_dropped").glob("*.parquet")) for r in storage.read_table(str(p)).to_pylist()]
    assert [r["repo"] for r in kept] == ["alice/lib"]
    assert [(r["repo"], r["reason"]) for r in dropped] == [("zed/lib-copy", "exact_duplicate")]
    captured = capfd.readouterr()
    assert TOKEN not in captured.out + captured.err
