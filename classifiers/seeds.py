"""Seed corpora: JSONL files of {"text": ..., "label": ..., "url": optional}.

`pkg:classifiers/seed_data/<file>` names a file shipped with the project (small, written by the project
for the offline default run); any other string is a local path. Real runs point at real seed corpora
(OpenWebMath, StackOverflow / StackExchange dumps, library documentation) converted to this format.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources

Seed = tuple[str, str, "str | None"]


@dataclass
class SeedLoad:
    seeds: list[Seed] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> lines

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def _lines(path: str) -> Iterator[str]:
    if path.startswith("pkg:"):
        package, _, rel = path[4:].partition("/")
        yield from resources.files(package).joinpath(rel).read_text(encoding="utf-8").splitlines()
        return
    with open(path, encoding="utf-8", errors="replace") as fh:
        yield from fh


def load_seeds(path: str, allowed_labels: set[str] | None = None) -> SeedLoad:
    """Read one seed file; malformed lines are counted by reason, never fatal."""
    out = SeedLoad()
    for raw in _lines(path):
        raw = raw.strip()
        if not raw:
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError:
            out.skip("not_json")
            continue
        if not isinstance(obj, dict):
            out.skip("not_object")
            continue
        text, label, url = obj.get("text"), obj.get("label"), obj.get("url")
        if not isinstance(text, str) or not text.strip():
            out.skip("no_text")
            continue
        if not isinstance(label, str) or not label or any(c.isspace() for c in label):
            out.skip("bad_label")
            continue
        if allowed_labels is not None and label not in allowed_labels:
            out.skip("unknown_label")
            continue
        out.seeds.append((text, label, url if isinstance(url, str) and url else None))
    return out
