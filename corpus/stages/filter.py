"""filter: DeepSeek-Coder's file rules for code, Gopher rules for web text. Drops carry the rule's name."""

from __future__ import annotations

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from corpus.records import drop_rows
from corpus.stage import MapResult, MapStage


class FilterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code_rules: str | None = Field(None, description="a threshold table other than corpus/filters/code_rules.yaml")
    drop_unknown_language: bool = Field(True, description="code files that are none of the 338 languages")
    drop_vendored: bool = True
    drop_generated: bool = True
    web_min_words: int = Field(50, ge=0, description="Gopher minimum word count for web pages")
    web_prose_domains: list[str] = Field(
        default_factory=lambda: ["text"],
        description="web pages of these domains get Gopher's prose rules; recalled code/math pages only the repetition rules",
    )


class FilterStage(MapStage):
    name = "filter"
    config: FilterConfig

    def __init__(self, config: FilterConfig | None = None) -> None:
        super().__init__(config or FilterConfig())
        self._rules = None
        self._web = None

    def content_files(self) -> list[str]:
        return [self.config.code_rules] if self.config.code_rules else []

    def setup(self) -> None:
        from corpus.filters.code_rules import load_rules
        from corpus.filters.web_rules import WebQuality

        self._rules = load_rules(self.config.code_rules)
        self._web = WebQuality(self.config.web_min_words, tuple(self.config.web_prose_domains))

    def reason(self, row: dict) -> str | None:
        from corpus.filters.code_rules import check_code

        cfg = self.config
        if row["repo"] is None:  # a web page
            return self._web.check(row["text"], row["path"], row["domain"])
        if row["language"] is None and cfg.drop_unknown_language:
            return "unknown_language"
        if row["vendored"] and cfg.drop_vendored:
            return "vendored"
        if row["generated"] and cfg.drop_generated:
            return "generated"
        why = check_code(row["text"], row["language"], self._rules)
        # GitHub recall (stage recall, docs/recall.md) may vouch for a file a code rule would drop.
        return None if why and _recalled(row.get("meta")) else why

    def process(self, table: pa.Table) -> MapResult:
        if self._rules is None:
            self.setup()
        rows = table.select(["repo", "path", "domain", "text", "language", "vendored", "generated", "meta"]).to_pylist()
        reasons = [self.reason(r) for r in rows]
        mask = [r is not None for r in reasons]
        kept = table.filter(pa.array([not m for m in mask], type=pa.bool_()))
        details = [f"{_where(r)}: {why}" if why else "" for r, why in zip(rows, reasons)]
        return MapResult(kept=kept, dropped=drop_rows(table, mask, reasons, details))


def _where(row: dict) -> str:
    return f"{row['repo']}/{row['path']}" if row["repo"] else row["path"]


def _recalled(meta: str | None) -> bool:
    import json

    try:
        rec = json.loads(meta).get("recall") if meta else None
    except (TypeError, ValueError, AttributeError):
        return False
    return isinstance(rec, dict) and rec.get("kind") == "github_code"
