"""GitHub as a source: discover repositories with the search API, then download and read their tarballs.

Discovery (on the driver, see `discover`) lists `GET /search/repositories` for the configured query in
windows of creation time. The search API returns at most 1,000 results per query whatever its
`total_count` says, so a window holding more is split in two halves (recursively, down to one second)
until every window returns all of its results; windows do not overlap (`created:A..B` is inclusive on
both ends and the next window starts at B+1s), and a window is accepted only when the distinct ids it
listed equal its `total_count`, so no repository is missed or listed twice. Each finished window is
written as its own small Parquet file (`OUT/github/_windows/`) and each split as a marker: an
interrupted crawl resumes at the first unfinished window without repeating a request. The commit sha
of each repository's default branch is pinned at discovery (GraphQL `nodes`, 100 repositories per
request), so a retried download task reads the same bytes. `repos.parquet` is then streamed from the
window files in creation order with one row group per download part.

Download (in tasks, `read_repos`): `GET /repos/{owner}/{repo}/tarball/{sha}` answers with a redirect to
the archive; it is streamed to the worker's local disk (bounded by max_archive_bytes), read with the safe
tar reader, and the archive's top-level folder (`owner-repo-sha7/`) is stripped from every path. Every
file record carries its repository's metadata in `meta["github"]` (docs/github.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import pyarrow as pa

from corpus import storage
from corpus.errors import PreflightError
from corpus.ingest.files import Occurrences
from corpus.ingest.github_api import (
    GitHubClient,
    GitHubError,
    graphql_url_for,
    scrub,
    valid_full_name,
)
from corpus.ingest.limits import Limits
from corpus.ingest.repos import read_tarball
from corpus.records import Doc, Drop

log = logging.getLogger("corpus.github")

SEARCH_CAP = 1000  # GitHub search returns at most this many results per query
PER_PAGE = 100
GRAPHQL_BATCH = 100  # GraphQL `nodes` accepts at most 100 ids
REPOS_FILE = "repos.parquet"
MANIFEST = "_discovery.json"
WINDOWS = "_windows"
# A commit sha or a branch name as it may appear in a request path (no "..", "?", "#", "%" or spaces).
SAFE_REF = re.compile(r"(?!.*\.\.)[A-Za-z0-9._/-]{1,255}")
FORMAT = 1  # bump when the window files' content changes

REPO_SCHEMA = pa.schema([
    pa.field("full_name", pa.string(), nullable=False),
    pa.field("id", pa.int64(), nullable=False),
    pa.field("node_id", pa.string()),
    pa.field("html_url", pa.string()),
    pa.field("fork", pa.bool_()),
    pa.field("stars", pa.int64()),
    pa.field("forks", pa.int64()),
    pa.field("license", pa.string()),  # SPDX id; null when GitHub detected none ("NOASSERTION" when unrecognised)
    pa.field("language", pa.string()),
    pa.field("created_at", pa.string()),
    pa.field("pushed_at", pa.string()),
    pa.field("default_branch", pa.string()),
    pa.field("commit_sha", pa.string()),  # head of the default branch at discovery; null for an empty repository
    pa.field("size_kb", pa.int64()),  # GitHub's `size`, in KB
])

# The columns of a repository row that every one of its files carries in meta["github"].
META_FIELDS = ("full_name", "id", "html_url", "fork", "stars", "forks", "license", "language", "created_at", "pushed_at",
               "default_branch", "commit_sha")


@dataclass(frozen=True)
class GitHubQuery:
    """What discovery lists: its identity decides whether saved windows may be reused."""

    api_url: str
    query: str
    created_after: date
    created_before: date  # exclusive: the recipe's "created before November 2023"
    include_forks: bool
    resolve_sha: bool = True

    def identity(self) -> dict[str, Any]:
        return {"format": FORMAT, "api_url": self.api_url.rstrip("/"), "query": self.query, "created_after": self.created_after.isoformat(),
                "created_before": self.created_before.isoformat(), "include_forks": self.include_forks, "resolve_sha": self.resolve_sha}

    def span(self) -> tuple[int, int]:
        """The creation range as inclusive epoch seconds."""
        lo = int(datetime(self.created_after.year, self.created_after.month, self.created_after.day, tzinfo=timezone.utc).timestamp())
        hi = int(datetime(self.created_before.year, self.created_before.month, self.created_before.day, tzinfo=timezone.utc).timestamp()) - 1
        return lo, hi

    def q(self, lo: int, hi: int) -> str:
        forks = " fork:true" if self.include_forks else ""  # search leaves forks out unless asked
        return f"{self.query} created:{_iso(lo)}..{_iso(hi)}{forks}".strip()


@dataclass
class Discovery:
    """Where discovery left its table, and what it cost (the driver's O(1) summary)."""

    repos_uri: str
    repos: int
    row_groups: int
    digest: str  # of (id, commit_sha) of every row: changes when the listing does
    requests: int
    windows: int
    splits: int
    incomplete_windows: int  # one-second windows still over the cap, or short after retries
    seconds: float
    reused: bool


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _window_name(lo: int, hi: int) -> str:
    return f"{lo:011d}-{hi:011d}"


def client_from_env(api_url: str, token_env: str, **kwargs: Any) -> GitHubClient:
    """A client with the token from the environment; a missing token is a clear error, naming the
    variable, never showing a value."""
    token = os.environ.get(token_env)
    if not token:
        raise PreflightError(f"kind github: environment variable {token_env} is not set (a GitHub token is needed: "
                             "the search API allows 10 unauthenticated requests a minute)")
    return GitHubClient(api_url, token, **kwargs)


# ------------------------------------------------------------------------------------ discovery


def repo_row(item: dict[str, Any]) -> dict[str, Any]:
    """A search result as a REPO_SCHEMA row (commit_sha filled in later)."""
    lic = item.get("license") or {}
    return {
        "full_name": item["full_name"], "id": int(item["id"]), "node_id": item.get("node_id"), "html_url": item.get("html_url"),
        "fork": bool(item.get("fork")), "stars": int(item.get("stargazers_count") or 0), "forks": int(item.get("forks_count") or 0),
        "license": lic.get("spdx_id"), "language": item.get("language"), "created_at": item.get("created_at"),
        "pushed_at": item.get("pushed_at"), "default_branch": item.get("default_branch"), "commit_sha": None,
        "size_kb": int(item.get("size") or 0),
    }


def resolve_shas(client: GitHubClient, rows: list[dict[str, Any]], graphql_url: str) -> None:
    """Head commit of each repository's default branch, 100 repositories per GraphQL request."""
    query = "query($ids:[ID!]!){nodes(ids:$ids){... on Repository{id defaultBranchRef{name target{oid}}}}}"
    by_node = {r["node_id"]: r for r in rows if r.get("node_id")}
    ids = sorted(by_node)
    for start in range(0, len(ids), GRAPHQL_BATCH):
        batch = ids[start : start + GRAPHQL_BATCH]
        body = client.post_json(graphql_url, {"query": query, "variables": {"ids": batch}}).json()
        if body.get("data") is None:
            raise GitHubError(f"GraphQL: {scrub(json.dumps(body.get('errors')))[:300]}")
        for node in body["data"].get("nodes") or []:
            if not node or node.get("id") not in by_node:
                continue  # deleted since the search: stays without a sha and is dropped at download
            ref = node.get("defaultBranchRef") or {}
            row = by_node[node["id"]]
            row["commit_sha"] = (ref.get("target") or {}).get("oid")
            # No default branch ref: an empty repository, nothing to download.
            row["default_branch"] = ref.get("name")


def discover(client: GitHubClient, query: GitHubQuery, folder: str, *, resume: bool, max_repos: int | None,
             repos_per_part: int, retries_per_window: int = 2) -> Discovery:
    """List every repository of the query into `folder/repos.parquet` (see the module docstring)."""
    started = time.time()
    requests_before = client.requests
    manifest_uri = storage.join(folder, MANIFEST)
    identity = {**query.identity(), "max_repos": max_repos, "repos_per_part": repos_per_part}
    manifest = storage.read_json(manifest_uri) if resume and storage.exists(manifest_uri) else None
    repos_uri = storage.join(folder, REPOS_FILE)
    if manifest and manifest.get("identity") == identity and manifest.get("complete") and storage.exists(repos_uri):
        log.info("github: %d repositories reused from %s", manifest["repos"], repos_uri)
        return Discovery(repos_uri, manifest["repos"], manifest["row_groups"], manifest["digest"], 0, manifest["windows"],
                         manifest["splits"], manifest["incomplete_windows"], 0.0, True)
    same_query = manifest is not None and {k: v for k, v in manifest.get("identity", {}).items() if k not in ("max_repos", "repos_per_part")} \
        == query.identity()
    if not (resume and same_query):
        storage.remove(folder, recursive=True)  # another query's (or a fresh run's) windows are not ours
    storage.write_json(manifest_uri, {"identity": identity, "complete": False})
    windows_uri = storage.join(folder, WINDOWS)
    done = set(storage.listdir(windows_uri))  # one listing: O(windows) names
    graphql_url = graphql_url_for(query.api_url)

    finished: list[str] = []  # window files in creation order (names only)
    splits = incomplete = count = 0
    stack = [query.span()]
    while stack and (max_repos is None or count < max_repos):
        lo, hi = stack.pop()
        name = _window_name(lo, hi)
        if f"{name}.split" in done:
            mid = (lo + hi) // 2
            stack += [(mid + 1, hi), (lo, mid)]  # left half first: creation order
            splits += 1
            continue
        if f"{name}.parquet" in done:
            finished.append(f"{name}.parquet")
            count += _rows(storage.join(windows_uri, f"{name}.parquet"))
            continue
        rows, total, short = _list_window(client, query, lo, hi, retries_per_window)
        if (total > SEARCH_CAP or short) and hi > lo:
            storage.write_bytes(storage.join(windows_uri, f"{name}.split"), b"")
            mid = (lo + hi) // 2
            stack += [(mid + 1, hi), (lo, mid)]
            splits += 1
            continue
        if total > len(rows):
            incomplete += 1
            log.warning("github: window %s..%s lists %d of %d repositories (one second over the search cap)", _iso(lo), _iso(hi), len(rows), total)
        if query.resolve_sha and rows:
            resolve_shas(client, rows, graphql_url)
        storage.write_table(storage.join(windows_uri, f"{name}.parquet"), pa.Table.from_pylist(rows, schema=REPO_SCHEMA))
        finished.append(f"{name}.parquet")
        count += len(rows)

    n, groups, digest = _write_repos(repos_uri, [storage.join(windows_uri, f) for f in finished], query.include_forks, max_repos, repos_per_part)
    result = Discovery(repos_uri, n, groups, digest, client.requests - requests_before, len(finished), splits, incomplete,
                       round(time.time() - started, 3), False)
    storage.write_json(manifest_uri, {"identity": identity, "complete": True, "repos": n, "row_groups": groups, "digest": digest,
                                      "windows": len(finished), "splits": splits, "incomplete_windows": incomplete})
    log.info("github: %d repositories in %d windows (%d splits), %d requests, %.1fs", n, len(finished), splits, result.requests, result.seconds)
    return result


def _list_window(client: GitHubClient, query: GitHubQuery, lo: int, hi: int, retries: int) -> tuple[list[dict[str, Any]], int, bool]:
    """Distinct repositories of one window, its total_count, and whether the listing came up short
    (results moved between pages: a re-sort while paging can skip a repository)."""
    for attempt in range(retries + 1):
        total, items, timed_out = _search(client, query, lo, hi)
        if total > SEARCH_CAP and hi > lo:
            return [], total, False
        by_id: dict[int, dict[str, Any]] = {}
        for item in items:
            if query.include_forks or not item.get("fork"):
                by_id.setdefault(int(item["id"]), repo_row(item))
        listed = len({int(i["id"]) for i in items})
        if listed >= min(total, SEARCH_CAP) and not timed_out:
            return sorted(by_id.values(), key=lambda r: (r["created_at"] or "", r["id"])), total, False
        log.info("github: window %s..%s listed %d of %d (attempt %d)", _iso(lo), _iso(hi), listed, total, attempt + 1)
    return sorted(by_id.values(), key=lambda r: (r["created_at"] or "", r["id"])), total, True


def _search(client: GitHubClient, query: GitHubQuery, lo: int, hi: int) -> tuple[int, list[dict[str, Any]], bool]:
    """(total_count, items, timed_out) of one window, following the Link header."""
    params = {"q": query.q(lo, hi), "sort": "stars", "order": "desc", "per_page": PER_PAGE, "page": 1}
    resp = client.get("search/repositories", params)
    first = resp.json()
    total = int(first.get("total_count", 0))
    items = list(first.get("items", []))
    # GitHub sets incomplete_results when the search timed out: the page may lack matches.
    timed_out = bool(first.get("incomplete_results"))
    if total > SEARCH_CAP and hi > lo:
        return total, items, timed_out  # the caller splits: paging through results listed again later is waste
    url, pages = resp.next_url(), 1
    # Never past the cap's last page (GitHub answers 422 there), whatever a Link header says.
    while url is not None and pages < SEARCH_CAP // PER_PAGE:
        resp = client.get(url)
        body = resp.json()
        items += body.get("items", [])
        timed_out = timed_out or bool(body.get("incomplete_results"))
        url, pages = resp.next_url(), pages + 1
    return total, items, timed_out


def _rows(uri: str) -> int:
    pf = storage.parquet_file(uri)
    try:
        return pf.metadata.num_rows
    finally:
        pf.close()


def _write_repos(uri: str, windows: list[str], include_forks: bool, max_repos: int | None, per_group: int) -> tuple[int, int, str]:
    """Stream the window files into one table, one row group per download part (a task reads only
    its own row group); the driver holds at most one window plus one row group of rows."""
    digest = hashlib.sha256()
    n = groups = 0
    pending: list[pa.Table] = []
    pending_rows = 0
    with storage.PartWriter(uri, REPO_SCHEMA, row_group_rows=per_group) as w:

        def flush(final: bool) -> None:
            nonlocal pending, pending_rows, groups
            if not pending:
                return
            table = pa.concat_tables(pending)
            full = (table.num_rows // per_group) * per_group if not final else table.num_rows
            for start in range(0, full, per_group):
                w.write(table.slice(start, min(per_group, full - start)))
                groups += 1
            rest = table.slice(full)
            pending, pending_rows = ([rest] if rest.num_rows else []), rest.num_rows

        for window in windows:
            t = storage.read_table(window)
            if not include_forks:
                t = t.filter(pa.compute.invert(t.column("fork")))
            if max_repos is not None:
                t = t.slice(0, max(0, max_repos - n))
            if not t.num_rows:
                continue
            for rid, sha in zip(t.column("id").to_pylist(), t.column("commit_sha").to_pylist()):
                digest.update(f"{rid}:{sha or ''}\n".encode())
            n += t.num_rows
            pending.append(t)
            pending_rows += t.num_rows
            if pending_rows >= per_group:
                flush(False)
        flush(True)
    return n, groups, digest.hexdigest()[:16]


# ------------------------------------------------------------------------------------- download


def repo_meta(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in META_FIELDS}


def read_repos(client: GitHubClient, repos_uri: str, row_group: int, *, source: str, domain: str, max_bytes: int,
               limits: Limits, licenses: list[str] | None = None, archive_url: str | None = None,
               optout: Any = None) -> Iterator[Doc | Drop]:
    """The files of every repository in one row group of repos.parquet (`optout`: corpus.ingest.optout.OptOut)."""
    pf = storage.parquet_file(repos_uri)
    try:
        rows = pf.read_row_group(row_group).to_pylist()
    finally:
        pf.close()
    for row in rows:
        entry = optout.repo_entry(row["full_name"]) if optout is not None else None
        if entry:
            # Decided from the listing: nothing is downloaded.
            yield Drop("opted_out", str(row["full_name"]), source, str(row["full_name"]), 0,
                       f"github:{row['full_name']}: opted out (list entry {entry!r})")
            continue
        yield from read_repo(client, row, source=source, domain=domain, max_bytes=max_bytes, limits=limits, licenses=licenses,
                             archive_url=archive_url)


def read_repo(client: GitHubClient, row: dict[str, Any], *, source: str, domain: str, max_bytes: int, limits: Limits,
              licenses: list[str] | None = None, archive_url: str | None = None) -> Iterator[Doc | Drop]:
    full = row["full_name"]
    ref = row.get("commit_sha") or row.get("default_branch")
    if not valid_full_name(full) or (ref is not None and not SAFE_REF.fullmatch(str(ref))):
        # Checked before any URL is built from it: a name such as `a/../../user` or `a/b?x=` must not steer a request.
        shown = ascii(full)[:200]
        yield Drop("invalid_repository_name", shown, source, None, 0, f"github:{shown}@{ascii(ref)[:80]}: not an owner/name "
                   "(or a ref) of the characters GitHub allows; nothing requested")
        return
    label = f"github:{full}@{ref}"
    if licenses is not None and row.get("license") not in licenses:
        # Decided from the listing: the archive is never downloaded.
        yield Drop("license_not_allowed", full, source, full, 0, f"{label}: license {row.get('license')} is not in the allow-list")
        return
    if not ref:
        yield Drop("empty_repository", full, source, full, 0, f"{label}: no default branch commit (empty repository)")
        return
    # The API's tarball endpoint costs one core-API request per repository (5,000 an hour per token); an
    # archive host URL (codeload) costs none, and the token never goes there (the client sends it to the API host only).
    path = archive_url.format(full_name=full, sha=ref, owner=full.split("/")[0], repo=full.split("/")[-1]) if archive_url \
        else f"repos/{full}/tarball/{ref}"
    meta = {"github": repo_meta(row)}
    ids = Occurrences()
    with tempfile.NamedTemporaryFile(prefix="corpus-gh-", suffix=".tar.gz") as tmp:
        try:
            client.download(path, tmp, max_bytes=limits.max_archive_bytes)
            tmp.flush()
        except GitHubError as exc:
            if type(exc).__name__ == "GitHubAuthError":
                raise  # a rejected token fails the run, it is not a per-repository drop
            yield Drop("download_failed", full, source, full, 0, f"{label}: {exc}")
            return
        for item in read_tarball(tmp.name, source=source, domain=domain, repo=full, max_bytes=max_bytes, limits=limits):
            old = item.path
            new = _strip_top(old) if old != tmp.name else label
            if isinstance(item, Doc):
                item.path = new
                item.id = ids.id_for(source, full, new)
                item.meta = meta
            else:
                item.path = new
                item.detail = item.detail.replace(tmp.name, label).replace(old, new) if old != tmp.name else item.detail.replace(tmp.name, label)
            yield item


def _strip_top(path: str) -> str:
    """`owner-repo-sha7/src/x.py` -> `src/x.py` (GitHub archives hold one top-level folder)."""
    head, sep, rest = path.partition("/")
    return rest if sep and rest else path
