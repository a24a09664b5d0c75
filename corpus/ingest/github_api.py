"""A small GitHub REST/GraphQL client: authentication, rate limits, retries, redirects.

Only the standard library (urllib): the calls are few and simple, and a retry policy written here is
one we can test against a local server. The token is read from the environment by the caller and
lives only in the Authorization header: it is never logged, put in an exception message, or sent to a
host other than the API's own (redirects to another host, such as codeload.github.com, drop it).

Rate limits as GitHub documents them:
- primary: `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset` (epoch seconds): wait until the reset
  before the next request instead of spending requests on 403s;
- secondary: `403` / `429` with `Retry-After` (seconds): wait that long, then retry;
- `5xx` and connection errors: bounded exponential backoff.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

log = logging.getLogger("corpus.github")

LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
USER_AGENT = "coder-corpus"


# Credentials this process holds (the token of every client made here): scrub() removes them from any text
# built from a server's answer, so a server that echoes the request (headers, body) cannot make them leak into
# an exception, a drop detail, a log line or a report.
_CREDENTIALS: set[str] = set()
_AUTH_HEADER = re.compile(r"(?i)(\bauthori[sz]ation\b[\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|token|basic)\s+)?[^\s\"',;}\]]+")
REDACTED = "<REDACTED>"
# GitHub's rules: an owner is 1-39 alphanumerics or single hyphens; a repository name is 1-100 of [A-Za-z0-9._-],
# never "." or "..". Anything else from the API (or a listing) is refused before a URL is built from it.
FULL_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}/(?!\.\.?$)[A-Za-z0-9._-]{1,100}")


def valid_full_name(name: object) -> bool:
    """`owner/name` of the characters GitHub allows (so no `..`, `?`, `#`, `%` or `/` can reach a request path)."""
    return isinstance(name, str) and FULL_NAME.fullmatch(name) is not None


def remember_credential(secret: str | None) -> None:
    if secret:
        _CREDENTIALS.add(secret)


def scrub(text: str) -> str:
    """Text with every known credential (as sent, URL-quoted or base64 inside Basic auth) and the value of any
    echoed Authorization header replaced by <REDACTED>."""
    import base64

    for secret in sorted(_CREDENTIALS, key=len, reverse=True):
        for form in {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}:
            text = text.replace(form, REDACTED)
        for basic in (f"x-access-token:{secret}", f"{secret}:x-oauth-basic", f":{secret}"):
            text = text.replace(base64.b64encode(basic.encode()).decode(), REDACTED)
    return _AUTH_HEADER.sub(lambda m: m.group(1) + REDACTED, text)


class GitHubError(RuntimeError):
    """A request that failed for good (after the retries the policy allows). Its message is scrubbed of
    credentials whoever built it."""

    def __init__(self, message: str = "") -> None:
        super().__init__(scrub(str(message)))


class _ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _CREDENTIALS or "uthori" in str(record.msg):
            record.msg, record.args = scrub(record.getMessage()), None
        return True


log.addFilter(_ScrubFilter())


class GitHubAuthError(GitHubError):
    """401: the token is missing, expired or rejected."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def next_url(self) -> str | None:
        """The `rel="next"` page of a paginated listing (GitHub's Link header), or None."""
        m = LINK_NEXT.search(self.headers.get("link", ""))
        return m.group(1) if m else None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are followed by the client itself, so it decides which host sees the token."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 - urllib's signature
        return None


def graphql_url_for(api_url: str) -> str:
    """GitHub.com: https://api.github.com/graphql; Enterprise: https://HOST/api/v3 -> https://HOST/api/graphql."""
    base = api_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base[: -len("/v3")] + "/graphql"
    return base + "/graphql"


