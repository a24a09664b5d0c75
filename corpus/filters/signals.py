"""Quality signals of a code file. Pure functions of the text; thresholds live in code_rules.yaml."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ASCII_LETTERS = bytes(range(ord("A"), ord("Z") + 1)) + bytes(range(ord("a"), ord("z") + 1))
_NON_ASCII_RUNS = re.compile(r"[^\x00-\x7f]+")


def alpha_count(text: str) -> int:
    """Characters for which str.isalpha() is true, at C speed: a per-character Python loop over every
    byte of the corpus made the filter stage run at 1.6 MB/s. ASCII letters are counted by deleting
    them from the bytes; only non-ASCII runs (rare in code) are looked at one character at a time."""
    if text.isascii():
        raw = text.encode("ascii")
        return len(raw) - len(raw.translate(None, _ASCII_LETTERS))
    ascii_part = _NON_ASCII_RUNS.sub("", text).encode("ascii")
    count = len(ascii_part) - len(ascii_part.translate(None, _ASCII_LETTERS))
    for run in _NON_ASCII_RUNS.findall(text):
        count += sum(1 for c in run if c.isalpha())
    return count


@dataclass(frozen=True)
class CodeSignals:
    chars: int
    avg_line_length: float
    max_line_length: int
    alpha_fraction: float
    xml_header: bool


def code_signals(text: str) -> CodeSignals:
    # Line lengths exclude the line break, as str.splitlines() does (recipe §7 item 2).
    lengths = [len(line) for line in text.splitlines()] or [0]
    n = len(text)
    return CodeSignals(
        chars=n,
        avg_line_length=sum(lengths) / len(lengths),
        max_line_length=max(lengths),
        # DeepSeek's text says "alphabetic" (StarCoder's code uses alphanumeric): we follow DeepSeek.
        alpha_fraction=(alpha_count(text) / n) if n else 0.0,
        xml_header="<?xml version=" in text[:100],
    )


def html_visible_text(html: str) -> str:
    """Visible text of an HTML file: script and style elements removed, as the StarCoder reference does."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style"]):
        tag.decompose()
    return soup.get_text()


# ------------------------------------------------------------------------------------- prose

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_NON_SPACE_RUN = re.compile(r"\S+")


@dataclass(frozen=True)
class ProseSignals:
    """What measures code-related text (Markdown, reStructuredText, ...): written one paragraph per line
    it has long lines by design, so its paragraphs and words are measured instead of its lines."""

    chars: int
    paragraphs: int
    mean_paragraph_chars: float
    max_paragraph_chars: int
    max_word_length: int  # longest run without whitespace: base64, minified or packed data, never prose
    alpha_fraction: float


def prose_signals(text: str) -> ProseSignals:
    paras = [p for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    lengths = [len(p.strip()) for p in paras] or [0]
    n = len(text)
    return ProseSignals(
        chars=n,
        paragraphs=len(paras),
        mean_paragraph_chars=sum(lengths) / len(lengths),
        max_paragraph_chars=max(lengths),
        max_word_length=max((len(w) for w in _NON_SPACE_RUN.findall(text)), default=0),
        alpha_fraction=(alpha_count(text) / n) if n else 0.0,
    )


# TeX: lines of running text versus markup. A text line sits outside verbatim, code and display-math
# environments and still reads as words once its commands (and a comment's `%`) are removed (`\\item`,
# `\\textbf{Note:} ...` lines of running text are text; `\\section{...}`, `\\usepackage{...}` are markup).
_TEX_CODE_ENVS = re.compile(r"\\(begin|end)\{(verbatim|lstlisting|minted|Verbatim|comment|equation|align|gather|"
                            r"multline|eqnarray|tabular|tabularx|longtable|array|tikzpicture|pgfpicture|displaymath|"
                            r"math)\*?\}")
_TEX_COMMAND = re.compile(r"\\[A-Za-z@]+\*?(\[[^\]]*\])?|[{}]")
_WORD = re.compile(r"[^\W\d_]{2,}")
TEX_PROSE_MIN_WORDS = 5


def _reads_as_text(line: str) -> bool:
    plain = _TEX_COMMAND.sub(" ", line)
    tokens = plain.split()
    words = sum(1 for t in tokens if _WORD.fullmatch(t.strip(".,;:!?()'\"`")))
    return words >= TEX_PROSE_MIN_WORDS and words >= 0.5 * len(tokens)


def split_tex_prose(text: str) -> tuple[str, str]:
    """(text lines, markup lines) of a TeX file, blank lines left out, each joined by newlines: text lines
    are measured as prose and markup lines by the line-length rules, so a paragraph on one line is fine."""
    prose, markup = [], []
    depth = 0
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        envs = _TEX_CODE_ENVS.findall(s)
        if envs or depth or not _reads_as_text(s.lstrip("% \t")):  # commented-out paragraphs are text too
            markup.append(line)
        else:
            prose.append(line)
        depth = max(0, depth + sum(1 if kind == "begin" else -1 for kind, _ in envs))
    return "\n".join(prose), "\n".join(markup)
