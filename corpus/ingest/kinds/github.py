"""kind: github — repositories discovered through the GitHub search API, each downloaded as a tarball
(docs/github.md). Discovery runs on the driver and streams its listing to OUT/github/repos.parquet; a
unit is one row group of that table (repos_per_part repositories), a part of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from typing import ClassVar, Literal

from pydantic import Field

from corpus import storage
from corpus.errors import PreflightError
from corpus.ingest import github as gh
from corpus.ingest.kinds.base import InputKind, PlanContext, ReadContext, Unit
from corpus.records import Doc, Drop


class GitHubInput(InputKind):
    kind: Literal["github"]
    api_url: str = Field("https://api.github.com", description="REST API root (Enterprise: https://HOST/api/v3)")
    token_env: str = Field("GITHUB_TOKEN", description="environment variable holding the token (never written anywhere)")
    query: str = Field("", description="search qualifiers, as on github.com (e.g. 'stars:>=10')")
    created_after: date = Field(date(2008, 1, 1), description="first creation day listed")
    created_before: date = Field(date(2023, 11, 1), description="repositories created before this day (the recipe's cutoff)")
    include_forks: bool = Field(False, description="list forks too")
    max_repos: int | None = Field(None, gt=0, description="stop after this many repositories (in creation order)")
    repos_per_part: int = Field(32, gt=0, description="repositories downloaded per ingest part (one task)")
    resolve_sha: bool = Field(True, description="pin each default branch's head commit at discovery (GraphQL)")
    licenses: list[str] | None = Field(None, description="SPDX ids allowed (e.g. [MIT, Apache-2.0]); other repositories "
                                       "are one `license_not_allowed` drop each, not downloaded. None: all")
    archive_url: str | None = Field(None, description="archive URL template instead of the API's tarball endpoint, e.g. "
                                    "https://codeload.github.com/{full_name}/tar.gz/{sha} (no API request per repository; no token sent)")
    unit_is_part: ClassVar[bool] = True

    def plan(self, i: int, ctx: PlanContext) -> list[Unit]:
        """Discovery on the driver (O(repositories) of small rows, streamed to a table); the units are
        row groups of that table, so the driver holds O(parts). Pre-flight only checks the token."""
        client = gh.client_from_env(self.api_url, self.token_env, **ctx.github_client_kwargs)
        if not ctx.discover:
            return [Unit(i, "github", self.api_url, None)]
        if ctx.out_uri is None:
            raise PreflightError(f"input {self.name!r}: kind github needs the run's output location (Executor binds it)")
        query = gh.GitHubQuery(self.api_url, self.query, self.created_after, self.created_before, self.include_forks, self.resolve_sha)
        # OUT/github for the usual name, OUT/github-<name> otherwise: never a stage's folder, which discovery would empty.
        folder = storage.join(ctx.out_uri, "github" if self.name == "github" else f"github-{self.name}")
        found = gh.discover(client, query, folder, resume=ctx.resume, max_repos=self.max_repos, repos_per_part=self.repos_per_part)
        ctx.notes[self.name] = found
        if not found.repos and not ctx.allow_empty:
            raise PreflightError(f"input {self.name!r}: the search {self.query!r} found no repositories created in "
                                 f"[{self.created_after}, {self.created_before})")
        # The digest of the listing is in the unit: another listing gives other part keys.
        return [Unit(i, "github", f"{found.repos_uri}#{g}", f"digest={found.digest}") for g in range(found.row_groups)]

    def unit_bytes(self, unit: Unit) -> int | None:
        return None

    def fingerprint(self, unit: Unit, h) -> int | None:
        return None  # the listing's digest is in the unit itself

    def read(self, unit: Unit, ctx: ReadContext) -> Iterator[Doc | Drop]:
        # The token is read from the worker's environment, never shipped in task arguments. Archives
        # from an archive host (archive_url) need none: workers without the variable still download.
        kwargs = ctx.github_client_kwargs
        client = (gh.GitHubClient(self.api_url, os.environ.get(self.token_env), **kwargs) if self.archive_url
                  else gh.client_from_env(self.api_url, self.token_env, **kwargs))
        repos_uri, _, group = unit.uri.rpartition("#")
        yield from gh.read_repos(client, repos_uri, int(group), max_bytes=ctx.limits.max_file_bytes, limits=ctx.limits,
                                 licenses=self.licenses, archive_url=self.archive_url, optout=ctx.optout,
                                 **self.common())
