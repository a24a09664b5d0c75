"""Imports of source files (tree-sitter queries), resolved to files of the same repository.

`file_imports` runs one compiled query per grammar (compiled once per process and cached) over a
file's tree and returns its import statements; `RepoIndex.resolve` maps each statement to the
repository's files it names. Languages: Python, Java, C#, C, C++, JavaScript (and JSX), TypeScript,
Go, Rust. What "resolved" means per language:

- Python: `import a.b` / `from a.b import c` by module name, a file's module name being its path from
  the first folder upwards without `__init__.py` (so `src/` layouts work); relative imports from the
  importing file's package; a plain `import x` also finds a sibling `x.py` (scripts). A name that a
  package's `__init__` re-exports by name (`from .core import run`) = the module that defines it
  (`from pkg import run` needs core.py; the `__init__` stays for its own names).
- Java: `import a.b.C` by path suffix `a/b/C.java` (any source root); `a.b.*` = the files of `a/b/`.
- C#: `using A.B;` = the files that declare namespace `A.B` (namespaces, not files, are imported).
- C / C++: `#include "x/y.h"` relative to the including file, then (also for `<...>`) by path suffix.
- JavaScript / TypeScript: relative specifiers of import / export-from / require / import(), with
  the usual extensions and `index.*` (a `./x.js` specifier also finds `x.ts`).
- Go: an import path = the `.go` files of the repository folder its trailing segments name (longest).
- Rust: `use crate::`, `self::`, `super::` paths (and a first segment naming a child module) = the
  deepest module file of the path (`a.rs` or `a/mod.rs`), else the crate root for `crate::X`; an item
  that module re-exports (`pub use error::Error;` in lib.rs) = the file the re-export names (so
  `use crate::Error` is error.rs). Inside an inline module (`mod tests { use super::*; }`) `self` and
  `super` count from that module (there `super` is the file itself). Soft: `pub use` (a re-export) and
  uses in test modules (`#[cfg(test)]`, `mod tests`). A first segment naming a library crate of the
  repository (its `Cargo.toml`: a workspace member, or the crate's own name in its tests) = that crate's
  module files from its root. `mod x;` is not an import: it declares the module
  tree (the parent includes the child); measured on the bench repositories (imported-first share,
  Rust): without it 0.923; counted as a soft import 0.856 (it adds a cycle with every `use super::`/
  `crate::` of the child); as an ordering hint only, child first 0.918, parent first 0.881.

Everything else (standard library, third-party packages) is an unresolved statement. A suffix that
several files match goes to the one nearest to the importing file (longest common folder prefix).
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import tomllib

_QUERIES: dict[str, str] = {
    "python": "(import_statement) @import (import_from_statement) @from",
    "java": "(import_declaration) @import",
    "csharp": "(using_directive) @using (namespace_declaration name: (_) @namespace) "
              "(file_scoped_namespace_declaration name: (_) @namespace)",
    "c": "(preproc_include path: (_) @include)",
    "cpp": "(preproc_include path: (_) @include)",
    "go": "(import_spec path: (_) @import) (package_clause (package_identifier) @package)",
    "rust": "(use_declaration argument: (_) @use)",
}
_JS_QUERY = """
(import_statement source: (string) @module)
(export_statement source: (string) @module)
(call_expression function: (identifier) @_fn arguments: (arguments . (string) @module) (#eq? @_fn "require"))
(call_expression function: (import) arguments: (arguments . (string) @module))
"""
_TS_QUERY = _JS_QUERY + "(import_require_clause source: (string) @module)\n"
_QUERIES.update(javascript=_JS_QUERY, typescript=_TS_QUERY, tsx=_TS_QUERY)
SUPPORTED_GRAMMARS = frozenset(_QUERIES)
DECLARATIONS = frozenset({"namespace", "go_package", "rust_crate"})
REEXPORTS = frozenset({"rust_pub_use"})  # import statements that RepoIndex also reads as declarations


def cargo_crate(path: str, text: str) -> Import | None:
    """The library crate a `Cargo.toml` declares, as a declaration (kind `rust_crate`): its name as other
    crates of a workspace, and the crate's own tests, examples and benches, `use` it (`[lib] name`, else
    the package name with `-` as `_`), and its root file (`[lib] path`, else `src/lib.rs`). None for a
    manifest that does not parse or has no package (a workspace's own)."""
    try:
        manifest = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError):
        return None
    package, lib = manifest.get("package"), manifest.get("lib")
    lib = lib if isinstance(lib, dict) else {}
    name = lib.get("name") or (package.get("name") if isinstance(package, dict) else None)
    if not isinstance(name, str) or not name:
        return None
    root = lib.get("path") if isinstance(lib.get("path"), str) else "src/lib.rs"
    return Import("rust_crate", name.replace("-", "_"), (posixpath.normpath(posixpath.join(posixpath.dirname(path), root)),))


def is_reexport(path: str, imp: Import) -> bool:
    """Whether RepoIndex also reads this import statement as a declaration: a Rust `pub use`, or a
    `from x import name` of a Python package's `__init__` (names it re-exports)."""
    return imp.kind in REEXPORTS or (imp.kind == "py_from" and posixpath.basename(path) in ("__init__.py", "__init__.pyi"))

# The import region: statements are found by keyword, and the parse stops after the last one, so a
# file whose imports sit in its first lines costs a parse of those lines (measured on the default run's
# files: Python 54%, C 23%, C++ 11% of the bytes). Only where a cut cannot change what the query finds:
# C/C++ `#include` is one line (a cut inside an `#ifdef` only leaves a MISSING `#endif`); Python's cut
# is checked by the caller (`region_is_trusted`: a cut inside a string or bracket shows as an error, and
# the whole file is parsed then). Measured equal to whole-file parses on the bench repositories.
_REGION_KEYWORDS: dict[str, bytes] = {
    "python": rb"\bimport\b",
    "c": rb"#[ \t]*include",
    "cpp": rb"#[ \t]*include",
}
_REGION_RE = {g: re.compile(rb".*(?:" + k + rb")", re.DOTALL) for g, k in _REGION_KEYWORDS.items()}


def region_is_trusted(grammar: str, tree: Any) -> bool:
    """Whether the import query may read a parse of the import region only (see _REGION_KEYWORDS)."""
    return grammar in ("c", "cpp") or not tree.root_node.has_error


def import_region(grammar: str, data: bytes) -> int:
    """Bytes of `data` from the start that hold every import statement (0 when the language's keyword
    does not occur); the whole length for languages parsed whole."""
    pattern = _REGION_RE.get(grammar)
    if pattern is None:
        return len(data)
    m = pattern.match(data)  # greedy: ends after the last keyword
    if m is None:
        return 0
    end = m.end()
    line_start = data.rfind(b"\n", 0, end) + 1
    line_end = data.find(b"\n", end)
    line = data[line_start: len(data) if line_end == -1 else line_end]
    if line.count(b"(") > line.count(b")"):  # `from x import (` ... `)`
        end = data.find(b")", end)
    if end == -1:
        return len(data)
    if grammar in ("c", "cpp") and data.count(b"/*", 0, end) > data.count(b"*/", 0, end):
        end = data.find(b"*/", end)  # an `#include` inside a block comment: the comment ends the region
        if end == -1:
            return len(data)
    while True:  # to the line end, over backslash continuations
        nl = data.find(b"\n", end)
        if nl == -1:
            return len(data)
        if data[max(0, nl - 1):nl] == b"\\" or data[max(0, nl - 2):nl] == b"\\\r":
            end = nl + 1
            continue
        return nl + 1


_compiled: dict[str, Any] = {}  # grammar -> tree_sitter.Query, compiled once per process (queries are immutable)


def query_for(grammar: str) -> Any | None:
    if grammar not in _QUERIES:
        return None
    q = _compiled.get(grammar)
    if q is None:
        from tree_sitter import Query
        from tree_sitter_language_pack import get_language

        q = _compiled[grammar] = Query(get_language(grammar), _QUERIES[grammar])  # type: ignore[arg-type]
    return q


@dataclass(frozen=True)
class Import:
    """One import statement: `kind` says how `target` is read (per language, see the module doc)."""

    kind: str
    target: str
    names: tuple[str, ...] = ()
    # A soft import is needed later than load time (Python: inside a function, an `if TYPE_CHECKING:` or
    # an `if __name__ == "__main__":` block; Rust: `pub use`, which re-exports): order breaks cycles there first.
    soft: bool = False


def file_imports(grammar: str, tree: Any, data: bytes) -> list[Import]:
    """The import statements of a parsed file (in source order), plus the declarations `RepoIndex` reads
    (kinds in DECLARATIONS: C# namespaces and Go package names; not import statements)."""
    from tree_sitter import QueryCursor

    query = query_for(grammar)
    if query is None or tree is None:
        return []
    found: list[tuple[int, Import]] = []
    for name, nodes in QueryCursor(query).captures(tree.root_node).items():
        if name.startswith("_"):
            continue
        for node in nodes:
            text = data[node.start_byte:node.end_byte].decode("utf-8", "replace")
            imp = _read(grammar, name, node, text, data)
            if imp is not None:
                found.append((node.start_byte, imp))
    found.sort(key=lambda x: x[0])
    return [imp for _, imp in found]


def _unquote(text: str) -> str:
    return text.strip().strip("\"'`<>")


def _node_text(node: Any, data: bytes) -> str:
    return data[node.start_byte:node.end_byte].decode("utf-8", "replace")


def _nested_python(node: Any, data: bytes) -> bool:
    """Inside a function body, an `if TYPE_CHECKING:` block (type hints only) or an
    `if __name__ == "__main__":` block (a demo or script): not needed to load the module."""
    p = node.parent
    while p is not None:
        if p.type in ("function_definition", "lambda"):
            return True
        if p.type == "if_statement":
            cond = p.child_by_field_name("condition")
            if cond is not None and re.search(rb"TYPE_CHECKING|__name__", data[cond.start_byte:cond.end_byte]):
                return True
        p = p.parent
    return False


def _read(grammar: str, capture: str, node: Any, text: str, data: bytes) -> Import | None:
    imp = _read_statement(grammar, capture, node, text, data)
    if imp is not None and grammar == "python" and _nested_python(node, data):
        return Import(imp.kind, imp.target, imp.names, soft=True)
    if imp is not None and grammar == "rust":
        return _rust_in_scope(imp, node.parent, data)
    return imp


def _rust_in_scope(imp: Import, use: Any, data: bytes) -> Import:
    """A Rust `use` with the inline modules it sits in (`mod tests { use super::*; }`: there `super` is
    the file's own module) as `names`; soft when it re-exports (`pub use`) or sits in test code (a
    `#[cfg(test)]` or `mod tests` module), which the file's own code does not need."""
    scope: list[str] = []
    test = False
    p = use.parent
    while p is not None:
        if p.type == "mod_item":
            name = p.child_by_field_name("name")
            scope.insert(0, _node_text(name, data) if name is not None else "_")
            attrs = []
            prev = p.prev_named_sibling
            while prev is not None and prev.type == "attribute_item":
                attrs.append(_node_text(prev, data))
                prev = prev.prev_named_sibling
            test = test or scope[0] in ("test", "tests") or any(re.search(r"cfg\(\s*test\s*\)", a) for a in attrs)
        p = p.parent
    reexport = any(c.type == "visibility_modifier" for c in use.children)
    kind = "rust_pub_use" if reexport and not scope else imp.kind
    return Import(kind, imp.target, tuple(scope), soft=reexport or test)


def _read_statement(grammar: str, capture: str, node: Any, text: str, data: bytes) -> Import | None:
    if grammar == "python":
        if capture == "import":  # import a.b, c as d: one statement, each module resolved
            mods = [c.child_by_field_name("name") if c.type == "aliased_import" else c for c in node.children_by_field_name("name")]
            return Import("py_import", ",".join(_node_text(m, data) for m in mods if m is not None)) if mods else None
        module = node.child_by_field_name("module_name")
        if module is None:
            return None
        names = []
        for c in node.children_by_field_name("name"):
            n = c.child_by_field_name("name") if c.type == "aliased_import" else c
            if n is not None:
                names.append(_node_text(n, data))
        return Import("py_from", re.sub(r"\s+", "", _node_text(module, data)), tuple(names))
    if grammar == "java":
        body = re.sub(r"\s+|//[^\n]*|/\*.*?\*/", "", text[len("import"):], flags=re.DOTALL).rstrip(";")
        if body.startswith("static"):
            return Import("java_static", body[len("static"):])
        return Import("java", body)
    if grammar == "csharp":
        if capture == "namespace":
            return Import("namespace", re.sub(r"\s+", "", text))
        body = re.sub(r"\s+", " ", text).strip().rstrip(";")
        body = re.sub(r"^(global )?using (static )?", "", body)
        if "=" in body:  # using X = A.B.C;  an alias of a type or namespace
            body = body.split("=", 1)[1]
        return Import("csharp", body.replace(" ", ""))
    if grammar in ("c", "cpp"):
        return Import("include_quoted" if text.startswith('"') else "include_system", _unquote(text))
    if grammar == "go":
        return Import("go_package", text) if capture == "package" else Import("go", _unquote(text))
    if grammar == "rust":
        return Import("rust_use", re.sub(r"\s+", " ", re.sub(r"//[^\n]*|/\*.*?\*/", " ", text, flags=re.DOTALL)).strip())
    return Import("js", _unquote(text))  # javascript, typescript, tsx


# ------------------------------------------------------------------------------------ resolution


def _common_prefix(a: str, b: str) -> int:
    pa, pb = a.split("/")[:-1], b.split("/")[:-1]
    n = 0
    for x, y in zip(pa, pb):
        if x != y:
            break
        n += 1
    return n


def _nearest(importer: str, candidates: Iterable[str]) -> str | None:
    best = None
    for c in candidates:
        if c == importer:
            continue
        key = (_common_prefix(importer, c), -c.count("/"), c)
        if best is None or key[:2] > best[0][:2] or (key[:2] == best[0][:2] and c < best[1]):
            best = (key, c)
    return best[1] if best else None


_JS_EXTS = ("", ".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
_RUST_ROOTS = ("lib.rs", "main.rs")


class RepoIndex:
    """The file paths of one repository (repository-relative, `/`-separated) and the lookup tables the
    resolvers need, built once per repository. `namespaces` (C#) come from the files' own imports."""

    def __init__(self, paths: Iterable[str], declared: Iterable[tuple[str, Import]] = ()) -> None:
        self.paths = set(paths)
        self.namespaces: dict[str, list[str]] = defaultdict(list)  # C#: namespace -> files declaring it
        self.go_packages: dict[str, str] = {}  # Go: folder -> the package its (non-test) files declare
        self.rust_reexports: dict[str, dict[str, str]] = defaultdict(dict)  # Rust: file -> {name: path it re-exports}
        self.rust_crates: dict[str, str] = {}  # Rust: library crate name -> its root file (from Cargo.toml)
        self.py_reexports: dict[str, dict[str, Import]] = defaultdict(dict)  # Python: __init__ -> {name: its from-import}
        self._py_reexport_memo: dict[tuple[str, str], list[str]] = {}
        for path, imp in declared:
            if imp.kind == "namespace":
                self.namespaces[imp.target].append(path)
            elif imp.kind == "go_package" and not path.endswith("_test.go"):
                self.go_packages.setdefault(posixpath.dirname(path), imp.target)
            elif imp.kind == "rust_crate":
                self.rust_crates.setdefault(imp.target, imp.names[0])
            elif imp.kind == "py_from" and not imp.soft:
                for name in imp.names:
                    self.py_reexports[path].setdefault(name, imp)
            elif imp.kind == "rust_pub_use":
                for name, full in _use_names(imp.target):
                    self.rust_reexports[path].setdefault(name, full)
        dirs: set[str] = {posixpath.dirname(p) for p in self.paths}
        self._py_init_dirs = {posixpath.dirname(p) for p in self.paths if posixpath.basename(p) in ("__init__.py", "__init__.pyi")}
        self.py_modules: dict[str, list[str]] = defaultdict(list)
        self.suffix: dict[str, list[str]] = defaultdict(list)  # "a/b/C.java" and every shorter tail -> paths
        self.dir_files: dict[str, list[str]] = defaultdict(list)
        self.dir_suffix: dict[str, list[str]] = defaultdict(list)  # "a/b" tail of a folder -> folders
        for p in sorted(self.paths):
            d = posixpath.dirname(p)
            self.dir_files[d].append(p)
            parts = p.split("/")
            for k in range(len(parts)):
                self.suffix["/".join(parts[k:])].append(p)
            if p.endswith((".py", ".pyi")):
                self.py_modules[self._py_module(p)].append(p)
        for d in sorted(dirs):
            parts = d.split("/") if d else []
            for k in range(len(parts)):
                self.dir_suffix["/".join(parts[k:])].append(d)

    def _py_module(self, path: str) -> str:
        """Dotted module name: the path from the highest folder of its package chain."""
        stem = posixpath.splitext(posixpath.basename(path))[0]
        parts = [] if stem == "__init__" else [stem]
        d = posixpath.dirname(path)
        while d and d in self._py_init_dirs:
            parts.insert(0, posixpath.basename(d))
            d = posixpath.dirname(d)
        return ".".join(parts)

    # -------------------------------------------------------------------------------- per language

    @staticmethod
    def soft_target(importer: str, target: str) -> bool:
        """A Python file importing its own package's `__init__` (`from numpy import x` inside numpy/):
        the `__init__` re-exports the package's modules, so it is the one that depends on them."""
        if posixpath.basename(target) not in ("__init__.py", "__init__.pyi"):
            return False
        folder = posixpath.dirname(target)
        return not folder or importer.startswith(folder + "/")

    def resolve(self, importer: str, imp: Import) -> list[str]:
        """The repository files one import statement names (empty: unresolved); never the importer."""
        fn = getattr(self, "_" + imp.kind, None)
        found = fn(importer, imp) if fn else []
        return sorted({f for f in found if f != importer and f in self.paths})

    def _py_file(self, dotted: str) -> list[str]:
        return self.py_modules.get(dotted, [])

    def _py_import(self, importer: str, imp: Import) -> list[str]:
        out: list[str] = []
        for mod in imp.target.split(","):
            parts = mod.split(".")
            for k in range(len(parts), 0, -1):  # import a.b.c: the deepest module that exists
                hit = self._py_file(".".join(parts[:k]))
                if hit:
                    out.append(_nearest(importer, hit) or hit[0])
                    break
            else:
                here = posixpath.join(posixpath.dirname(importer), parts[0] + ".py")
                if here in self.paths:  # a script importing its sibling
                    out.append(here)
        return out

    def _py_from(self, importer: str, imp: Import) -> list[str]:
        target = imp.target
        dots = len(target) - len(target.lstrip("."))
        rest = [p for p in target[dots:].split(".") if p]
        if dots:  # relative: from the importing file's package, one folder up per extra dot
            base = posixpath.dirname(importer)
            for _ in range(dots - 1):
                base = posixpath.dirname(base)
            folder = posixpath.join(base, *rest) if rest else base

            def module_files(folder_path: str) -> list[str]:
                return [f for f in (folder_path + ".py", folder_path + ".pyi", posixpath.join(folder_path, "__init__.py"),
                                    posixpath.join(folder_path, "__init__.pyi")) if f in self.paths]

            subs, items = [], []
            for n in imp.names:
                found = module_files(posixpath.join(folder, n))
                (subs.extend(found) if found else items.append(n))
            own = module_files(folder) if rest or items else []
            return subs + self._py_items(own[:1], items)
        module = ".".join(rest)
        subs, items = [], []
        for n in imp.names:
            found = self._py_file(f"{module}.{n}")[:1]
            (subs.extend(found) if found else items.append(n))
        if items or not imp.names:
            own = self._py_import(importer, Import("py_import", module))
            return subs + self._py_items(own, items)
        return subs

    def _py_items(self, own: list[str], items: list[str]) -> list[str]:
        """The files that define `items` (names that are not submodules) imported from the module `own`:
        a package's `__init__` that re-exports a name (`from .core import run`) leads on to the module
        that defines it (the reader needs that one first); the `__init__` itself stays for the names it
        does not re-export by name."""
        if len(own) != 1 or not items or posixpath.basename(own[0]) not in ("__init__.py", "__init__.pyi"):
            return own
        init = own[0]
        out: list[str] = []
        keep = False
        for n in items:
            targets = self._py_reexported(init, n)
            out += targets
            keep = keep or not targets
        return sorted(set(out + own if keep else out))

    def _py_reexported(self, init: str, name: str) -> list[str]:
        key = (init, name)
        if key not in self._py_reexport_memo:
            self._py_reexport_memo[key] = []  # a cycle of re-exports ends here
            imp = self.py_reexports.get(init, {}).get(name)
            self._py_reexport_memo[key] = self.resolve(init, Import("py_from", imp.target, (name,))) if imp else []
        return self._py_reexport_memo[key]

    def _java(self, importer: str, imp: Import) -> list[str]:
        parts = imp.target.split(".")
        if parts[-1] == "*":
            folders = self.dir_suffix.get("/".join(parts[:-1]), [])
            d = _nearest(importer, [f + "/x" for f in folders])
            return [f for f in self.dir_files.get(posixpath.dirname(d), []) if f.endswith(".java")] if d else []
        for k in range(len(parts), 1, -1):  # a.b.C.Inner: the deepest class file (package + class)
            hit = self.suffix.get("/".join(parts[:k]) + ".java")
            if hit:
                return [_nearest(importer, hit) or hit[0]]
        return []

    def _java_static(self, importer: str, imp: Import) -> list[str]:
        parts = imp.target.split(".")
        return self._java(importer, Import("java", ".".join(parts[:-1])))

    def _csharp(self, importer: str, imp: Import) -> list[str]:
        if imp.target in self.namespaces:
            return self.namespaces[imp.target]
        # using static A.B.Type / using X = A.B.Type: the namespace that holds the type
        head = imp.target.rsplit(".", 1)[0]
        return self.namespaces.get(head, []) if "." in imp.target else []

    def _include_quoted(self, importer: str, imp: Import) -> list[str]:
        here = posixpath.normpath(posixpath.join(posixpath.dirname(importer), imp.target))
        if here in self.paths:
            return [here]
        return self._include_system(importer, imp)

    def _include_system(self, importer: str, imp: Import) -> list[str]:
        tail = posixpath.normpath(imp.target).lstrip("./")
        while tail.startswith("../"):
            tail = tail[3:]
        hit = self.suffix.get(tail, [])
        best = _nearest(importer, hit)
        return [best] if best else []

    def _js(self, importer: str, imp: Import) -> list[str]:
        spec = imp.target.split("?")[0]
        if not spec.startswith((".", "/")):
            return []  # a package name
        base = posixpath.normpath(posixpath.join(posixpath.dirname(importer), spec))
        stems = [base]
        for ext in (".js", ".jsx", ".mjs", ".cjs"):  # TypeScript's ESM convention: "./x.js" names x.ts
            if base.endswith(ext):
                stems.append(base[: -len(ext)])
        for stem in stems:
            for ext in _JS_EXTS:
                if stem + ext in self.paths:
                    return [stem + ext]
        for ext in _JS_EXTS[1:]:
            index = posixpath.join(base, "index" + ext)
            if index in self.paths:
                return [index]
        return []

    def _go(self, importer: str, imp: Import) -> list[str]:
        parts = imp.target.split("/")
        if "." not in parts[0]:
            return []  # the standard library: its paths have no domain ("fmt", "net/http")
        for k in range(1, len(parts)):  # the longest tail of the path that is a folder of Go files
            folders = [d for d in self.dir_suffix.get("/".join(parts[k:]), []) if self._go_files(d)]
            if folders:
                d = _nearest(importer, [f + "/x" for f in folders])
                return self._go_files(posixpath.dirname(d) if d else folders[0])
        # The repository's root package: its import path ends in the package name its files declare
        # (or in that name and a major version, `gopkg.in/yaml.v3`, `example.com/m/v2`).
        root = self.go_packages.get("")
        tail = [p for p in parts[-2:] if not re.fullmatch(r"v\d+", p)]
        if root and tail and re.sub(r"[.-]v\d+$|^go-", "", tail[-1]) == root:
            return self._go_files("")
        return []

    def _go_files(self, folder: str) -> list[str]:
        return [f for f in self.dir_files.get(folder, []) if f.endswith(".go") and not f.endswith("_test.go")]

    # Rust: a module is a file; its folder holds its children (`a.rs` -> `a/`, `a/mod.rs` -> `a/`).

    def _rust_crate_root(self, importer: str) -> str:
        d = posixpath.dirname(importer)
        while True:
            if any(posixpath.join(d, r) in self.paths for r in _RUST_ROOTS):
                return d
            if not d:
                return posixpath.dirname(importer)
            d = posixpath.dirname(d)

    @staticmethod
    def _rust_mod_dir(path: str) -> str:
        name = posixpath.basename(path)
        if name in ("mod.rs", *_RUST_ROOTS):
            return posixpath.dirname(path)
        return posixpath.splitext(path)[0]

    def _rust_module_file(self, folder: str, segments: list[str]) -> tuple[str | None, int]:
        """The deepest existing module file along `segments` from `folder`, and the segments it took."""
        best, taken = None, 0
        for k, seg in enumerate(segments):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", seg):
                break
            f1, f2 = posixpath.join(folder, seg + ".rs"), posixpath.join(folder, seg, "mod.rs")
            if f1 in self.paths:
                best = f1
            elif f2 in self.paths:
                best = f2
            else:
                break
            taken = k + 1
            folder = posixpath.join(folder, seg)
        return best, taken

    def _rust_root_file(self, folder: str) -> str | None:
        return next((posixpath.join(folder, r) for r in _RUST_ROOTS if posixpath.join(folder, r) in self.paths), None)

    def _rust_locate(self, importer: str, scope: tuple[str, ...], segs: list[str]) -> tuple[str | None, list[str]]:
        """The module file a `use` path names from `importer` (inside its inline modules `scope`), and the
        segments after it (the item names)."""
        if segs[0] == "crate":
            folder, rest = self._rust_crate_root(importer), segs[1:]
        elif segs[0] in ("self", "super"):
            folder = posixpath.join(self._rust_mod_dir(importer), *scope)
            rest = segs
            while rest and rest[0] in ("self", "super"):
                if rest[0] == "super":
                    folder = posixpath.dirname(folder)
                rest = rest[1:]
        else:  # 2018 paths: a first segment that names a child module of this one
            folder, rest = posixpath.join(self._rust_mod_dir(importer), *scope), segs
        hit, taken = self._rust_module_file(folder, rest)
        if hit is None and segs[0] not in ("crate", "self", "super"):
            root = self._rust_crate_root(importer)
            if posixpath.dirname(importer) == root:  # 2015 paths: from the crate root
                hit, taken = self._rust_module_file(root, rest)
        if hit is None and self.rust_crates.get(segs[0]) in self.paths:  # another crate of the repository
            root_file = self.rust_crates[segs[0]]
            rest = segs[1:]
            hit, taken = self._rust_module_file(posixpath.dirname(root_file), rest)
            hit = hit or root_file
        if hit is None and segs[0] in ("self", "super"):
            # `use super::X`: the named module's own file (`a.rs`, `a/mod.rs`, or the crate root)
            own = folder + ".rs"
            hit = own if own in self.paths else next(
                (f for f in (posixpath.join(folder, "mod.rs"), self._rust_root_file(folder)) if f in self.paths), None)
        if hit is None and segs[0] == "crate":
            hit = self._rust_root_file(folder)
        return hit, rest[taken:]

    def _rust_follow(self, importer: str, scope: tuple[str, ...], segs: list[str], depth: int = 0) -> str | None:
        """The file a `use` path resolves to; an item the module re-exports (`pub use x::Item;` in it)
        resolves on to the file the re-export names, so `use crate::Error` finds `error.rs`, not `lib.rs`."""
        hit, rest = self._rust_locate(importer, scope, segs)
        if hit is not None and rest and depth < 8:
            target = self.rust_reexports.get(hit, {}).get(rest[0])
            if target is not None:
                deeper = self._rust_follow(hit, (), target.split("::") + rest[1:], depth + 1)
                if deeper is not None:
                    return deeper
        return hit

    def _rust_use(self, importer: str, imp: Import) -> list[str]:
        out = []
        for path in _expand_use(imp.target):
            hit = self._rust_follow(importer, imp.names, path.split("::"))
            if hit:
                out.append(hit)
        return out

    _rust_pub_use = _rust_use


def _use_names(tree: str) -> list[tuple[str, str]]:
    """(name brought in, full path) of each path of a `use` tree: `a::{B, c::D as E}` -> (B, a::B),
    (E, a::c::D); globs left out."""
    out = []
    for path in _expand_use(tree, raw=True):
        full, _, alias = path.partition(" as ")
        name = alias or full.rsplit("::", 1)[-1]
        if name not in ("*", "self", "super", "crate") and not full.endswith("::*"):
            out.append((name, full))
    return out


def _expand_use(tree: str, raw: bool = False) -> list[str]:
    """`a::{b, c::{d, e as f}, g::*}` -> [`a::b`, `a::c::d`, `a::c::e`, `a::g`]: aliases and globs dropped,
    unless `raw` (then `a::c::e as f`, `a::g::*`)."""
    tree = re.sub(r"\s*(::|[{},])\s*", r"\1", tree.strip())
    if "{" not in tree:
        path, _, alias = tree.partition(" as ")
        path = path.replace(" ", "")
        if raw:
            return [f"{path} as {alias.strip()}" if alias.strip() else path]
        return [path.removesuffix("::*")]
    head, _, rest = tree.partition("{")
    inner = rest[: rest.rfind("}")]
    items, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    items.append(cur)
    out = []
    for item in items:
        if not item or item == "*":
            continue
        if item == "self" or item.startswith("self "):
            out.extend(_expand_use(head.rstrip(":") + item[len("self"):], raw))
        else:
            out.extend(_expand_use(head + item, raw))
    return out
