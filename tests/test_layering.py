"""The dependency rules of docs/contracts.md, checked on the imports each library really makes."""

from __future__ import annotations

import subprocess
import sys

import pytest

RULES = {
    "lang_registry": ["ray", "corpus", "pipelines", "tokenizer", "classifiers", "pretrain"],
    "classifiers": ["ray", "corpus", "pipelines", "tokenizer", "lang_registry", "pretrain"],
    "tokenizer": ["ray", "corpus", "pipelines", "lang_registry", "classifiers", "pretrain"],
    "pretrain": ["ray", "corpus", "pipelines", "tokenizer", "lang_registry", "classifiers", "datatrove"],
    "corpus.engine": ["pipelines"],
}


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_imports_only_what_the_layering_allows(package: str) -> None:
    import importlib
    import pkgutil

    mod = importlib.import_module(package)
    names = [package] + [m.name for m in pkgutil.walk_packages(getattr(mod, "__path__", []), prefix=f"{package}.")]
    code = "import sys\n" + "".join(f"import {n}\n" for n in names) + (
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {RULES[package]!r})\nprint(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "", f"{package} pulled in {out.stdout.strip()}"
