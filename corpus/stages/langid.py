"""langid: annotate code documents with one of the 338 languages (lang_registry decides).

Every row is kept except notebooks that do not parse (reason `notebook_unparsable`) and files whose
detection raised (`langid_error`, the detail naming the file and the cause); the filter stage
drops unknown, vendored or generated files. Web pages (no repository) are natural-language text and are
not passed to the code detector.

Two things beyond the 338 names:
- code-related data and text (YAML, TOML, INI, Markdown, reST, ...; table `code_related` of the
  registry, facts from Linguist) get their own name when none of the 338 claims the file, method
  `code_related_data` or `code_related_text`, so DeepSeek's JSON/YAML size rule can run on them;
- a file Linguist names outside the 338 and the code-related table (`go.mod`: Go Module, `LICENSE`: Text)
  keeps language null with method `outside-filename` and `meta["linguist"] = {"language", "type"}`: the
  filter drops it as `unknown_language` naming Linguist's language, and nothing guesses from its extension;
- `Jupyter Notebook` files are rewritten as scripts with jupytext (code cells as code, markdown cells as
  comments, outputs dropped), StarCoder's treatment; `text`/`size` change, `meta["notebook"]` says how.
"""

from __future__ import annotations

import json

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

import lang_registry
from corpus.engine.stage import MapResult, MapStage
from corpus.per_item import describe, is_environment_error
from corpus.records import drop_rows
from lang_registry import load_registry
from lang_registry.detect import code_related
from lang_registry.registry import PACKAGED_REGISTRY

NOTEBOOK = "Jupyter Notebook"
NOTEBOOK_UNPARSABLE = "notebook_unparsable"
LANGID_ERROR = "langid_error"  # detection raised on this file's contents (the detail names the cause)


class LangIdConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    registry: str | None = None  # a registry file other than the packaged one (see `corpus langs add`)
    # DeepSeek-Coder-V2 counts 185B tokens of "code-related text such as markdown" in its code corpus,
    # and its filter has a JSON/YAML rule, yet Markdown and YAML are not among the 338 names. Files the
    # 338 leave unnamed get the registry's code-related name (YAML, TOML, Markdown, ...) when
    # `code_related` is on; `code_related_text` adds or overrides extensions (`.mdx: Markdown`).
    code_related: bool = True
    code_related_text: dict[str, str] = Field(default_factory=dict)
    # Notebooks as scripts (jupytext); off keeps the raw JSON (not what the recipe wants).
    notebooks_as_scripts: bool = True


