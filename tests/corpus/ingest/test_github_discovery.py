"""GitHub discovery against a local imitation of the API (tests/github_server.py): the 1,000-result cap,
window splitting, rate limits, auth errors, and resume of an interrupted crawl. Nothing reaches the network."""

from __future__ import annotations

import time
from datetime import date, datetime, timezone

import pyarrow.parquet as pq
import pytest

from corpus import storage
from corpus.errors import PreflightError
from corpus.ingest import github as gh
from corpus.ingest.github_api import GitHubAuthError, GitHubClient, GitHubError
from tests.github_server import FakeGitHub, FakeRepo

DAY0 = int(datetime(2020, 1, 1, tzinfo=timezone.utc).timestamp())


def _repos(n: int, start_id: int = 1, span_s: int = 4 * 86400, forks_every: int = 0, base: int = DAY0) -> list[FakeRepo]:
    return [FakeRepo(id=start_id + i, full_name=f"o{(start_id + i) % 7}/r{start_id + i}", created=base + (i * 7919) % span_s,
                     stars=(i * 31) % 500, forks=i % 13, fork=bool(forks_every and i % forks_every == 0),
                     files={"a.py": "x = 1\n"}) for i in range(n)]


def _query(api_url: str, include_forks: bool = False, query: str = "") -> gh.GitHubQuery:
    return gh.GitHubQuery(api_url, query, date(2020, 1, 1), date(2020, 1, 5), include_forks)


def _fast_client(server: FakeGitHub, **kw) -> GitHubClient:
    return GitHubClient(server.api_url, server.token, backoff_s=0.01, **kw)


def test_listing_over_the_cap_is_split_with_no_repository_missed_or_listed_twice(tmp_path):
    inside = _repos(2500, forks_every=10)  # 2,250 originals + 250 forks in one window of four days
    outside = _repos(40, start_id=10_000, base=DAY0 + 5 * 86400)  # created after the cutoff
    with FakeGitHub(inside + outside) as server:
        client = _fast_client(server)
        started = time.time()
        found = gh.discover(client, _query(server.api_url), str(tmp_path / "github"), resume=False, max_repos=None, repos_per_part=64)
        seconds = time.time() - started
    table = storage.read_table(found.repos_uri)
    ids = table.column("id").to_pylist()
    expected = {r.id for r in inside if not r.fork}
    assert len(ids) == len(set(ids)) == found.repos == 2250
    assert set(ids) == expected
    assert found.splits >= 2 and found.incomplete_windows == 0
    # Every window file holds all of its results, at most the cap each.
    for name in storage.listdir(str(tmp_path / "github" / "_windows")):
        if name.endswith(".parquet"):
            assert storage.read_table(str(tmp_path / "github" / "_windows" / name)).num_rows <= gh.SEARCH_CAP
    # Creation order, one row group per download part, shas pinned.
    created = table.column("created_at").to_pylist()
    assert created == sorted(created)
    assert pq.ParquetFile(found.repos_uri).metadata.num_row_groups == found.row_groups == -(-2250 // 64)
    by_id = {r.id: r for r in inside}
    assert all(row["commit_sha"] == by_id[row["id"]].sha for row in table.to_pylist())
    print(f"\ndiscovery: {found.repos} repos, {found.requests} requests ({found.repos / found.requests:.1f} repos/request), "
          f"{found.windows} windows, {found.splits} splits, {seconds:.2f}s ({found.repos / seconds:.0f} repos/s)")


def test_forks_listed_only_when_asked(tmp_path):
    repos = _repos(300, forks_every=3)
    with FakeGitHub(repos) as server:
        found = gh.discover(_fast_client(server), _query(server.api_url, include_forks=True), str(tmp_path / "g"), resume=False,
                            max_repos=None, repos_per_part=50)
    table = storage.read_table(found.repos_uri)
    assert sorted(table.column("id").to_pylist()) == sorted(r.id for r in repos)
    assert sum(table.column("fork").to_pylist()) == 100


def test_max_repos_stops_in_creation_order(tmp_path):
    repos = _repos(1500)
    with FakeGitHub(repos) as server:
        found = gh.discover(_fast_client(server), _query(server.api_url), str(tmp_path / "g"), resume=False, max_repos=700, repos_per_part=100)
    table = storage.read_table(found.repos_uri)
    oldest = sorted(repos, key=lambda r: (r.created, r.id))[:700]
    assert table.num_rows == 700 and set(table.column("id").to_pylist()) == {r.id for r in oldest}


def test_rate_limits_are_waited_out_not_hammered(tmp_path):
    repos = _repos(450, span_s=86400)
    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)
        time.sleep(s)

    with FakeGitHub(repos, limit=4, reset_s=1.0) as server:
        server.faults[2] = (429, {"Retry-After": "1"})  # secondary limit
        server.faults[3] = (502, {})  # transient
        server.faults[6] = (403, {"Retry-After": "1"})
        client = GitHubClient(server.api_url, server.token, backoff_s=0.05, sleep=sleep)
        found = gh.discover(client, _query(server.api_url), str(tmp_path / "g"), resume=False, max_repos=None, repos_per_part=100)
        assert server.hammered == 0  # every exhausted window was waited out, not spent on 403s
    assert found.repos == 450
    assert 1.0 in waits and 0.05 in waits  # Retry-After honoured; 502 backed off
    assert any(w > 1.0 for w in waits)  # a primary-limit reset waited for
    assert client.waited_s == pytest.approx(sum(waits))


