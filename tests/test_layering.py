"""The dependency rules of docs/contracts.md, checked on the imports each library really makes."""

from __future__ import annotations

import subprocess
import sys

import pytest

RULES = {
    "lang_registry": ["ray", "corpus", "pipelines", "tokenizer", "classifiers", "pretrain"],
    "classifiers": ["ray", "corpus", "pipelines", "tokenizer", "lang_registry", "pretrain"],
    "tokenizer": ["ray", "corpus", "pipelines", "lang_registry", "classifiers", "pretrain"],
    "redact": ["ray", "corpus", "pipelines", "tokenizer", "lang_registry", "classifiers", "pretrain"],
    "pretrain": ["ray", "corpus", "pipelines", "tokenizer", "lang_registry", "classifiers", "datatrove"],
    "corpus.engine": ["pipelines", "ray"],
    # Stages talk to the runner protocol (corpus.context / corpus.runner), never to Ray or the executor.
    "corpus.stages": ["ray", "corpus.engine", "corpus.ray_runner", "pipelines"],
    "corpus.shuffle": ["ray", "corpus.engine", "corpus.ray_runner", "pipelines"],
    "corpus.storage": ["ray", "corpus.engine", "pipelines"],
    # The run report reads a finished output folder: no Ray, no executor, no stage code.
    "corpus.runreport": ["ray", "corpus.engine", "corpus.ray_runner", "corpus.stages", "pipelines"],
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


STAGE_FORBIDDEN = ("ray", "corpus.engine", "corpus.ray_runner", "pipelines")


def test_stages_never_import_ray_or_the_engine_even_inside_functions() -> None:
    """Imports inside functions escape the sys.modules check above: read every import statement."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "corpus"
    files = sorted((root / "stages").glob("*.py")) + [root / "shuffle.py", root / "components.py"]
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
