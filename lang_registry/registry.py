"""The language registry: 338 languages with their file rules, loaded from the versioned YAML file."""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from lang_registry.fastre import FastPattern

PACKAGED_REGISTRY = Path(__file__).resolve().parent / "data" / "languages.yaml"
ENV_VAR = "CORPUS_LANG_REGISTRY"
FORMAT = "coder-corpus-langs/1"


@dataclass(frozen=True)
class LanguageEntry:
    name: str
    type: str
    extensions: tuple[str, ...]
    filenames: tuple[str, ...]
    filename_patterns: tuple[str, ...]
    interpreters: tuple[str, ...]
    aliases: tuple[str, ...]
    grammar: str | None
    line_comment: str | None
    block_comment: tuple[str, str] | None
    sources: dict[str, list[str]] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LanguageEntry:
        block = d.get("block_comment")
        return cls(
            name=d["name"], type=d.get("type") or "programming",
            extensions=tuple(d.get("extensions") or ()), filenames=tuple(d.get("filenames") or ()),
            filename_patterns=tuple(d.get("filename_patterns") or ()),
            interpreters=tuple(d.get("interpreters") or ()), aliases=tuple(d.get("aliases") or ()),
            grammar=d.get("grammar"), line_comment=d.get("line_comment"),
            block_comment=(block[0], block[1]) if block else None, sources=dict(d.get("sources") or {}),
        )


@dataclass(frozen=True)
class Ambiguity:
    """An extension several languages claim: candidates (default first), outside claimants, ordered rules."""

    extension: str
    candidates: tuple[str, ...]
    outside: tuple[str, ...]
    rules: tuple[tuple[str, FastPattern], ...]
    tree_sitter: bool = True  # False where parse quality was measured not to separate the candidates
    preprocess: str | None = None  # "c": strip comments / strings / C++-only blocks before the rules
    no_default: bool = False  # nothing recognised -> null (the first candidate is usually wrong there)

    @property
    def default(self) -> str | None:
        return None if self.no_default or not self.candidates else self.candidates[0]


