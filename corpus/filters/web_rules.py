"""Web-page quality: datatrove's Gopher quality and repetition filter blocks on extracted text.

datatrove's default English word tokenizer needs spaCy models (a download); a plain regex word
splitter is enough for these word-count and ratio rules and works offline.
"""

from __future__ import annotations

import re

from datatrove.utils.word_tokenizers import WordTokenizer

_WORD = re.compile(r"\w+|[^\w\s]+", re.UNICODE)
_SENT = re.compile(r"[^.!?\n]+[.!?]*", re.UNICODE)

# The Gopher filter attribute each drop reason compares against. datatrove returns only the reason,
# not the value it measured; measuring again here would be a second implementation of its rules.
_QUALITY_THRESHOLDS = {
    "gopher_short_doc": "min_doc_words", "gopher_long_doc": "max_doc_words",
    "gopher_below_avg_threshold": "min_avg_word_length", "gopher_above_avg_threshold": "max_avg_word_length",
    "gopher_too_many_hashes": "max_symbol_word_ratio", "gopher_too_many_ellipsis": "max_symbol_word_ratio",
    "gopher_too_many_bullets": "max_bullet_lines_ratio", "gopher_too_many_end_ellipsis": "max_ellipsis_lines_ratio",
    "gopher_below_alpha_threshold": "max_non_alpha_words_ratio", "gopher_enough_stop_words": "min_stop_words",
}
_NGRAM_REASON = re.compile(r"(top|duplicated)_(\d+)_(?:gram|n_grams)$")


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

    def threshold(self, reason: str) -> str | None:
        """`min_doc_words 50`: the setting a web drop reason was judged against, for the drop detail."""
        if reason in _QUALITY_THRESHOLDS:
            attr = _QUALITY_THRESHOLDS[reason]
            return f"{attr} {getattr(self.quality, attr)}"
        if reason.startswith("dup_") and hasattr(self.repetition, reason):  # dup_line_frac, dup_para_char_frac, ...
            return f"{reason} {getattr(self.repetition, reason)}"
        m = _NGRAM_REASON.match(reason)
        if m:
            attr = "top_n_grams" if m.group(1) == "top" else "dup_n_grams"
            frac = dict(getattr(self.repetition, attr)).get(int(m.group(2)))
            return f"{attr}[{m.group(2)}] {frac}" if frac is not None else None
        return None
