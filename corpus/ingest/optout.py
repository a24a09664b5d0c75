"""The opt-out list: repositories and web hosts whose owners asked to be left out, honoured at ingest.

One entry per line (`#` starts a comment): a repository name as the `repo` column shows it (`owner/name`,
`pypi/numpy`, a local folder's name), `owner/*` for every repository of an owner, or a web host
(`example.com`, which also covers its subdomains; a URL is reduced to its host). Matching ignores case, as
GitHub does. The list is read through the storage layer (a local path or any object-store URI).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from corpus import storage


@dataclass(frozen=True)
class OptOut:
    repos: frozenset[str]
    owners: frozenset[str]
    hosts: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> OptOut:
        repos, owners, hosts = set(), set(), set()
        for raw in text.splitlines():
            entry = raw.split("#", 1)[0].strip().lower()
            if not entry:
                continue
            if "://" in entry:
                hosts.add(_host(entry))
            elif entry.endswith("/*"):
                owners.add(entry[:-2])
            elif "/" in entry:
                repos.add(entry.rstrip("/"))
            elif "." in entry:
                hosts.add(entry)
            else:
                repos.add(entry)  # a one-part repository name (a local folder)
        return cls(frozenset(repos), frozenset(owners), frozenset(hosts - {""}))

    @classmethod
    def load(cls, uri: str) -> OptOut:
        return cls.parse(storage.read_bytes(uri).decode("utf-8", "replace"))

    def __len__(self) -> int:
        return len(self.repos) + len(self.owners) + len(self.hosts)

    def repo_entry(self, repo: str | None) -> str | None:
        """The entry that opts a repository out, or None."""
        if not repo:
            return None
        name = repo.lower()
        if name in self.repos:
            return name
        owner = name.split("/", 1)[0]
        return f"{owner}/*" if "/" in name and owner in self.owners else None

    def host_entry(self, url: str) -> str | None:
        """The entry that opts a web page out (its host or a parent domain of it), or None."""
        host = _host(url)
        while host:
            if host in self.hosts:
                return host
            host = host.partition(".")[2] if "." in host else ""
        return None

    @staticmethod
    def _host_of(url: str) -> str:
        return _host(url)

    def entry(self, repo: str | None, path: str) -> str | None:
        return self.repo_entry(repo) if repo else self.host_entry(path)


def _host(url: str) -> str:
    try:
        host = urllib.parse.urlsplit(url if "://" in url else "http://" + url).hostname or ""
    except ValueError:
        return ""
    return host.lower().removeprefix("www.")
