"""The dependency rules of docs/contracts.md, checked on the imports each library really makes."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

RULES = {
    "lang_registry": ["ray", "corpus", "pipelines", "tokenizer", "classifiers", "pretrain"],
    "classifiers": ["ray", "corpus", "pipelines", "tokenizer", "lang_registry", "pretrain"],
    "tokenizer": ["ray", "corpus", "pipelines", "lang_registry", "classifiers", "pretrain"],
    "redact": ["ray", "corpus", "pipelines", "tokenizer", "lang_registry", "classifiers", "pretrain"],
    "pretrain": ["ray", "corpus", "pipelines", "tokenizer", "lang_registry", "classifiers", "datatrove"],
    # The decontamination library: text, index, benchmarks, scan, report data. The command and the HTML page
    # live on the corpus side (corpus/commands/decont, corpus/runreport/decontamination.py).
    "decont": ["ray", "corpus", "pipelines", "tokenizer", "lang_registry", "classifiers", "pretrain"],
    "corpus.engine": ["pipelines", "corpus.stages", "corpus.commands"],
    # Stages talk to the runner protocol (corpus.engine.context / corpus.engine.runner), never to Ray or the executor.
    "corpus.stages": ["ray", "corpus.engine.executor", "corpus.engine.ray_runner", "corpus.commands", "pipelines"],
    "corpus.ops": ["ray", "corpus.engine.executor", "corpus.engine.ray_runner", "corpus.stages", "pipelines"],
    "corpus.storage": ["ray", "corpus.engine", "corpus.stages", "pipelines"],
    # The run report reads a finished output folder: no Ray, no executor, no stage code.
    "corpus.runreport": ["ray", "corpus.engine.executor", "corpus.engine.ray_runner", "corpus.stages", "pipelines"],
}


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_imports_only_what_the_layering_allows(package: str) -> None:
    import importlib
    import pkgutil

    mod = importlib.import_module(package)
    names = [package] + [m.name for m in pkgutil.walk_packages(getattr(mod, "__path__", []), prefix=f"{package}.")]
    code = "import sys\n" + "".join(f"import {n}\n" for n in names) + (
        f"rules = {RULES[package]!r}\n"
        "bad = sorted(m for m in sys.modules if any(m == r or m.startswith(r + '.') for r in rules))\nprint(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "", f"{package} pulled in {out.stdout.strip()}"


STAGE_FORBIDDEN = ("ray", "corpus.engine.executor", "corpus.engine.ray_runner", "pipelines")


def test_stages_never_import_ray_or_the_engine_even_inside_functions() -> None:
    """Imports inside functions escape the sys.modules check above: read every import statement."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "corpus"
    files = sorted((root / "stages").rglob("*.py")) + sorted((root / "ops").glob("*.py"))
    offenders = []
    for path in files:
        if not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                if any(name == f or name.startswith(f + ".") for f in STAGE_FORBIDDEN):
                    offenders.append(f"{path.relative_to(root.parent)}:{node.lineno} imports {name}")
    assert offenders == []


PROJECT_PACKAGES = ("corpus", "decont", "redact", "pipelines", "classifiers", "lang_registry", "tokenizer", "pretrain")


def _module_imports() -> dict[str, set[str]]:
    """Every project module and the project modules it imports (at the top level or inside functions)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    modules: dict[str, Path] = {}
    for pkg in PROJECT_PACKAGES:
        for path in (root / pkg).rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    deps.add(target)
        graph[name] = deps
    return graph


def test_the_import_graph_has_no_circle() -> None:
    """A module never imports (directly or through others) a module that imports it back; a package's
    __init__ importing its own submodules is the one allowed edge inward."""
    graph = _module_imports()
    for name, deps in graph.items():  # a package may re-export its submodules
        graph[name] = {d for d in deps if not d.startswith(name + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                circles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert circles == [], "import circles: " + "; ".join(" -> ".join(c) for c in circles)


@pytest.mark.parametrize("package", ["decont", "redact", "lang_registry", "classifiers", "tokenizer", "pretrain"])
def test_plain_libraries_import_nothing_forbidden_even_inside_functions(package: str) -> None:
    """The sys.modules check above sees only what importing a module pulls in; a library that imports the
    corpus package inside a function (to open a file, say) would still break its layering."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    forbidden = RULES[package]
    offenders = []
    for path in sorted((root / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            offenders += [f"{path.relative_to(root)}:{node.lineno} imports {n}" for n in names
                          if any(n == f or n.startswith(f + ".") for f in forbidden)]
    assert offenders == []


# What an in-function import of project code says on its line: the heavy import it defers, or the module that
# imports this one back.
IMPORT_REASON = re.compile(r"#\s*(deferred|cycle):\s*\S")


def _unexplained_inner_imports() -> dict[str, list[str]]:
    """Per file (relative path): the imports of project modules made inside a function without a reason."""
    root = Path(__file__).resolve().parent.parent
    found: dict[str, list[str]] = {}
    for pkg in PROJECT_PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            lines = path.read_text().splitlines()
            functions = [n for n in ast.walk(ast.parse("\n".join(lines)))
                         if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]
            inner = {n for f in functions for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
            for node in sorted(inner, key=lambda n: n.lineno):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    names = ["." * node.level + (node.module or "")]
                if not any(n.startswith(".") or n.split(".")[0] in PROJECT_PACKAGES for n in names):
                    continue
                text = lines[node.lineno - 1: node.end_lineno]
                if not any(IMPORT_REASON.search(line) for line in text):
                    found.setdefault(str(path.relative_to(root)), []).append(f"{node.lineno}: {text[0].strip()}")
    return found


def test_imports_of_project_code_inside_functions_say_why() -> None:
    """Project code is imported at the module top; inside a function only to defer a heavy import or to break a
    real cycle, and the line says which (`# deferred: torch`, `# cycle: corpus.x imports this module`)."""
    found = _unexplained_inner_imports()
    offenders = [f"{path}:{line}" for path, lines in sorted(found.items()) for line in lines]
    assert offenders == [], "hoist these imports, or say why they wait (# deferred: ... / # cycle: ...):\n" + \
        "\n".join(offenders)