class Registry:
    """Indexes over the language entries; immutable after construction."""

    def __init__(self, data: dict[str, Any], path: str | None = None) -> None:
        if data.get("format") != FORMAT:
            raise ValueError(f"{path}: not a language registry (format {data.get('format')!r}, want {FORMAT!r})")
        self.path = path
        self.entries: dict[str, LanguageEntry] = {}
        for d in data.get("languages") or []:
            e = LanguageEntry.from_dict(d)
            self.entries[e.name] = e
        self.unsafe_grammars: frozenset[str] = frozenset(data.get("unsafe_grammars") or ())
        self._by_filename: dict[str, str] = {}
        self._by_filename_ci: dict[str, str] = {}
        self._patterns: list[tuple[str, str]] = []
        self._by_ext: dict[str, list[str]] = {}
        self._by_interp: dict[str, str] = {}
        self._by_alias: dict[str, str] = {}
        for e in self.entries.values():
            for f in e.filenames:
                self._by_filename.setdefault(f, e.name)
                self._by_filename_ci.setdefault(f.lower(), e.name)
            self._patterns.extend((p, e.name) for p in e.filename_patterns)
            for x in e.extensions:
                lst = self._by_ext.setdefault(x.lower(), [])
                if e.name not in lst:
                    lst.append(e.name)
            for i in e.interpreters:
                self._by_interp.setdefault(i, e.name)
        # Modeline names: aliases, then lower-case names, then bare extensions (weakest).
        for e in self.entries.values():
            for a in (e.name.lower(), *(a.lower() for a in e.aliases)):
                self._by_alias.setdefault(a, e.name)
        for e in self.entries.values():
            for x in e.extensions:
                self._by_alias.setdefault(x.lstrip(".").lower(), e.name)
        self.ambiguous: dict[str, Ambiguity] = {}
        for ext, spec in (data.get("ambiguous") or {}).items():
            rules = tuple((r["language"], FastPattern(r["pattern"])) for r in spec.get("rules") or ())
            self.ambiguous[ext.lower()] = Ambiguity(
                ext.lower(), tuple(spec.get("candidates") or ()), tuple(spec.get("outside") or ()), rules,
                bool(spec.get("tree_sitter", True)), spec.get("preprocess"), bool(spec.get("no_default", False)))
        self._max_ext_dots = max((x.count(".") for x in self._by_ext), default=1)
        # Exact-case extensions that name a language on their own (`.Rd` is Rd, `.rd` stays shared).
        self.case_sensitive: dict[str, str] = dict(data.get("case_sensitive") or {})
        # Code-related data / text outside the 338 (YAML, TOML, Markdown, ...): named only when the
        # 338 give no answer; `language in registry` stays false for them.
        self.related: dict[str, LanguageEntry] = {}
        self._rel_by_filename: dict[str, str] = {}
        self._rel_by_ext: dict[str, str] = {}
        for d in data.get("code_related") or []:
            e = LanguageEntry.from_dict(d)
            self.related[e.name] = e
            for f in e.filenames:
                self._rel_by_filename.setdefault(f, e.name)
            for x in e.extensions:
                self._rel_by_ext.setdefault(x.lower(), e.name)
        self._rel_max_dots = max((x.count(".") for x in self._rel_by_ext), default=1)
        # File names Linguist gives to a member of a group that is one of ours (`pom.xml`: Maven POM, group
        # XML; `.npmrc`: NPM Config, group INI) name the group.
        for f, group in (data.get("group_filenames") or {}).items():
            if group in self.entries:
                self._by_filename.setdefault(f, group)
                self._by_filename_ci.setdefault(f.lower(), group)
            elif group in self.related:
                self._rel_by_filename.setdefault(f, group)
        # Interpreters Linguist lists for several of the 338 (node: JavaScript and TypeScript); the
        # shebang names one owner, but for a file whose own extension is another claimant it is generic.
        self.shared_interpreters: dict[str, tuple[str, ...]] = {
            k: tuple(v) for k, v in (data.get("shared_interpreters") or {}).items()}
        # Linguist's file names of languages outside the 338 (`go.mod`: Go Module, data): detection stops
        # there rather than guess from the extension. Then file-name patterns of the 338 that Linguist
        # has no table for (`Dockerfile.*`), and code-related names a folder gives (`.cargo/config`).
        self.outside_filenames: dict[str, tuple[str, str]] = {
            k: (v[0], v[1]) for k, v in (data.get("outside_filenames") or {}).items()}
        self._outside_ci = {k.lower(): v for k, v in self.outside_filenames.items()}
        named = (data.get("name_patterns") or {}).items()
        self.name_patterns: list[tuple[str, str]] = [
            (p, name) for name, pats in named if name in self.entries for p in pats]
        self.related_paths: dict[str, str] = dict(data.get("related_paths") or {})

    # -- lookups -------------------------------------------------------------------------------------
    def get(self, name: str) -> LanguageEntry:
        return self.entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        return list(self.entries)

    def by_filename(self, basename: str) -> str | None:
        hit = self._by_filename.get(basename) or self._by_filename_ci.get(basename.lower())
        if hit:
            return hit
        for pat, name in self._patterns:
            if fnmatchcase(basename, pat):
                return name
        return None

    def outside_language(self, basename: str) -> tuple[str, str] | None:
        """(Linguist name, Linguist type) of a file name Linguist gives to a language outside the 338."""
        return self.outside_filenames.get(basename) or self._outside_ci.get(basename.lower())

    def by_name_pattern(self, basename: str) -> str | None:
        """One of the 338 named by a curated file-name pattern (`Dockerfile.multi-arch` -> Dockerfile)."""
        return next((name for pat, name in self.name_patterns if fnmatchcase(basename, pat)), None)

    def extension_of(self, basename: str) -> str | None:
        """The longest registered suffix of `basename` ('.blade.php' before '.php'), lower-cased."""
        low = basename.lower()
        idx = [i for i, ch in enumerate(low) if ch == "."]
        for i in idx[-(self._max_ext_dots + 1):] if idx else []:
            suffix = low[i:]
            if suffix in self._by_ext or suffix in self.ambiguous:
                return suffix
        return None

    def case_sensitive_language(self, basename: str) -> str | None:
        """Language named by the exact-case suffix of `basename` (`x.Rd` -> Rd), or None."""
        for ext, name in self.case_sensitive.items():
            if basename.endswith(ext) and len(basename) > len(ext):
                return name
        return None

    def related_language(self, basename: str, path: str | None = None) -> str | None:
        """Code-related data / text name of a file none of the 338 claims (`ci.yml` -> YAML), or None.
        `path` (repository-relative) lets a folder decide (`.cargo/config` -> TOML)."""
        if path is not None:
            for tail, name in self.related_paths.items():
                if path == tail or path.endswith("/" + tail):
                    return name
        hit = self._rel_by_filename.get(basename)
        if hit:
            return hit
        low = basename.lower()
        idx = [i for i, ch in enumerate(low) if ch == "."]
        for i in idx[-(self._rel_max_dots + 1):] if idx else []:
            hit = self._rel_by_ext.get(low[i:])
            if hit and i > 0:  # a bare '.toml' is a file name, not an extension (dot files go by name)
                return hit
        return None

    def extension_candidates(self, ext: str) -> list[str]:
        return list(self._by_ext.get(ext.lower(), ()))

    def by_interpreter(self, interpreter: str) -> str | None:
        """'python3.11' -> Python: exact name first, then with trailing version digits removed."""
        name = self._by_interp.get(interpreter)
        if name is None:
            name = self._by_interp.get(re.sub(r"[\d.\-]+$", "", interpreter))
        if name is None:
            name = self._by_interp.get(re.sub(r"\.[\d.]+$", "", interpreter))  # python3.11 -> python3
        return name

    def interpreter_claimants(self, interpreter: str) -> tuple[str, ...]:
        """Every language Linguist runs with `interpreter` (owner first); () if unknown."""
        for key in (interpreter, re.sub(r"[\d.\-]+$", "", interpreter)):
            if key in self.shared_interpreters:
                return self.shared_interpreters[key]
        owner = self.by_interpreter(interpreter)
        return (owner,) if owner else ()

    def by_alias(self, alias: str) -> str | None:
        """Modeline / alias name -> language: 'python', 'emacs-lisp', 'c++-mode', 'shell-script'."""
        a = alias.lower().strip()
        if a.endswith("-mode"):
            a = a[:-5]
        a = _MODE_NAMES.get(a, a)
        return self._by_alias.get(a) or self._by_alias.get(a.replace("-", " "))

    # -- repo-sample headers ---------------------------------------------------------------------------
    def path_comment(self, language: str | None, path: str) -> str:
        """One comment line carrying `path`, in `language`'s comment syntax.

        Line comment if the language has one, else its block comment; languages without comments
        (JSON, Jupyter Notebook, Diff, ...) and unknown languages fall back to '# path: ...'.
        Newlines and comment terminators inside the path are neutralised so the line stays one comment.
        """
        clean = path.replace("\r", " ").replace("\n", " ")
        entry = (self.entries.get(language) or self.related.get(language)) if language else None
        if entry is not None and entry.line_comment:
            return f"{entry.line_comment} path: {clean}"
        if entry is not None and entry.block_comment:
            open_, close = entry.block_comment
            clean = clean.replace(close, " ".join(close))
            return f"{open_} path: {clean} {close}"
        return f"# path: {clean}"


# Emacs / Vim mode names that are neither a language name nor an alias in the tables.
_MODE_NAMES = {"shell-script": "shell", "sh": "shell", "js": "javascript", "js2": "javascript",
               "cperl": "perl", "tex": "tex", "latex": "tex", "makefile-gmake": "makefile", "make": "makefile"}

_CACHE: dict[tuple[str, int], Registry] = {}
_LOCK = threading.Lock()


def registry_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Explicit path > $CORPUS_LANG_REGISTRY > the packaged data file."""
    if path:
        return Path(path)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else PACKAGED_REGISTRY


def load_registry(path: str | os.PathLike[str] | None = None) -> Registry:
    """Load (and cache, keyed by path and mtime) a registry file."""
    p = registry_path(path).resolve()
    key = (str(p), p.stat().st_mtime_ns)
    with _LOCK:
        reg = _CACHE.get(key)
        if reg is None:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            with open(p, encoding="utf-8") as fh:
                data = yaml.load(fh, Loader=loader)
            reg = Registry(data, str(p))
            _CACHE[key] = reg
    return reg
