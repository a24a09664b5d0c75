"""filter: DeepSeek-Coder's file rules for code, Gopher rules for web text. Drops carry the rule's name
(the reason the stats count) and, in `detail`, the measured value against the threshold."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from corpus.engine.stage import MapResult, MapStage
from corpus.filters import code_rules
from corpus.filters.code_rules import RuleResult
from corpus.per_item import describe, is_environment_error
from corpus.records import drop_rows

FILTER_ERROR = "filter_error"  # a check raised on this file's text (the detail names the cause)


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
    code_modules = ("corpus.filters",)  # the packaged rule table (code_rules.yaml) is part of the key
    # 2: `_dropped/` details carry the measured value against the threshold (`repo/path: max_line_length
    # 1234 > 1000 (Python)`; web pages the Gopher threshold) where 1 wrote `repo/path: reason`. The
    # version is in the fingerprint, so --resume recomputes the stage rather than mix the two formats.
    # 3: code-related text (Markdown, reStructuredText, AsciiDoc, POD) gets prose rules, TeX line rules
    # only on its markup lines (code_rules.yaml `measure`, `prose`).
    version = "3"
    config: FilterConfig

    def __init__(self, config: FilterConfig | None = None) -> None:
        super().__init__(config or FilterConfig())
        self._rules = None
        self._web = None

    def content_files(self) -> list[str]:
        return [self.config.code_rules] if self.config.code_rules else []

    def setup(self) -> None:
        from corpus.filters.web_rules import WebQuality  # deferred: datatrove's word tokenizers (~0.3 s)

        self._rules = code_rules.load_rules(self.config.code_rules)
        self._web = WebQuality(self.config.web_min_words, tuple(self.config.web_prose_domains))

    def gates(self, row: dict) -> Iterator[RuleResult]:
        """The configured checks of a code file that come before the code rules, in that order."""
        cfg = self.config
        if cfg.drop_unknown_language:
            yield RuleResult("unknown_language", "language", row["language"], "!=", None, row["language"] is not None)
        if cfg.drop_vendored:
            yield RuleResult("vendored", "vendored", row["vendored"], "==", False, not row["vendored"])
        if cfg.drop_generated:
            yield RuleResult("generated", "generated", row["generated"], "==", False, not row["generated"])

    def rule_results(self, row: dict) -> list[RuleResult]:
        """Every check of a code file, passed or not, in the order `judge` applies them (`corpus explain`)."""
        if self._rules is None:
            self.setup()
        return list(self.gates(row)) + code_rules.evaluate_code(row["text"], row["language"], self._rules)

    def judge(self, row: dict) -> tuple[str, str] | None:
        """(reason, what was measured against what) of the check that drops the row; None keeps it."""
        if row["repo"] is None:  # a web page
            why = self._web.check(row["text"], row["path"], row["domain"])
            if why is None:
                return None
            limit = self._web.threshold(why)
            return why, f"{why} (threshold {limit})" if limit else why
        for gate in self.gates(row):
            if not gate.passed:
                note = _outside_note(row.get("meta")) if gate.name == "unknown_language" else ""
                return gate.name, gate.describe() + note
        failed = code_rules.first_failure(row["text"], row["language"], self._rules)
        # GitHub recall (stage recall, docs/recall.md) may vouch for a file a code rule would drop.
        if failed is None or _recalled(row.get("meta")):
            return None
        return failed.name, f"{failed.describe()} ({row['language'] or 'default rules'})"

    def _contained_judge(self, row: dict) -> tuple[str, str] | None:
        """judge(row), with an exception the file's text caused (a signal or an HTML parser raising)
        turned into a `filter_error` drop of that file: one file never fails the task."""
        try:
            return self.judge(row)
        except Exception as exc:  # see corpus.per_item
            if is_environment_error(exc):
                raise
            return FILTER_ERROR, describe(exc)

    def reason(self, row: dict) -> str | None:
        verdict = self.judge(row)
        return verdict[0] if verdict else None

    def process(self, table: pa.Table) -> MapResult:
        if self._rules is None:
            self.setup()
        rows = table.select(["repo", "path", "domain", "text", "language", "vendored", "generated", "meta"]).to_pylist()
        verdicts = [self._contained_judge(r) for r in rows]
        mask = [v is not None for v in verdicts]
        kept = table.filter(pa.array([not m for m in mask], type=pa.bool_()))
        reasons = [v[0] if v else None for v in verdicts]
        details = [f"{_where(r)}: {v[1]}" if v else "" for r, v in zip(rows, verdicts)]
        return MapResult(kept=kept, dropped=drop_rows(table, mask, reasons, details))


def _where(row: dict) -> str:
    return f"{row['repo']}/{row['path']}" if row["repo"] else row["path"]


def _outside_note(meta: str | None) -> str:
    """`; Linguist: Go Module (data)` for a file Linguist names outside the 338 (langid's meta), else ''."""
    import json

    try:
        lin = json.loads(meta).get("linguist") if meta else None
    except (TypeError, ValueError, AttributeError):
        return ""
    return f"; Linguist: {lin['language']} ({lin['type']})" if isinstance(lin, dict) and "language" in lin else ""


def _recalled(meta: str | None) -> bool:
    import json

    try:
        rec = json.loads(meta).get("recall") if meta else None
    except (TypeError, ValueError, AttributeError):
        return False
    return isinstance(rec, dict) and rec.get("kind") == "github_code"
