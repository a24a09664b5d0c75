"""Syntax signal of a code file: the share of its bytes inside tree-sitter ERROR / MISSING nodes
(`lang_registry.ts_parse`), and the optional rule `max_syntax_error_fraction` of the rule table.

The rule is off unless the table sets it for a language (or in `default`); languages whose grammar
reports errors in valid code (FALSE_ERROR_LANGUAGES, measured on installed real code: see
docs/treesitter.md) never get it, whatever the table says, and a file with no safe grammar or
whose parse ran out of time (signal None) passes.
"""

from __future__ import annotations

from typing import Any

from lang_registry import load_registry, ts_parse

RULE = "max_syntax_error_fraction"
SYNTAX_SIGNAL = "syntax_error_fraction"
# Measured (docs/treesitter.md): > 5% of valid installed files of these languages read above 0.01
# (tree-sitter misparses macros and dynamic syntax); CUDA and Objective-C share the C/C++ preprocessor.
FALSE_ERROR_LANGUAGES: frozenset[str] = frozenset({
    "C", "C++", "CUDA", "Objective-C", "Objective-C++",  # preprocessor macros (attributes, #if inside lists)
    "Tcl", "VimL", "Perl",
})

_registry: Any = None


def _get_registry() -> Any:
    global _registry
    if _registry is None:
        _registry = load_registry()  # $CORPUS_LANG_REGISTRY or the packaged table, as langid uses
    return _registry


def syntax_error_fraction(text: str, language: str | None) -> float | None:
    """0.0 for a clean parse, up to 1.0; None without a safe grammar for the language (or on timeout)."""
    return ts_parse.syntax_error_fraction(_get_registry(), language, text.encode("utf-8", "surrogatepass"))
