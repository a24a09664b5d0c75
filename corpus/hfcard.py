"""A Hugging Face dataset card (`OUT/README.md`) so `datasets.load_dataset("OUT", "<stage>")` reads the parts.

Stage folders keep their bookkeeping beside the parts (`_SUCCESS.json`, `_part-*.stats.json`, `_steps/`),
which pyarrow, DuckDB, Polars and Spark skip but `datasets` tries to read as Parquet. The card's
`configs:` block names each committed stage's files by glob instead. It lives at the run root, not in
the stage folders: a README.md inside `OUT/langid/` would break `pyarrow.parquet.read_table("OUT/langid")`
(pyarrow skips only names starting with "_" or "."). docs/datasets.md shows every way to load.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from corpus import storage
from corpus.engine.parts import part_name
from corpus.layout import DATASET_CARD, DROPPED_DIR, MANIFEST, SUCCESS

FIRST_PART = part_name(0)  # a stage with any part has this one

_BODY = """
# coder-corpus run output

Each committed stage of the run is one config; the rows its filters set aside are the config
`<stage>_dropped`. The token shards are the config `shards` (splits `train` and `validation`, the
held-out repositories and web hosts).

```python
from datasets import load_dataset
load_dataset("{root}", "{example}")
```

Bookkeeping files (`_SUCCESS.json`, `_part-*.stats.json`, `_steps/`) are not data. See docs/datasets.md
in the coder-corpus repository for globs that work without this card (object stores, single stages).
"""


def stage_configs(out_uri: str, stages: Iterable[str]) -> list[dict[str, Any]]:
    """The card's configs for the committed stages among `stages`, in that order. A few existence
    checks per stage, never a listing: the card is rewritten at every stage commit, and listing folders
    of a million parts each time would cost more than the stages' own bookkeeping."""
    configs: list[dict[str, Any]] = []
    for name in stages:
        stage_uri = storage.join(out_uri, name)
        if not storage.exists(storage.join(stage_uri, SUCCESS)):
            continue
        manifest = storage.join(stage_uri, MANIFEST)
        if storage.exists(manifest):  # the token shards: split by file name, as datasets would
            data = [{"split": "train", "path": f"{name}/train-*.parquet"}]
            if storage.read_json(manifest).get("totals", {}).get("eval_tokens"):
                data.append({"split": "validation", "path": f"{name}/validation-*.parquet"})
            configs.append({"config_name": name, "data_files": data})
        elif storage.exists(storage.join(stage_uri, FIRST_PART)):
            configs.append({"config_name": name, "data_files": [{"split": "train", "path": f"{name}/part-*.parquet"}]})
        # Only a quarantine that holds parts (every part of a map stage has one, empty or not):
        # datasets resolves every config's glob, and one that matches nothing fails.
        if storage.exists(storage.join(stage_uri, DROPPED_DIR, FIRST_PART)):
            configs.append({"config_name": f"{name}_{DROPPED_DIR.lstrip('_')}",
                            "data_files": [{"split": "train", "path": f"{name}/{DROPPED_DIR}/part-*.parquet"}]})
    return configs


def card_text(configs: list[dict[str, Any]], root: str = "OUT") -> str:
    """The README.md text: YAML front matter with the configs, then a short description."""
    front = yaml.safe_dump({"configs": configs}, sort_keys=False, allow_unicode=True)
    example = configs[0]["config_name"] if configs else "shards"
    return f"---\n{front}---\n" + _BODY.format(root=root, example=example)


def write_dataset_card(out_uri: str, stages: Iterable[str]) -> str | None:
    """Write OUT/README.md listing the committed stages among `stages` (pipeline order); returns its
    location, or None when no stage has committed yet. Rewritten whole each time: idempotent."""
    configs = stage_configs(out_uri, stages)
    if not configs:
        return None
    uri = storage.join(out_uri, DATASET_CARD)
    storage.write_text(uri, card_text(configs, root=out_uri))
    return uri