def test_persistent_5xx_fails_after_bounded_retries(tmp_path):
    with FakeGitHub(_repos(10)) as server:
        for n in range(1, 10):
            server.faults[n] = (503, {})
        client = GitHubClient(server.api_url, server.token, backoff_s=0.01, max_retries=3)
        with pytest.raises(GitHubError, match="HTTP 503 after 3 retries"):
            gh.discover(client, _query(server.api_url), str(tmp_path / "g"), resume=False, max_repos=None, repos_per_part=10)
        assert server.api_requests == 4


def test_rejected_or_missing_token_is_a_clear_error(tmp_path, monkeypatch):
    with FakeGitHub(_repos(5)) as server:
        client = GitHubClient(server.api_url, "wrong-secret-value")
        with pytest.raises(GitHubAuthError, match="401") as info:
            gh.discover(client, _query(server.api_url), str(tmp_path / "g"), resume=False, max_repos=None, repos_per_part=10)
        assert "wrong-secret-value" not in str(info.value)
    monkeypatch.delenv("CORPUS_TEST_TOKEN", raising=False)
    with pytest.raises(PreflightError, match="CORPUS_TEST_TOKEN is not set"):
        gh.client_from_env("http://127.0.0.1:1", "CORPUS_TEST_TOKEN")


def test_interrupted_crawl_resumes_where_it_stopped(tmp_path):
    repos = _repos(2500)
    folder = str(tmp_path / "github")
    with FakeGitHub(repos) as server:
        full = gh.discover(_fast_client(server), _query(server.api_url), str(tmp_path / "ref"), resume=False, max_repos=None, repos_per_part=64)
        uninterrupted = server.api_requests

        server.api_requests = 0
        server.faults[uninterrupted // 2] = (500, {})  # the crawl dies half way
        with pytest.raises(GitHubError):
            gh.discover(GitHubClient(server.api_url, server.token, max_retries=0), _query(server.api_url), folder, resume=False,
                        max_repos=None, repos_per_part=64)
        first = server.api_requests
        assert not storage.exists(storage.join(folder, gh.REPOS_FILE))

        server.api_requests = 0
        resumed = gh.discover(_fast_client(server), _query(server.api_url), folder, resume=True, max_repos=None, repos_per_part=64)
        second = server.api_requests
        # Finished windows and splits were not asked again: the two runs together cost one run plus at
        # most the window that was being listed (its search pages and GraphQL batches) and the failed request.
        assert first + second <= uninterrupted + 2 * (gh.SEARCH_CAP // gh.PER_PAGE) + 1
        assert second < uninterrupted
        assert resumed.digest == full.digest and resumed.repos == 2500

        server.api_requests = 0
        again = gh.discover(_fast_client(server), _query(server.api_url), folder, resume=True, max_repos=None, repos_per_part=64)
        assert server.api_requests == 0 and again.reused and again.digest == full.digest

        # Another query does not reuse the saved windows.
        other = gh.discover(_fast_client(server), _query(server.api_url, query="stars:>=250"), folder, resume=True, max_repos=None,
                            repos_per_part=64)
        assert other.repos == sum(1 for r in repos if r.stars >= 250)


def test_a_timed_out_search_page_is_listed_again(tmp_path):
    repos = _repos(250, span_s=86400)
    with FakeGitHub(repos) as server:
        server.timeouts = {2}  # the second page comes back one short, flagged incomplete_results
        found = gh.discover(_fast_client(server), _query(server.api_url), str(tmp_path / "g"), resume=False, max_repos=None, repos_per_part=100)
        assert server.search_requests == 6  # 3 pages, then the window again
    assert sorted(storage.read_table(found.repos_uri).column("id").to_pylist()) == sorted(r.id for r in repos)