class LangIdStage(MapStage):
    name = "langid"
    code_modules = ("lang_registry",)  # the packaged registry is part of the key
    # 2: Linguist's file names before extensions (`go.mod` is no longer Modula-2), `Dockerfile.*`-style
    # patterns, `.cargo/config` as TOML, `meta["linguist"]` on files named outside the 338.
    version = "2"
    config: LangIdConfig

    def __init__(self, config: LangIdConfig | None = None) -> None:
        super().__init__(config or LangIdConfig())
        self._registry = None
        self._related_reg = None

    def content_files(self) -> list[str]:
        return [self.config.registry] if self.config.registry else []

    def setup(self) -> None:
        self._registry = load_registry(self.config.registry)
        # A registry copied before the code-related table existed (`corpus langs add` on an old copy)
        # still gets YAML/Markdown/... names from the packaged table.
        self._related_reg = self._registry if self._registry.related else load_registry(PACKAGED_REGISTRY)

    def _related(self, path: str) -> tuple[str | None, str | None]:
        base = path.rsplit("/", 1)[-1]
        ext = "." + base.rsplit(".", 1)[-1].lower() if "." in base else ""
        name = self.config.code_related_text.get(ext)
        if name is None and self.config.code_related:
            name = code_related(self._related_reg, path)
        if name is None:
            return None, None
        rel = self._related_reg.related.get(name)
        kind = "code_related_data" if rel is not None and rel.type == "data" else "code_related_text"
        return name, kind

    def _identify(self, path: str, text: str) -> tuple:  # (Detection, language, method, NotebookScript | None)
        """Detection of one file, its language and method, and its script when it is a notebook
        (raises NotebookError for a notebook that does not parse)."""
        from lang_registry.notebooks import notebook_to_script  # deferred: jupytext and nbformat (~0.6 s)

        d = lang_registry.detect(path, text.encode("utf-8", "surrogatepass"), self._registry)
        language, method = d.language, d.method
        # A name Linguist gives a language outside the 338 (go.mod: Go Module) is reported, never guessed.
        if language is None and not d.binary and d.outside is None:
            language, method = self._related(path)
        nb = notebook_to_script(text) if language == NOTEBOOK and self.config.notebooks_as_scripts else None
        return d, language, method, nb

    def process(self, table: pa.Table) -> MapResult:
        from lang_registry.notebooks import NotebookError  # deferred: jupytext and nbformat (~0.6 s)

        if self._registry is None:
            self.setup()
        cols = table.to_pydict()
        n = table.num_rows
        langs, methods, vendored, generated = [], [], [], []
        texts, sizes, metas = list(cols["text"]), list(cols["size"]), list(cols["meta"])
        rewritten = False
        dropped: list[bool] = [False] * n
        reasons: list[str | None] = [None] * n
        details: list[str] = [""] * n
        for i, path in enumerate(cols["path"]):
            if cols["repo"][i] is None:
                langs.append(cols["language"][i])
                methods.append(cols["lang_method"][i])
                vendored.append(False)
                generated.append(False)
                continue
            try:
                d, language, method, nb = self._identify(path, cols["text"][i])
            except NotebookError as exc:
                d, language, method, nb = None, NOTEBOOK, "extension", None
                dropped[i], reasons[i], details[i] = True, NOTEBOOK_UNPARSABLE, f"{cols['repo'][i]}/{path}: {exc}"
            except Exception as exc:  # one file's contents never fail the task (corpus.per_item)
                if is_environment_error(exc):
                    raise
                d, language, method, nb = None, None, None, None
                dropped[i], reasons[i], details[i] = True, LANGID_ERROR, f"{cols['repo'][i]}/{path}: {describe(exc)}"
            if d is not None and d.outside is not None:
                meta = json.loads(metas[i] or "{}")
                meta["linguist"] = {"language": d.outside[0], "type": d.outside[1]}
                metas[i] = json.dumps(meta, sort_keys=True)
                rewritten = True
            if nb is not None:
                texts[i] = nb.text
                sizes[i] = len(nb.text.encode("utf-8", "surrogatepass"))
                meta = json.loads(metas[i] or "{}")
                meta["notebook"] = {"format": "jupytext:light", "kernel_language": nb.kernel_language,
                                    "script_extension": nb.extension, "code_cells": nb.code_cells,
                                    "markdown_cells": nb.markdown_cells, "ipynb_bytes": cols["size"][i]}
                metas[i] = json.dumps(meta, sort_keys=True)
                rewritten = True
            langs.append(language)
            methods.append(method)
            vendored.append(bool(d and d.vendored))
            generated.append(bool(d and d.generated))
        out = table
        columns = [("language", langs), ("lang_method", methods), ("vendored", vendored), ("generated", generated)]
        if rewritten:  # notebooks (text, size, meta) or Linguist's names outside the 338 (meta)
            columns += [("text", texts), ("size", sizes), ("meta", metas)]
        for name, values in columns:
            idx = out.schema.get_field_index(name)
            out = out.set_column(idx, out.schema.field(idx), pa.array(values, type=out.schema.field(idx).type))
        quarantine = drop_rows(table, dropped, reasons, details)
        if any(dropped):
            out = out.filter(pa.array([not x for x in dropped], type=pa.bool_()))
        return MapResult(kept=out, dropped=quarantine)
