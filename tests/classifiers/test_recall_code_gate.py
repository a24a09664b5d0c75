"""The code gate of web recall (classifiers/code_signal.py): a page is recalled as code only when enough
of its lines look like code, in the run's selection (sharded and in-memory) and in the page evaluation
alike; and the evaluation's split into development and test pages is by whole source."""

from __future__ import annotations

from urllib.parse import urlsplit

import numpy as np
import pytest

from classifiers import OTHER, select_recalled
from classifiers.code_signal import code_token_share, is_code_token, label_gate
from classifiers.page_eval import predicted_labels
from classifiers.sharded import recalled_labels

LABELS = ["code", "math", "other"]

# Lines as the run's HTML extractor writes them (a <pre> block line by line, prose as paragraphs).
API_PAGE = """fs.unlink(path, callback)
Asynchronously removes a file or symbolic link. No arguments other than a possible exception are given
to the completion callback.
import { unlink } from 'node:fs';
unlink('/tmp/hello', (err) => {
if (err) throw err;
console.log('successfully deleted /tmp/hello');
});
$ node app.js
>>> parser.add_argument('--sum', dest='accumulate')
x := 3
"""
ABOUT_PAGE = """About us
We are a non-profit research institute founded in 2014 (in Seattle) with the mission of contributing to
humanity through high-impact AI research and engineering. Our team builds open models, data and tools.
Read our annual report (PDF) for what we did this year: see the list of projects (open source) below.
Contact: press@example.org
Registry of assigned numbers | Reference | Value
Careers
"""


def test_code_tokens_are_told_from_prose_by_how_they_are_written() -> None:
    for token in ["fs.unlink(path,", "unlink('/tmp/hello',", "});", "=>", "--tool=lackey", "-m", "bdist_wheel", "__init__",
                  "xsltApplyStylesheet", "readFile", "==", ":=", "{", "print(args.filename)", "parse_args()", "x);"]:
        assert is_code_token(token), token
    for token in ["About", "(PDF)", "research.", "|", "-", "&", "(", "ccTLDs", "dotBERLIN", "knowledge;", "2014", "press@example.org",
                  "sol-dah-ee-nee;", "non-profit", "e.g.", "U.S.", "Q&A"]:
        assert not is_code_token(token), token
    assert code_token_share(API_PAGE) > 0.2 > 0.01 > code_token_share(ABOUT_PAGE)
    assert code_token_share("") == 0.0
    # Only whitespace separates tokens: re-wrapping a paragraph or re-indenting a block changes nothing.
    assert code_token_share(API_PAGE.replace("\n", "\n    ").replace(" ", "\n")) == code_token_share(API_PAGE)


def test_the_gate_takes_code_from_pages_without_code_tokens_in_every_selection() -> None:
    rng = np.random.default_rng(3)
    n = 200
    probs = rng.dirichlet([1, 1, 1], size=n).astype(np.float32)
    code_tokens = rng.random(n)
    gate = label_gate(LABELS, probs, code_tokens, 0.3, 0.6)
    assert label_gate(LABELS, probs, code_tokens, 0.0, 0.0) is None  # 0 = no gate
    assert gate[:, 1:].all() and (gate[:, 0] == ((code_tokens >= 0.3) & (probs[:, 0] >= 0.6))).all()
    ungated = recalled_labels(probs, LABELS, OTHER, 0.4, 0, None)
    gated = recalled_labels(probs, LABELS, OTHER, 0.4, 0, None, gate)
    # Pages with too few code tokens, or a P(code) under the code threshold, lose the code label (and
    # become other); nothing else moves.
    lost = (ungated == 0) & ((code_tokens < 0.3) | (probs[:, 0] < 0.6))
    assert ((ungated == 0) & (code_tokens >= 0.3) & (probs[:, 0] < 0.6)).any()
    assert lost.any() and (gated[lost] == -1).all() and (gated[~lost] == ungated[~lost]).all()
    tokens = rng.integers(1, 100, n)
    assert select_recalled(probs, tokens, LABELS, 0.4, None, gate).tolist() == gated.tolist()  # the in-memory loop agrees
    pred = predicted_labels(probs, LABELS, 0.4, gate)  # and so does the page evaluation
    assert [LABELS[j] if j >= 0 else OTHER for j in gated] == pred


