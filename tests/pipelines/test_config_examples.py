"""Every YAML example in the README and docs/ is a valid pipeline config (or a valid piece of one): a
documented key that the schema rejects is a bug in one of the two."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from pipelines.config import PipelineConfig

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Files of other formats that docs show as YAML: their first key says which (e.g. an ablation file).
OTHER_FORMATS = {"pipeline"}
RULE_TABLE_KEYS = {"default", "languages", "prose"}  # a code_rules.yaml (stages.filter.code_rules)


def _examples() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for i, m in enumerate(re.finditer(r"```ya?ml\n(.*?)```", doc.read_text(), re.S)):
            found.append((f"{doc.relative_to(ROOT)}#{i}", m.group(1)))
    return found


def test_the_docs_hold_yaml_examples() -> None:
    assert len(_examples()) >= 4


@pytest.mark.parametrize(("where", "text"), _examples(), ids=[w for w, _ in _examples()])
def test_every_documented_yaml_example_validates(where: str, text: str) -> None:
    data = yaml.safe_load(text)
    assert isinstance(data, dict), f"{where}: not a mapping"
    if OTHER_FORMATS & set(data):
        return
    if set(data) <= RULE_TABLE_KEYS:  # a rule table or a piece of one, checked over the packaged default
        from corpus.filters.code_rules import check_rules, load_rules

        packaged = load_rules()
        merged = {**packaged, **{k: {**(packaged.get(k) or {}), **v} for k, v in data.items()}}
        check_rules(merged, where)
        return
    unknown = set(data) - set(PipelineConfig.model_fields)
    assert not unknown, f"{where}: top-level keys {sorted(unknown)} are not pipeline config keys"
    # A piece of a config (a stages section alone) validates inside a minimal whole one.
    data.setdefault("inputs", [{"name": "example", "kind": "repos", "paths": ["."]}])
    PipelineConfig.model_validate(data)


def test_a_misspelt_rule_in_a_rule_table_is_rejected(tmp_path: Path) -> None:
    from corpus.filters.code_rules import load_rules

    table = tmp_path / "rules.yaml"
    table.write_text("default:\n  max_line_length: 1000\nlanguages:\n  Python:\n    max_line_lenght: 80\n")
    with pytest.raises(ValueError, match=r"languages\.Python\.max_line_lenght"):
        load_rules(str(table))
