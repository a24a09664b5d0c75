"""Domain discovery and seed expansion over page URLs (DeepSeekMath §2.1, DeepSeek-Coder-V2 §2).

Domain rule (the papers'): a domain is the set of pages sharing a base URL; a domain where **over**
`min_share` (10%) of its pages were recalled in the iteration is code- or math-related.

Seed expansion (this project's substitute for the papers' *manual* URL annotation): inside each such
domain, pages are grouped by URL path prefix (`host/a`, `host/a/b`, ... up to `max_depth` segments).
A prefix with at least `min_prefix_pages` pages of which at least `min_prefix_share` were recalled
plays the role of an annotated URL such as `mathoverflow.net/questions`: its pages that were *not*
recalled become new positives of that label for the next iteration. For each page the deepest of its
prefixes that has `min_prefix_pages` pages decides: the most specific evidence wins, so a poorly
recalled section (`host/a/b`) is not swept in by a well recalled parent (`host/a`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


def base_url(url: str) -> str:
    """Lower-cased host without a leading `www.` and without the port; "" when the URL has no host."""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def path_prefixes(url: str, max_depth: int) -> list[str]:
    """`host/a`, `host/a/b`, ... for the first `max_depth` path segments (the last segment of a
    path names the page itself, so it never forms a prefix)."""
    host = base_url(url)
    if not host:
        return []
    try:
        path = urlsplit(url.strip()).path
    except ValueError:
        return []
    segments = [s for s in path.split("/") if s]
    dirs = segments[:-1] if not path.endswith("/") else segments
    return [host + "/" + "/".join(dirs[:d]) for d in range(1, min(max_depth, len(dirs)) + 1)]


@dataclass
class DomainShare:
    domain: str
    pages: int
    recalled: int

    @property
    def share(self) -> float:
        return self.recalled / self.pages if self.pages else 0.0


def domain_shares(urls: Sequence[str], recalled: Sequence[bool]) -> dict[str, DomainShare]:
    out: dict[str, DomainShare] = {}
    for url, hit in zip(urls, recalled, strict=True):
        host = base_url(url)
        if not host:
            continue
        d = out.setdefault(host, DomainShare(host, 0, 0))
        d.pages += 1
        d.recalled += bool(hit)
    return out


def discover_domains(urls: Sequence[str], recalled_mask: Sequence[bool], min_share: float = 0.10, min_pages: int = 1) -> set[str]:
    """Base URLs with more than `min_share` of their pages recalled and at least `min_pages` pages."""
    return {d.domain for d in domain_shares(urls, recalled_mask).values() if d.pages >= min_pages and d.share > min_share}


@dataclass
class Expansion:
    new_positives: list[int]  # indices into urls, pages not recalled that become positives
    prefixes: dict[str, tuple[int, int]]  # qualifying prefix -> (pages, recalled)


def expand_seeds(
    urls: Sequence[str],
    recalled_mask: Sequence[bool],
    domains: set[str],
    min_prefix_share: float = 0.5,
    min_prefix_pages: int = 3,
    max_depth: int = 2,
    exclude: Sequence[bool] | None = None,
) -> Expansion:
    """Uncollected pages under well-recalled URL prefixes of the discovered domains.

    `exclude[i]` true keeps page i out of the new positives (e.g. it is already a positive of
    another label).
    """
    pages: dict[str, int] = defaultdict(int)
    hits: dict[str, int] = defaultdict(int)
    per_url: list[list[str]] = []
    for url, hit in zip(urls, recalled_mask, strict=True):
        prefixes = path_prefixes(url, max_depth) if base_url(url) in domains else []
        per_url.append(prefixes)
        for p in prefixes:
            pages[p] += 1
            hits[p] += bool(hit)
    qualifying = {p for p in pages if pages[p] >= min_prefix_pages and hits[p] / pages[p] >= min_prefix_share}
    new = []
    used: set[str] = set()
    for i, (prefixes, hit) in enumerate(zip(per_url, recalled_mask)):
        deciding = next((p for p in reversed(prefixes) if pages[p] >= min_prefix_pages), None)
        if deciding is None or deciding not in qualifying:
            continue
        used.add(deciding)
        if not hit and not (exclude is not None and exclude[i]):
            new.append(i)
    return Expansion(new, {p: (pages[p], hits[p]) for p in sorted(used)})
