"""redact: secrets and personal data replaced by typed placeholders, before any hash or token sees them.

Runs after langid and before dedup_exact (so exact and near dedup hash the redacted text, and the
tokenizer never sees a key). Its own map stage rather than a step inside langid: redaction has its own
config and key (changing a rule reruns redaction and what follows, not language detection), its own
counts in `_SUCCESS.json`, and can be left out of a run; the price is one more Parquet round trip of the
text, measured in `make bench` (`redact`).

Every file is kept (a file with a key in it is still code worth training on); `text`/`size` change where
something was replaced and `meta["redacted"]` holds the count by kind (`{"aws_key": 1, "email": 2}`). The
stage's stats carry the totals (`counts`: `files_redacted` and each kind). The rules and the placeholders:
the `redact` package (docs/safety.md).
"""

from __future__ import annotations

import json

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from corpus.engine.stage import MapResult, MapStage
from corpus.records import drop_rows


class RedactConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secrets: bool = Field(True, description="detect-secrets' plugins (AWS, GitHub, Slack, Stripe, private keys, JWT, basic auth, "
                          "keyword, high-entropy strings) with its filters and the look-alike rules")
    pii: bool = Field(True, description="e-mail addresses and public IP addresses")
    domains: list[str] = Field(default_factory=lambda: ["code", "text", "math"], description="document domains redacted")


class RedactStage(MapStage):
    name = "redact"
    version = "1"
    code_modules = ("redact",)  # the rules are in the stage key
    config: RedactConfig

    def __init__(self, config: RedactConfig | None = None) -> None:
        super().__init__(config or RedactConfig())
        self._redactor = None

    def setup(self) -> None:
        from redact import Redactor  # deferred: off `corpus --help`

        self._redactor = Redactor(secrets=self.config.secrets, pii=self.config.pii)

    def process(self, table: pa.Table) -> MapResult:
        if self._redactor is None:
            self.setup()
        texts = table.column("text").to_pylist()
        paths = table.column("path").to_pylist()
        domains = table.column("domain").to_pylist()
        metas = table.column("meta").to_pylist()
        sizes = table.column("size").to_pylist()
        counts: dict[str, int] = {}
        changed = False
        for i, text in enumerate(texts):
            if domains[i] not in self.config.domains:
                continue
            result = self._redactor.redact(text, paths[i])
            if not result.changed:
                continue
            changed = True
            texts[i] = result.text
            sizes[i] = len(result.text.encode("utf-8", "surrogatepass"))
            meta = json.loads(metas[i] or "{}")
            meta["redacted"] = dict(sorted(result.counts.items()))
            metas[i] = json.dumps(meta, sort_keys=True, ensure_ascii=False)
            counts["files_redacted"] = counts.get("files_redacted", 0) + 1
            for kind, n in result.counts.items():
                counts[kind] = counts.get(kind, 0) + n
        out = table
        if changed:
            for name, values in (("text", texts), ("size", sizes), ("meta", metas)):
                idx = out.schema.get_field_index(name)
                out = out.set_column(idx, out.schema.field(idx), pa.array(values, type=out.schema.field(idx).type))
        return MapResult(kept=out, dropped=drop_rows(table, [False] * table.num_rows, [None] * table.num_rows), counts=counts)
