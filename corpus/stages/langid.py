"""langid: annotate code documents with one of the 338 languages (lang_registry decides).

An annotator only: every row is kept; the filter stage drops unknown, vendored or generated files.
Web pages (no repository) are natural-language text and are not passed to the code detector.
"""

from __future__ import annotations

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from corpus.records import DROP_SCHEMA
from corpus.stage import MapResult, MapStage


class LangIdConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    registry: str | None = None  # a registry file other than the packaged one (see `corpus langs add`)
    # DeepSeek-Coder-V2 counts 185B tokens of "code-related text such as markdown" in its code corpus,
    # yet Markdown is not one of the 338 names. Files the registry leaves unnamed but whose extension
    # is listed here get this language (method `code_related_text`) instead of being dropped as unknown.
    code_related_text: dict[str, str] = Field(
        default_factory=lambda: {".md": "Markdown", ".markdown": "Markdown", ".rst": "reStructuredText", ".adoc": "AsciiDoc"}
    )


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
            language, method = d.language, d.method
            if language is None and not d.binary:
                ext = "." + path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
                if ext in self.config.code_related_text:
                    language, method = self.config.code_related_text[ext], "code_related_text"
            langs.append(language)
            methods.append(method)
            vendored.append(d.vendored)
            generated.append(d.generated)
        out = table
        for name, values in (("language", langs), ("lang_method", methods), ("vendored", vendored), ("generated", generated)):
            idx = out.schema.get_field_index(name)
            out = out.set_column(idx, out.schema.field(idx), pa.array(values, type=out.schema.field(idx).type))
        return MapResult(kept=out, dropped=DROP_SCHEMA.empty_table())
