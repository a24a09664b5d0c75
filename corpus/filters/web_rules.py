"""Web-page quality: datatrove's Gopher quality and repetition filter blocks on extracted text.

datatrove's default English word tokenizer needs spaCy models (a download); a plain regex word
splitter is enough for these word-count and ratio rules and works offline.
"""

from __future__ import annotations

import re

from datatrove.utils.word_tokenizers import WordTokenizer

_WORD = re.compile(r"\w+|[^\w\s]+", re.UNICODE)
_SENT = re.compile(r"[^.!?\n]+[.!?]*", re.UNICODE)


class RegexWordTokenizer(WordTokenizer):
    def __init__(self) -> None:
        super().__init__("und")

    def word_tokenize(self, text: str) -> list[str]:
        return _WORD.findall(text)

    def sent_tokenize(self, text: str) -> list[str]:
        return [s.strip() for s in _SENT.findall(text) if s.strip()]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _SENT.finditer(text)]


class WebQuality:
    """Gopher quality rules (word counts, symbol and alphabetic ratios) suit prose; a page of code or
    math fails them by design, so recalled code/math pages get the repetition (spam) rules only."""

    def __init__(self, min_doc_words: int = 50, prose_domains: tuple[str, ...] = ("text",)) -> None:
        from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter

        tok = RegexWordTokenizer()
        self.quality = GopherQualityFilter(min_doc_words=min_doc_words, language=tok)
        self.repetition = GopherRepetitionFilter(language=tok)
        self.prose_domains = prose_domains

    def check(self, text: str, url: str, domain: str = "text") -> str | None:
        from datatrove.data import Document

        doc = Document(text=text, id=url)
        filters = [self.quality, self.repetition] if domain in self.prose_domains else [self.repetition]
        for f in filters:
            verdict = f.filter(doc)
            ok, reason = (verdict, None) if isinstance(verdict, bool) else verdict
            if not ok:
                return reason or type(f).__name__
        return None
