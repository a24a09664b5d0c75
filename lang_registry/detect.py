"""Per-file language detection.

Order: exact filename -> Linguist's file names of languages outside the 338 (`go.mod` is Go Module:
reported as such, never guessed from `.mod`) -> unique extension -> curated file-name patterns
(`Dockerfile.*`) -> shebang / modeline -> disambiguation of a shared extension (content rules, then
tree-sitter parse quality when the candidates have grammars, then the documented default). Only the
bounded prefix of a file is ever inspected.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from lang_registry import cfamily, flags, ts_score
from lang_registry.registry import Ambiguity, Registry, load_registry

PREFIX_BYTES = 65536  # heuristics, modelines and flags look at no more than this
HEURISTIC_CHARS = 16384
RULE_CHARS_AFTER_STRIP = 8192  # C-family code left after stripping comments: 8 KiB of it is plenty


@dataclass(frozen=True)
class Detection:
    language: str | None
    # filename | outside-filename | extension | filename-pattern | shebang | modeline | heuristic | tree-sitter
    # | default | None
    method: str | None
    vendored: bool = False
    generated: bool = False
    binary: bool = False
    outside: tuple[str, str] | None = None  # (Linguist name, type) when Linguist names the file outside the 338


_SHEBANG_RE = re.compile(r"\A#!\s*(\S+)(.*)")
_EMACS_RE = re.compile(r"-\*-(?:(?:.*?\bmode\s*:\s*([\w+#.-]+))|\s*([\w+#.-]+))\s*(?:;.*?)?-\*-", re.IGNORECASE)
_VIM_RE = re.compile(r"(?:^|\s)(?:vim?|ex)(?:\d*)?:.*?\b(?:ft|filetype|syntax)\s*=\s*([\w+#.-]+)", re.IGNORECASE)


def detect(path: str, data: bytes, registry: Registry | None = None) -> Detection:
    """Language, deciding method and flags of one file (`data` = raw bytes; only a prefix is read)."""
    reg = registry if registry is not None else load_registry()
    prefix = data[:PREFIX_BYTES]
    vendored = flags.is_vendored(path)
    if flags.is_binary(prefix):
        return Detection(None, None, vendored, False, True)
    text = prefix.decode("utf-8", errors="replace")
    generated = flags.is_generated(path, text)
    language, method = classify(reg, path, text, prefix)
    outside = reg.outside_language(posixpath.basename(path.replace("\\", "/"))) if method == OUTSIDE else None
    return Detection(language, method, vendored, generated, False, outside)


OUTSIDE = "outside-filename"  # the method of a file Linguist names outside the 338 (language None)


def classify(reg: Registry, path: str, text: str, raw: bytes = b"") -> tuple[str | None, str | None]:
    base = posixpath.basename(path.replace("\\", "/"))
    hit = reg.by_filename(base)
    if hit:
        return hit, "filename"
    if reg.outside_language(base):  # Linguist's file names come before extensions, as in Linguist
        return None, OUTSIDE
    hit = reg.case_sensitive_language(base)
    if hit:
        return hit, "extension"
    ext = reg.extension_of(base)
    amb = reg.ambiguous.get(ext) if ext else None
    if ext and amb is None:
        cands = reg.extension_candidates(ext)
        if len(cands) == 1:
            return cands[0], "extension"
    hit = reg.by_name_pattern(base)
    if hit:
        return hit, "filename-pattern"
    interp = shebang_interpreter(text)
    lang = reg.by_interpreter(interp) if interp else None
    if lang and not (amb is not None and lang not in amb.candidates
                     and set(reg.interpreter_claimants(interp or "")) & set(amb.candidates)):
        return lang, "shebang"
    # Otherwise the file's own extension outranks a generic interpreter (one Linguist lists for several
    # languages): a `.ts` file with `#!/usr/bin/env node` is TypeScript run by node, not JavaScript.
    lang = modeline_language(reg, text)
    if lang:
        return lang, "modeline"
    if amb is not None:
        return disambiguate(reg, amb, text, raw or text.encode("utf-8", "replace"))
    if ext:
        cands = reg.extension_candidates(ext)
        if cands:  # several claimants without an ambiguity entry (e.g. added without --ambiguous-with)
            return cands[0], "default"
    return None, None


def code_related(reg: Registry, path: str) -> str | None:
    """Name of a code-related data / text file outside the 338 (YAML, TOML, INI, Markdown, ...), or None.

    Only meaningful when `detect` found none of the 338: e.g. `config.yml` -> YAML, `README.md` -> Markdown.
    """
    clean = path.replace("\\", "/")
    return reg.related_language(posixpath.basename(clean), clean)


def shebang_interpreter(text: str) -> str | None:
    """Program named by a `#!` line (`#!/usr/bin/env -S node --flag` -> node), or None."""
    m = _SHEBANG_RE.match(text[:512])
    if not m:
        return None
    prog = posixpath.basename(m.group(1))
    rest = m.group(2).split()
    if prog == "env":  # /usr/bin/env [-S] [VAR=val ...] prog
        rest = [a for a in rest if not a.startswith("-") and "=" not in a]
        if not rest:
            return None
        prog = posixpath.basename(rest[0])
    return prog


def shebang_language(reg: Registry, text: str) -> str | None:
    prog = shebang_interpreter(text)
    return reg.by_interpreter(prog) if prog else None


def modeline_language(reg: Registry, text: str) -> str | None:
    lines = text.split("\n", 5)[:5]
    tail = text[-2000:].rsplit("\n", 5)[-5:] if len(text) > 0 else []
    for line in lines:
        m = _EMACS_RE.search(line)
        if m:
            lang = reg.by_alias((m.group(1) or m.group(2) or "").strip())
            if lang:
                return lang
    for line in lines + tail:
        m = _VIM_RE.search(line)
        if m:
            lang = reg.by_alias(m.group(1))
            if lang:
                return lang
    return None


def disambiguate(reg: Registry, amb: Ambiguity, text: str, raw: bytes) -> tuple[str | None, str | None]:
    head = text[:HEURISTIC_CHARS]
    if amb.preprocess == "c":
        head = cfamily.strip_c_noise(head, RULE_CHARS_AFTER_STRIP)[:RULE_CHARS_AFTER_STRIP]
    for language, pattern in amb.rules:
        if pattern.search(head):
            # A rule naming a language outside the 338 means: not one of ours.
            return (language if language in reg else None), "heuristic"
    lang = tree_sitter_choice(reg, amb.candidates, raw) if amb.tree_sitter else None
    if lang:
        return lang, "tree-sitter"
    if amb.default is None:
        return None, None  # no rule recognised the file and the extension has no trustworthy default
    return amb.default, "default"


def tree_sitter_choice(reg: Registry, candidates: tuple[str, ...], raw: bytes) -> str | None:
    """Lowest error-byte ratio among candidates with a safe grammar; ties keep the candidate order.

    Runs only when the default candidate and at least one other have usable grammars, so a grammar-less
    default is never overruled just because it cannot be parsed.
    """
    graded: list[tuple[str, str]] = []
    looks_markup = raw.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")
    for name in candidates:
        e = reg.entries.get(name)
        if e is None or not e.grammar or e.grammar in reg.unsafe_grammars:
            continue
        if name == "XML" and not looks_markup:  # an XML document starts with '<': no parse needed
            continue
        graded.append((name, e.grammar))
    if len(graded) < 2 or graded[0][0] != candidates[0]:
        return None
    scores: dict[str, float] = {}
    best_name, best = None, 2.0
    for name, grammar in graded:
        if grammar not in scores:
            r = ts_score.error_ratio(grammar, raw)
            scores[grammar] = 2.0 if r is None else r
        if scores[grammar] < best:
            best_name, best = name, scores[grammar]
    return best_name if best <= 1.0 else None
