"""A local HTTP server that speaks the parts of GitHub's API the crawler uses (tests only, no network).

- `GET /search/repositories`: `q` with `created:A..B`, `fork:true`, `stars:>=N`; sort by stars; pages of
  `per_page`, `Link` header with next/last; at most 1,000 results served per query (past that: 422, as
  GitHub answers), while `total_count` says the true number.
- `POST /graphql`: `nodes(ids:)` with `defaultBranchRef { name target { oid } }`.
- `GET /repos/{owner}/{repo}/tarball/{ref}`: 302 to `/archive/...` on another host name (localhost vs
  127.0.0.1), which serves a tar.gz built from the repository's files under `owner-repo-sha7/`.
- Primary rate limit: `limit` requests per window, then `X-RateLimit-Remaining: 0` and a reset
  `reset_s` ahead; a request before the reset gets 403 (counted in `hammered`).
- Scripted faults: `faults[n] = (status, headers)` answers the n-th API request with that status;
  `timeouts` holds search request numbers answered one item short with `incomplete_results: true`.
- 401 without `Authorization: Bearer <token>`; the archive host must never receive the token.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CAP = 1000


@dataclass
class FakeRepo:
    id: int
    full_name: str
    created: int  # epoch seconds
    stars: int = 0
    forks: int = 0
    fork: bool = False
    license: str | None = "MIT"
    language: str | None = "Python"
    files: dict[str, str] = field(default_factory=dict)

    @property
    def sha(self) -> str:
        return hashlib.sha1(f"{self.full_name}:{self.id}".encode()).hexdigest()

    @property
    def node_id(self) -> str:
        return f"R_{self.id}"

    def item(self, base: str) -> dict[str, Any]:
        iso = datetime.fromtimestamp(self.created, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"id": self.id, "node_id": self.node_id, "full_name": self.full_name, "html_url": f"https://github.com/{self.full_name}",
                "fork": self.fork, "stargazers_count": self.stars, "forks_count": self.forks,
                "license": {"spdx_id": self.license} if self.license else None, "language": self.language, "created_at": iso,
                "pushed_at": iso, "default_branch": "main", "size": 1}


def _epoch(s: str) -> int:
    if "T" not in s:
        s += "T00:00:00Z"
    return int(datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())


class FakeGitHub:
    def __init__(self, repos: list[FakeRepo], token: str = "test-token", limit: int | None = None, reset_s: float = 1.0) -> None:
        self.repos = {r.full_name: r for r in repos}
        self.by_node = {r.node_id: r for r in repos}
        self.token = token
        self.limit, self.reset_s = limit, reset_s
        self.faults: dict[int, tuple[int, dict[str, str]]] = {}
        self.cut: set[str] = set()  # repositories whose next archive response stops half way
        self.timeouts: set[int] = set()  # search requests (by number) that time out: a page short, incomplete_results
        self.api_requests = 0
        self.search_requests = 0
        self.hammered = 0  # requests sent while the primary limit was exhausted
        self.archive_auth = 0  # archive requests that carried a token (must stay 0)
        # A careless or hostile server: every error answer echoes the request (line, headers, body) in its
        # message, in a header and, with echo="text", as a plain-text body; GraphQL errors echo it too.
        self.echo: str | None = None  # None | "json" | "text"
        self.archives = 0
        self._window_used = 0
        self._reset_at = 0.0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeGitHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ----------------------------------------------------------------------------------- search
    def search(self, q: str) -> list[FakeRepo]:
        created = re.search(r"created:(\S+)\.\.(\S+)", q)
        lo, hi = (_epoch(created.group(1)), _epoch(created.group(2))) if created else (0, 2**40)
        stars = re.search(r"stars:>=(\d+)", q)
        min_stars = int(stars.group(1)) if stars else 0
        forks_too = "fork:true" in q
        found = [r for r in self.repos.values() if lo <= r.created <= hi and r.stars >= min_stars and (forks_too or not r.fork)]
        return sorted(found, key=lambda r: (-r.stars, r.id))

    def tarball(self, repo: FakeRepo) -> bytes:
        top = f"{repo.full_name.replace('/', '-')}-{repo.sha[:7]}"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"comment": repo.sha}) as tar:
            d = tarfile.TarInfo(top)
            d.type = tarfile.DIRTYPE
            tar.addfile(d)
            for path, text in sorted(repo.files.items()):
                data = text.encode()
                info = tarfile.TarInfo(f"{top}/{path}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return gzip.compress(buf.getvalue(), mtime=0)

    # ---------------------------------------------------------------------------------- handler
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gh = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
                if gh.echo and status >= 400:
                    # The credential first: whatever the client cuts its messages to, the echo reaches it.
                    request = f"Authorization: {self.headers.get('Authorization')}; {self.command} {self.path} {dict(self.headers.items())}"
                    headers = {**(headers or {}), "X-Echo": self.headers.get("Authorization", "")}
                    if gh.echo == "text":
                        self._send(status, f"error; request was {request}\n{self.headers}".encode(), headers)
                        return
                    data = {**data, "message": f"{data.get('message', '')}; request was {request}", "request": request}
                self._send(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})

            def _gate(self) -> dict[str, str] | None:
                """Auth, scripted faults and the primary limit; returns rate headers or None if answered."""
                with gh.lock:
                    gh.api_requests += 1
                    n = gh.api_requests
                    fault = gh.faults.pop(n, None)
                    now = time.time()
                    if gh.limit is not None and now >= gh._reset_at and gh._window_used >= gh.limit:
                        gh._window_used = 0  # a new window
                    exhausted = gh.limit is not None and gh._window_used >= gh.limit and now < gh._reset_at
                    if exhausted:
                        gh.hammered += 1
                    elif gh.limit is not None:
                        gh._window_used += 1
                        if gh._window_used == 1:
                            gh._reset_at = now + gh.reset_s
                    remaining = (gh.limit - gh._window_used) if gh.limit is not None else 5000
                    rate = {"X-RateLimit-Limit": str(gh.limit or 5000), "X-RateLimit-Remaining": str(max(0, remaining)),
                            "X-RateLimit-Reset": str(int(gh._reset_at) + (1 if gh._reset_at % 1 else 0))}
                if self.headers.get("Authorization") != f"Bearer {gh.token}":
                    self._json(401, {"message": "Bad credentials"})
                    return None
                if exhausted:
                    self._json(403, {"message": "API rate limit exceeded"}, rate)
                    return None
                if fault is not None:
                    status, headers = fault
                    self._json(status, {"message": "scripted fault"}, headers)
                    return None
                return rate

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = urllib.parse.urlsplit(self.path)
                if url.path.startswith("/archive/"):
                    with gh.lock:
                        gh.archives += 1
                        if self.headers.get("Authorization"):
                            gh.archive_auth += 1
                    owner, name, sha = url.path.removeprefix("/archive/").removesuffix(".tar.gz").split("/")
                    repo = gh.repos.get(f"{owner}/{name}")
                    if repo is None or repo.sha != sha:
                        self._send(404)
                        return
                    body = gh.tarball(repo)
                    if repo.full_name in gh.cut:
                        gh.cut.discard(repo.full_name)
                        # Announce the whole body, send half of it, close: the client sees IncompleteRead.
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body[: len(body) // 2])
                        self.close_connection = True
                        return
                    self._send(200, body, {"Content-Type": "application/x-gzip"})
                    return
                rate = self._gate()
                if rate is None:
                    return
                if url.path == "/search/repositories":
                    with gh.lock:
                        gh.search_requests += 1
                        timed_out = gh.search_requests in gh.timeouts
                    params = dict(urllib.parse.parse_qsl(url.query))
                    per_page, page = int(params.get("per_page", 30)), int(params.get("page", 1))
                    found = gh.search(params["q"])
                    if (page - 1) * per_page >= CAP:
                        self._json(422, {"message": "Only the first 1000 search results are available"}, rate)
                        return
                    served = found[:CAP]
                    items = served[(page - 1) * per_page : page * per_page]
                    last = max(1, -(-len(served) // per_page))
                    links = []
                    base = f"{gh.api_url}/search/repositories?"
                    if page < last:
                        links.append(f'<{base}{urllib.parse.urlencode({**params, "page": page + 1})}>; rel="next"')
                        links.append(f'<{base}{urllib.parse.urlencode({**params, "page": last})}>; rel="last"')
                    headers = {**rate, **({"Link": ", ".join(links)} if links else {})}
                    items = items[:-1] if timed_out else items
                    self._json(200, {"total_count": len(found), "incomplete_results": timed_out, "items": [r.item(gh.api_url) for r in items]}, headers)
                    return
                m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/tarball/([^/]+)", url.path)
                if m:
                    repo = gh.repos.get(f"{m.group(1)}/{m.group(2)}")
                    if repo is None:
                        self._json(404, {"message": "Not Found"}, rate)
                        return
                    # Another host name for the same server: the client must not send it the token.
                    self._send(302, b"", {**rate, "Location": f"http://localhost:{gh.port}/archive/{repo.full_name}/{repo.sha}.tar.gz"})
                    return
                self._json(404, {"message": "Not Found"}, rate)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                rate = self._gate()
                if rate is None:
                    return
                if urllib.parse.urlsplit(self.path).path != "/graphql":
                    self._json(404, {"message": "Not Found"}, rate)
                    return
                if gh.echo == "graphql":
                    self._json(200, {"data": None, "errors": [{"message": f"echo {dict(self.headers.items())}"}]}, rate)
                    return
                ids = json.loads(body)["variables"]["ids"]
                nodes = []
                for i in ids:
                    r = gh.by_node.get(i)
                    # A repository without files has no commit: GitHub's defaultBranchRef is null.
                    ref = {"name": "main", "target": {"oid": r.sha}} if r and r.files else None
                    nodes.append({"id": i, "defaultBranchRef": ref} if r else None)
                self._json(200, {"data": {"nodes": nodes}}, rate)

        return Handler