@dataclass
class GitHubClient:
    api_url: str
    token: str | None = field(repr=False)
    timeout_s: float = 60.0
    max_retries: int = 8  # per request, over rate-limit waits, secondary limits and 5xx together
    backoff_s: float = 1.0  # first 5xx backoff; doubles per retry up to max_backoff_s
    max_backoff_s: float = 60.0
    max_wait_s: float = 3700.0  # never sleep longer than a primary-limit window (plus slack) at once
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    requests: int = 0  # requests sent (for the measurements)
    waited_s: float = 0.0  # seconds spent waiting on limits and backoff
    _reset_at: float = field(default=0.0, repr=False)  # primary limit exhausted until this epoch second
    _opener: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        remember_credential(self.token)
        self.api_url = self.api_url.rstrip("/")
        self._opener = urllib.request.build_opener(_NoRedirect)
        self._api_netloc = urllib.parse.urlsplit(self.api_url).netloc

    # ------------------------------------------------------------------------------------- public
    def get(self, url_or_path: str, params: dict[str, Any] | None = None, accept: str = "application/vnd.github+json") -> Response:
        url = self._url(url_or_path, params)
        status, headers, body = self._request("GET", url, None, accept, stream=False)
        return Response(status, headers, body)

    def post_json(self, url: str, payload: dict[str, Any]) -> Response:
        status, headers, body = self._request("POST", url, json.dumps(payload).encode(), "application/json", stream=False)
        return Response(status, headers, body)

    def download(self, path: str, dest: IO[bytes], max_bytes: int) -> int:
        """Stream a (redirected) binary response into dest; stops with GitHubError past max_bytes."""
        return self._request("GET", self._url(path, None), None, "application/vnd.github+json", stream=True, dest=dest, max_bytes=max_bytes)

    # ----------------------------------------------------------------------------------- internals
    def _url(self, url_or_path: str, params: dict[str, Any] | None) -> str:
        url = url_or_path if "://" in url_or_path else self.api_url + "/" + url_or_path.lstrip("/")
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        return url

    def _headers(self, url: str, accept: str, has_body: bool) -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": USER_AGENT, "X-GitHub-Api-Version": "2022-11-28"}
        if has_body:
            headers["Content-Type"] = "application/json"
        # The token goes only to the API host: a redirect to an archive host carries its own signed URL.
        if self.token and urllib.parse.urlsplit(url).netloc == self._api_netloc:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _wait(self, seconds: float, why: str) -> None:
        seconds = max(0.0, min(seconds, self.max_wait_s))
        if seconds:
            log.info("github: waiting %.1fs (%s)", seconds, why)
            self.waited_s += seconds
            self.sleep(seconds)

    def _note_limits(self, headers: dict[str, str]) -> None:
        if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset", "").isdigit():
            self._reset_at = float(headers["x-ratelimit-reset"])

    def _request(self, method: str, url: str, data: bytes | None, accept: str, *, stream: bool,
                 dest: IO[bytes] | None = None, max_bytes: int = 0) -> Any:
        attempt, redirects, backoff = 0, 0, self.backoff_s
        while True:
            if self._reset_at > self.clock():
                # +1s: GitHub's reset is a whole second and clocks differ a little.
                self._wait(self._reset_at - self.clock() + 1, "primary rate limit exhausted, until its reset")
            self._reset_at = 0.0
            req = urllib.request.Request(url, data=data, method=method, headers=self._headers(url, accept, data is not None))
            self.requests += 1
            try:
                resp = self._opener.open(req, timeout=self.timeout_s)
            except urllib.error.HTTPError as exc:
                status, headers = exc.code, {k.lower(): v for k, v in exc.headers.items()}
                body = exc.read()
                exc.close()
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                attempt += 1
                if attempt > self.max_retries:
                    raise GitHubError(f"{method} {_shown(url)}: {type(exc).__name__}: {getattr(exc, 'reason', exc)}") from None
                self._wait(backoff, f"connection error {type(exc).__name__}")
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            else:
                status, headers = resp.status, {k.lower(): v for k, v in resp.headers.items()}
                if 200 <= status < 300:
                    self._note_limits(headers)
                    with resp:
                        if not (stream and dest is not None):
                            return status, headers, resp.read()
                        try:
                            return _copy(resp, dest, max_bytes, url, headers.get("content-length", ""))
                        except (OSError, http.client.HTTPException) as exc:
                            # The connection dropped mid-archive: start the file again (bounded retries).
                            dest.seek(0)
                            dest.truncate()
                            attempt += 1
                            if attempt > self.max_retries:
                                raise GitHubError(f"{method} {_shown(url)}: {type(exc).__name__} while reading the body") from None
                            self._wait(backoff, f"body cut short ({type(exc).__name__})")
                            backoff = min(backoff * 2, self.max_backoff_s)
                            continue
                body = resp.read()
                resp.close()
            self._note_limits(headers)
            if status in (301, 302, 303, 307, 308) and "location" in headers:
                redirects += 1
                if redirects > 5:
                    raise GitHubError(f"{method} {_shown(url)}: more than 5 redirects")
                url = urllib.parse.urljoin(url, headers["location"])
                if status == 303:
                    method, data = "GET", None
                continue
            if status == 401:
                raise GitHubAuthError(f"{method} {_shown(url)}: 401 Unauthorized: the token is missing, expired or rejected")
            retry_after = headers.get("retry-after", "")
            limited = status == 429 or (status == 403 and (retry_after or headers.get("x-ratelimit-remaining") == "0"))
            if limited or status >= 500:
                attempt += 1
                if attempt > self.max_retries:
                    raise GitHubError(f"{method} {_shown(url)}: HTTP {status} after {self.max_retries} retries: {_message(body)}")
                if retry_after.strip().isdigit():
                    self._wait(float(retry_after), f"HTTP {status} Retry-After (secondary rate limit)")
                elif self._reset_at:
                    continue  # the loop head waits until the primary reset
                elif limited:
                    self._wait(60.0 * attempt, f"HTTP {status} rate limited without Retry-After")  # GitHub's advice: at least a minute
                else:
                    self._wait(backoff, f"HTTP {status}")
                    backoff = min(backoff * 2, self.max_backoff_s)
                continue
            raise GitHubError(f"{method} {_shown(url)}: HTTP {status}: {_message(body)}")


def _copy(resp: Any, dest: IO[bytes], max_bytes: int, url: str, content_length: str) -> int:
    total = 0
    while chunk := resp.read(1 << 20):
        total += len(chunk)
        if max_bytes and total > max_bytes:
            raise GitHubError(f"GET {_shown(url)}: archive larger than {max_bytes} bytes")
        dest.write(chunk)
    # http.client's read(n) returns b"" on a connection closed early instead of raising: check the length.
    if content_length.isdigit() and total != int(content_length):
        raise http.client.IncompleteRead(b"", int(content_length) - total)
    return total


def _shown(url: str) -> str:
    """A URL without its query: signed archive URLs carry credentials there."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _message(body: bytes) -> str:
    """The server's error message, scrubbed before it is cut (a cut must not leave half a token behind)."""
    try:
        text = str(json.loads(body).get("message", ""))
    except (ValueError, AttributeError):
        text = body[:65536].decode("utf-8", "replace")
    return scrub(text)[:200]