def test_development_and_test_pages_come_from_disjoint_sources(monkeypatch) -> None:
    from corpus.stages.recall import page_eval

    assert {s.split for s in page_eval.SOURCES} == set(page_eval.SPLITS)
    # A package's pages stay on one side even when it gives two labels (Maxima, Octave).
    side: dict[str, str] = {}
    for s in page_eval.SOURCES:
        assert side.setdefault(s.package, s.split) == s.split, s.package
    # Every class has test sources, so test precision and recall are defined per class.
    assert {s.label for s in page_eval.SOURCES if s.split == "test"} == {"code", "math", "other"}
    # WARC pages go by host: every page of a host on one side (every shared host has been read, so none is a test host).
    assert all(page_eval.warc_split(url) == "dev" for url in ["https://allenai.org/about", "https://commoncrawl.org/"])
    monkeypatch.setattr(page_eval, "TEST_HOSTS", frozenset({"allenai.org", "commoncrawl.org", "www.semanticscholar.org"}))
    for url in ["https://allenai.org/about", "https://commoncrawl.org/", "https://www.semanticscholar.org/paper/x"]:
        assert page_eval.warc_split(url) == "test" and urlsplit(url).hostname in page_eval.TEST_HOSTS
    for url in ["https://www.iana.org/domains/root", "https://maria-antoniak.github.io/2020/03/25/pip.html", "https://kyleclo.com/"]:
        assert page_eval.warc_split(url) == "dev"


def test_the_stage_selection_applies_the_gate_from_its_page_cache(tmp_path) -> None:
    """The recall stage's per-part selection (stats_task) reads each page's code token share from the page
    cache the index task wrote and takes the code label from the pages under the gate."""
    import pyarrow as pa

    from corpus import storage
    from corpus.stages.recall.stage import PAGE_SCHEMA, index_task, stats_task

    urls = ["https://example.org/api/unlink", "https://example.org/about", "https://example.org/api/weak"]
    texts = [API_PAGE, ABOUT_PAGE, API_PAGE]
    part = tmp_path / "in.parquet"
    storage.write_table(str(part), pa.table({"id": ["a", "b", "c"], "repo": pa.array([None] * 3, pa.string()), "path": urls,
                                             "language": pa.array([None] * 3, pa.string()), "domain": ["text"] * 3, "text": texts}))
    opts = {"recall_domains": ["text"], "tokenizer": None, "max_tokens": 4096, "folds": 2, "seed": 1, "code_text_seeds": False,
            "code_text_languages": [], "docstrings": False, "min_seed_words": 20, "max_code_text_seeds": 0}
    pages_uri, code_uri = str(tmp_path / "pages.parquet"), str(tmp_path / "code.parquet")
    seed_urls = str(tmp_path / "seed_urls.parquet")  # no seed URLs
    storage.write_table(seed_urls, pa.table({"url": pa.array([], pa.string()), "label": pa.array([], pa.string())}))
    index_task(str(part), 0, pages_uri, code_uri, [seed_urls, "none"], opts, 0)
    cache = storage.read_table(pages_uri)
    assert cache.schema.equals(PAGE_SCHEMA)
    assert cache.column("code_tokens").to_pylist() == pytest.approx([code_token_share(t) for t in texts])
    probs_uri = str(tmp_path / "probs.parquet")  # every page scored code; the third only at 0.55
    storage.write_table(probs_uri, pa.table({"p_code": [0.9, 0.9, 0.55], "p_math": [0.05, 0.05, 0.05], "p_other": [0.05, 0.05, 0.4]}))

    def recalled(evidence):
        stats_task(0, pages_uri, probs_uri, LABELS, recalled_uri=str(tmp_path / "rec.parquet"), prev_recalled_uri=None,
                   counts_uri=str(tmp_path / "counts.parquet"), threshold=0.5, cutoffs=None, max_depth=2, evidence=evidence)
        return storage.read_table(str(tmp_path / "rec.parquet")).column("recalled").to_pylist()

    assert recalled(None) == [0, 0, 0]
    assert recalled({"min_code_tokens": 0.01, "min_code_probability": 0.6}) == [0, -1, -1]


def test_the_plain_word_shortcut_answers_as_the_whole_pattern() -> None:
    from classifiers.code_signal import CODE_TOKEN

    tokens = {t for text in (API_PAGE, ABOUT_PAGE) for t in text.split()} | {
        "readFile", "readFile,", "readFile?", "iPhone", "ccTLDs", "xsltApplyStylesheet.", "word;", "Seattle)", "(defun", "set-car!"}
    assert all(is_code_token(t) == (CODE_TOKEN.match(t) is not None) for t in tokens)
    assert is_code_token("readFile,") and not is_code_token("readFile?") and not is_code_token("ccTLDs")
