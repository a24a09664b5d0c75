"""TEMPORARY minimal detector so the pipeline skeleton runs; replaced by the full registry (issue 3)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

_EXT = {".py": "Python", ".pyi": "Python", ".c": "C", ".h": "C", ".cc": "C++", ".hpp": "C++", ".js": "JavaScript",
        ".css": "CSS", ".html": "HTML", ".json": "JSON", ".yaml": "YAML", ".yml": "YAML", ".md": "Markdown",
        ".f90": "Fortran", ".f": "Fortran Fixed Form", ".pyx": "Cython", ".pxd": "Cython", ".xsl": "XSLT", ".sh": "Shell", ".cu": "Cuda"}


@dataclass(frozen=True)
class Detection:
    language: str | None
    method: str | None
    vendored: bool = False
    generated: bool = False
    binary: bool = False


class Registry:
    def path_comment(self, language: str, path: str) -> str:
        return f"# path: {path}"


def load_registry(path: str | None = None) -> Registry:
    return Registry()


def detect(path: str, data: bytes, registry: Registry | None = None) -> Detection:
    ext = PurePosixPath(path).suffix.lower()
    lang = _EXT.get(ext)
    return Detection(lang, "extension" if lang else None)
