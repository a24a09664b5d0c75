"""The langid stage: registry languages, code-related text kept by name, web pages untouched."""

from __future__ import annotations

from corpus.records import Doc, docs_to_table
from corpus.stages.langid import LangIdStage


def test_langid_names_code_markdown_and_leaves_web_pages() -> None:
    docs = [
        Doc(source="gh", domain="code", repo="r", path="src/app.py", text="import os\nprint(os.name)\n"),
        Doc(source="gh", domain="code", repo="r", path="docs/README.md", text="# Usage\n\nRun `app.py`.\n"),
        Doc(source="gh", domain="code", repo="r", path="data.unknownext", text="whatever\n"),
        Doc(source="web", domain="text", path="https://example.org/x.md", text="A page."),
    ]
    result = LangIdStage().process(docs_to_table(docs))
    assert not result.dropped.num_rows
    rows = {r["path"]: (r["language"], r["lang_method"]) for r in result.kept.to_pylist()}
    assert rows["src/app.py"][0] == "Python"
    assert rows["docs/README.md"] == ("Markdown", "code_related_text")
    assert rows["data.unknownext"] == (None, None)
    assert rows["https://example.org/x.md"] == (None, None)
