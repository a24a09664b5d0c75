"""langid: annotate code documents with one of the 338 languages (lang_registry decides).

An annotator only: every row is kept; the filter stage drops unknown, vendored or generated files.
Web pages (no repository) are natural-language text and are not passed to the code detector.
"""

from __future__ import annotations

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from corpus.records import DROP_SCHEMA
from corpus.stage import MapResult, MapStage


class LangIdConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    registry: str | None = None  # a registry file other than the packaged one (see `corpus langs add`)


class LangIdStage(MapStage):
    name = "langid"
    config: LangIdConfig

    def __init__(self, config: LangIdConfig | None = None) -> None:
        super().__init__(config or LangIdConfig())
        self._registry = None

    def content_files(self) -> list[str]:
        return [self.config.registry] if self.config.registry else []

    def setup(self) -> None:
        from lang_registry import load_registry

        self._registry = load_registry(self.config.registry)

    def process(self, table: pa.Table) -> MapResult:
        from lang_registry import detect

        if self._registry is None:
            self.setup()
        cols = table.to_pydict()
        langs, methods, vendored, generated = [], [], [], []
        for i, path in enumerate(cols["path"]):
            if cols["repo"][i] is None:
                langs.append(cols["language"][i])
                methods.append(cols["lang_method"][i])
                vendored.append(False)
                generated.append(False)
                continue
            d = detect(path, cols["text"][i].encode("utf-8", "surrogatepass"), self._registry)
            langs.append(d.language)
            methods.append(d.method)
            vendored.append(d.vendored)
            generated.append(d.generated)
        out = table
        for name, values in (("language", langs), ("lang_method", methods), ("vendored", vendored), ("generated", generated)):
            idx = out.schema.get_field_index(name)
            out = out.set_column(idx, out.schema.field(idx), pa.array(values, type=out.schema.field(idx).type))
        return MapResult(kept=out, dropped=DROP_SCHEMA.empty_table())
