"""Notebooks as code (StarCoder's treatment via jupytext): code cells as code, markdown cells as
comments, outputs dropped, language `Jupyter Notebook`; a notebook that does not parse is dropped with a
reason the stage accounts for."""

from __future__ import annotations

import json

import pytest

from corpus.records import Doc, docs_to_table
from corpus.stages.filter import FilterStage
from corpus.stages.langid import NOTEBOOK_UNPARSABLE, LangIdConfig, LangIdStage
from lang_registry.notebooks import NotebookError, notebook_to_script

# A notebook as Jupyter writes it: outputs with a PNG and a long HTML table (why raw notebooks failed
# the line-length rule), execution counts, cell metadata.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==" * 40
PY_NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Exploring the sales data\n", "\n",
                                                             "We load the monthly CSV and plot revenue per region."]},
        {"cell_type": "code", "execution_count": 1, "metadata": {"tags": []},
         "outputs": [],
         "source": ["import pandas as pd\n", "import matplotlib.pyplot as plt\n", "\n",
                    "sales = pd.read_csv(\"sales_2023.csv\", parse_dates=[\"month\"])"]},
        {"cell_type": "code", "execution_count": 2, "metadata": {},
         "outputs": [{"output_type": "execute_result", "execution_count": 2, "metadata": {},
                      "data": {"text/plain": ["   region  revenue\n0  north   1200.5"],
                               "text/html": ["<table><tr><td>" + "north</td><td>1200.5</td><td>" * 120 + "</td></tr></table>"]}}],
         "source": ["by_region = sales.groupby(\"region\")[\"revenue\"].sum()\n", "by_region"]},
        {"cell_type": "code", "execution_count": 3, "metadata": {},
         "outputs": [{"output_type": "display_data", "metadata": {}, "data": {"image/png": PNG, "text/plain": ["<Figure>"]}}],
         "source": ["ax = by_region.plot.bar(title=\"Revenue by region\")\n", "plt.tight_layout()"]},
        {"cell_type": "markdown", "metadata": {}, "source": ["Next: compare against the 2022 numbers."]},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                 "language_info": {"name": "python", "file_extension": ".py", "version": "3.11.6",
                                   "mimetype": "text/x-python", "nbconvert_exporter": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}
R_NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["## Linear model of mpg"]},
        {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],
         "source": ["fit <- lm(mpg ~ wt + hp, data = mtcars)\n", "summary(fit)"]},
    ],
    "metadata": {"kernelspec": {"display_name": "R", "language": "R", "name": "ir"},
                 "language_info": {"name": "R", "file_extension": ".r", "version": "4.3.1"}},
    "nbformat": 4, "nbformat_minor": 4,
}


def _ipynb(nb: dict) -> str:
    return json.dumps(nb, indent=1) + "\n"  # Jupyter's own layout


def test_python_notebook_becomes_a_script_without_outputs() -> None:
    nb = notebook_to_script(_ipynb(PY_NOTEBOOK))
    assert (nb.kernel_language, nb.extension, nb.code_cells, nb.markdown_cells) == ("python", ".py", 3, 2)
    assert "# # Exploring the sales data" in nb.text  # markdown cell -> comment
    assert "# Next: compare against the 2022 numbers." in nb.text
    assert 'sales = pd.read_csv("sales_2023.csv", parse_dates=["month"])' in nb.text  # code as code
    for noise in ("iVBORw0KGgo", "<table>", "execution_count", '"cells"', "kernelspec", "jupytext"):
        assert noise not in nb.text, noise
    compile(nb.text, "notebook.py", "exec")  # the script is valid Python


def test_r_notebook_comments_in_r() -> None:
    nb = notebook_to_script(_ipynb(R_NOTEBOOK))
    assert (nb.kernel_language, nb.extension) == ("R", ".R")
    assert nb.text.splitlines()[0] == "# ## Linear model of mpg"
    assert "fit <- lm(mpg ~ wt + hp, data = mtcars)" in nb.text


@pytest.mark.parametrize("text", [
    '{"cells": [{"cell_type": "code", "source": "x = 1"',  # truncated download
    "[1, 2, 3]",
    '{"metadata": {}, "nbformat": 4}',
    json.dumps({"cells": [{"cell_type": "code", "source": 3}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}),
])
def test_broken_notebooks_raise(text: str) -> None:
    with pytest.raises(NotebookError):
        notebook_to_script(text)


def test_langid_rewrites_notebooks_and_drops_unparsable_ones_with_a_reason() -> None:
    raw = _ipynb(PY_NOTEBOOK)
    docs = [
        Doc(source="gh", domain="code", repo="acme/analysis", path="notebooks/sales.ipynb", text=raw),
        Doc(source="gh", domain="code", repo="acme/analysis", path="notebooks/broken.ipynb", text='{"cells": [ '),
        Doc(source="gh", domain="code", repo="acme/analysis", path="src/util.py", text="def f():\n    return 1\n"),
    ]
    table = docs_to_table(docs)
    result = LangIdStage().process(table)
    assert result.kept.num_rows + result.dropped.num_rows == table.num_rows  # every record accounted for
    [drop] = result.dropped.to_pylist()
    assert (drop["path"], drop["reason"]) == ("notebooks/broken.ipynb", NOTEBOOK_UNPARSABLE)
    assert "acme/analysis/notebooks/broken.ipynb" in drop["detail"]
    rows = {r["path"]: r for r in result.kept.to_pylist()}
    nb = rows["notebooks/sales.ipynb"]
    assert nb["language"] == "Jupyter Notebook"
    assert nb["text"] == notebook_to_script(raw).text and nb["size"] == len(nb["text"].encode())
    meta = json.loads(nb["meta"])["notebook"]
    assert meta["kernel_language"] == "python" and meta["code_cells"] == 3 and meta["ipynb_bytes"] == len(raw.encode())
    assert rows["src/util.py"]["text"] == "def f():\n    return 1\n"  # other files untouched
    # The raw notebook failed the line-length rule; the script passes the code filters.
    filtered = FilterStage().process(result.kept)
    assert "notebooks/sales.ipynb" in {r["path"] for r in filtered.kept.to_pylist()}


def test_raw_notebook_json_would_fail_the_filters() -> None:
    """Why the conversion matters: the notebook as stored is dropped by DeepSeek's line-length rule."""
    off = LangIdStage(LangIdConfig(notebooks_as_scripts=False))
    kept = off.process(docs_to_table([Doc(source="gh", domain="code", repo="r", path="a.ipynb", text=_ipynb(PY_NOTEBOOK))])).kept
    assert kept.to_pylist()[0]["text"].startswith("{")
    assert FilterStage().process(kept).dropped.to_pylist()[0]["reason"] == "max_line_length"
