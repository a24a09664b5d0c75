"""Jupyter notebooks as code: the StarCoder treatment, with jupytext.

A notebook's JSON is mostly structure (`"cells": [`, `execution_count`) and outputs (base64 images,
tables), which is not code. StarCoder's "Jupyter scripts" converted each notebook to a script with
jupytext: code cells stay code, markdown cells become comments in the kernel's language, outputs are
dropped. We do the same, in jupytext's `light` script format (cells separated by blank lines, no cell
markers) and without the YAML metadata header (kernelspec, jupytext version: tool state, not content).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass

import jupytext
import nbformat
from jupytext.formats import auto_ext_from_metadata
from jupytext.languages import _SCRIPT_EXTENSIONS

_FALLBACK_EXT = ".py"  # a notebook without language metadata is nearly always a Python notebook


class NotebookError(ValueError):
    """The text is not a notebook jupytext can read (bad JSON, nbformat < 4 that cannot be upgraded, ...)."""


@dataclass(frozen=True)
class NotebookScript:
    text: str  # the script: code cells as code, markdown cells as comments, no outputs
    kernel_language: str  # jupytext's language of the script ('python', 'R', 'julia', ...)
    extension: str  # the script's extension ('.py', '.R', '.jl', ...)
    code_cells: int
    markdown_cells: int


def notebook_to_script(text: str) -> NotebookScript:
    """Convert one `.ipynb` document to script text; raises NotebookError when it does not parse."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: arrays nested ~1,000 deep (a 2.5 KB file)
        raise NotebookError(f"not JSON: {type(exc).__name__}: {str(exc)[:200]}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("cells", raw.get("worksheets")), list):
        raise NotebookError("no 'cells' list: not a Jupyter notebook")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "not tested with this nbformat minor" and similar notes
            nb = nbformat.reads(text, as_version=4)
            for cell in nb.cells:  # jupytext reads these keys; a notebook missing them is broken
                if cell.get("cell_type") not in ("code", "markdown", "raw") or not isinstance(cell.get("source", ""), str):
                    raise NotebookError(f"malformed cell: {str(cell.get('cell_type'))[:40]!r}")
            ext = auto_ext_from_metadata(nb.metadata) or _FALLBACK_EXT
            if ext not in _SCRIPT_EXTENSIONS:
                ext = _FALLBACK_EXT
            counts = {t: sum(1 for c in nb.cells if c.cell_type == t) for t in ("code", "markdown")}
            # Keep the kernel metadata jupytext needs to pick the comment syntax, hide it from the output.
            nb.metadata.setdefault("jupytext", {}).update(
                {"notebook_metadata_filter": "-all", "cell_metadata_filter": "-all"})
            script = jupytext.writes(nb, fmt=ext.lstrip(".") + ":light")
    except NotebookError:
        raise
    except Exception as exc:  # nbformat / jupytext raise many types for malformed input
        raise NotebookError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc
    return NotebookScript(script, _SCRIPT_EXTENSIONS[ext]["language"], ext, counts["code"], counts["markdown"])
