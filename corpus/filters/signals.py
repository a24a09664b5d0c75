"""Quality signals of a code file. Pure functions of the text; thresholds live in code_rules.yaml."""

from __future__ import annotations

from dataclasses import dataclass


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
        alpha_fraction=(sum(1 for c in text if c.isalpha()) / n) if n else 0.0,
        xml_header="<?xml version=" in text[:100],
    )


def html_visible_text(html: str) -> str:
    """Visible text of an HTML file: script and style elements removed, as the StarCoder reference does."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style"]):
        tag.decompose()
    return soup.get_text()
