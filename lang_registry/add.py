"""`corpus langs add`: append a language to a registry file, with validation and a diff of the change."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lang_registry.registry import Registry, registry_path

TYPES = ("programming", "markup", "data", "prose")
_HEADER_RE = re.compile(r"\A((?:#[^\n]*\n)*)")


class AddError(ValueError):
    """A validation failure; the message says what to change."""


@dataclass
class AddRequest:
    name: str
    extensions: list[str] = field(default_factory=list)
    filenames: list[str] = field(default_factory=list)
    interpreters: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    grammar: str | None = None
    line_comment: str | None = None
    block_comment: tuple[str, str] | None = None
    type: str = "programming"
    ambiguous_with: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)


def _norm_ext(x: str) -> str:
    x = x.strip()
    return x if x.startswith(".") else "." + x


def validate(reg: Registry, req: AddRequest, check_grammar: bool = True) -> list[str]:
    """Raise AddError on any problem; return warnings."""
    warnings: list[str] = []
    if not req.name or req.name != req.name.strip() or "\n" in req.name:
        raise AddError("language name must be non-empty, without surrounding spaces or newlines")
    if req.name in reg:
        raise AddError(f"language {req.name!r} already exists; edit its entry in {reg.path} instead")
    lower = {n.lower(): n for n in reg.names()}
    if req.name.lower() in lower:
        raise AddError(f"language {req.name!r} differs from existing {lower[req.name.lower()]!r} only in case")
    if not req.extensions and not req.filenames:
        raise AddError("give at least one --extensions or --filenames rule")
    if req.type not in TYPES:
        raise AddError(f"--type must be one of {', '.join(TYPES)}")
    for x in req.extensions:
        if not re.fullmatch(r"\.[^\s/\\]+", x):
            raise AddError(f"bad extension {x!r}")
    for pat in req.patterns:
        try:
            re.compile(pat, re.MULTILINE)
        except re.error as exc:
            raise AddError(f"--pattern {pat!r} is not a valid regular expression: {exc}") from exc
    for other in req.ambiguous_with:
        if other not in reg:
            raise AddError(f"--ambiguous-with {other!r}: no such language")
    for x in req.extensions:
        owners = set(reg.extension_candidates(x))
        amb = reg.ambiguous.get(x.lower())
        if amb:
            owners |= set(amb.candidates)
        if owners and not owners & set(req.ambiguous_with):
            raise AddError(
                f"extension {x} is already claimed by {', '.join(sorted(owners))}. Pass --ambiguous-with "
                f"{','.join(sorted(owners))} to share it (existing languages stay the default; yours wins only "
                f"through --pattern content rules or tree-sitter), or choose another extension.")
        if owners and not req.patterns and not req.grammar:
            warnings.append(f"{x}: shared without --pattern or --grammar, so {req.name} is never chosen "
                            f"for it unless a shebang or modeline says so")
    for f in req.filenames:
        owner = reg.by_filename(f)
        if owner:
            raise AddError(f"file name {f!r} already belongs to {owner}; file names cannot be shared")
    if req.grammar and check_grammar:
        from lang_registry.build_registry import probe_grammar  # deferred: the registry builder (~0.25 s)

        status = probe_grammar(req.grammar)
        if status == "load-error":
            raise AddError(f"tree-sitter grammar {req.grammar!r} does not load "
                           f"(tree-sitter-language-pack names: see `typing.get_args(SupportedLanguage)`)")
        if status == "hangs":
            warnings.append(f"grammar {req.grammar!r} hangs on foreign input: marked unsafe, never used to disambiguate")
    return warnings


def apply(data: dict[str, Any], req: AddRequest, unsafe_grammar: bool = False) -> dict[str, Any]:
    entry = {
        "name": req.name, "type": req.type, "extensions": list(req.extensions), "filenames": list(req.filenames),
        "filename_patterns": [], "interpreters": list(req.interpreters), "aliases": list(req.aliases),
        "grammar": req.grammar, "line_comment": req.line_comment,
        "block_comment": list(req.block_comment) if req.block_comment else None,
        "sources": {"name": ["user:corpus langs add"], "extensions": ["user"], "comment": ["user"]},
    }
    data.setdefault("languages", []).append(entry)
    amb_table = data.setdefault("ambiguous", {}) or {}
    data["ambiguous"] = amb_table
    for x in req.extensions:
        key = x.lower()
        shared = [o for o in req.ambiguous_with if any(
            xx.lower() == key for e in data["languages"] if e["name"] == o for xx in e.get("extensions") or [])]
        spec = amb_table.get(key)
        if spec is None and not shared:
            continue
        if spec is None:
            spec = amb_table[key] = {"candidates": shared, "outside": [], "rules": []}
        if req.name not in spec["candidates"]:
            spec["candidates"].append(req.name)
        spec["rules"] = [{"language": req.name, "pattern": p} for p in req.patterns] + list(spec.get("rules") or [])
    if unsafe_grammar and req.grammar:
        data["unsafe_grammars"] = sorted(set(data.get("unsafe_grammars") or []) | {req.grammar})
    return data


def dump(data: dict[str, Any], header: str = "") -> str:
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110, default_flow_style=None)


def add_language(req: AddRequest, path: str | None = None, dry_run: bool = False,
                 check_grammar: bool = True) -> tuple[str, list[str]]:
    """Validate and write; returns (unified diff of the registry file, warnings)."""
    p = registry_path(path)
    old_text = Path(p).read_text(encoding="utf-8")
    data = yaml.load(old_text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    reg = Registry(data, str(p))
    req.extensions = [_norm_ext(x) for x in req.extensions if x.strip()]
    warnings = validate(reg, req, check_grammar=check_grammar)
    unsafe = any("hangs" in w for w in warnings)
    header = _HEADER_RE.match(old_text).group(1)  # type: ignore[union-attr]
    new_text = dump(apply(data, req, unsafe), header)
    diff = "".join(difflib.unified_diff(old_text.splitlines(True), new_text.splitlines(True),
                                        fromfile=f"{p} (before)", tofile=f"{p} (after)", n=1))
    if not dry_run:
        tmp = Path(str(p) + ".tmp")
        tmp.write_text(new_text, encoding="utf-8")
        tmp.replace(p)
    return diff, warnings
