"""Code or math decided by the text (classifiers/math_signal.py, classifiers/evidence.py): a page whose
best label is code but whose words are mathematics' is recalled as math, a math page needs those words,
and Lisp written as code counts as code tokens; the same in the stage's selection, budget cut and meta."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from classifiers.code_signal import code_token_share, is_code_token, label_gate
from classifiers.evidence import apply_evidence
from classifiers.math_signal import math_word_share
from classifiers.page_eval import predicted_labels
from corpus import storage
from corpus.stages.recall.stage import PAGE_SCHEMA, cut_candidates_task, index_task, stats_task

LABELS = ["code", "math", "other"]
EVIDENCE = {"min_code_tokens": 0.01, "min_code_probability": 0.6, "min_math_words": 0.015}

# Documentation of a numerical function, as the run's HTML extractor writes it: calls, and the words of mathematics.
MATH_PAGE = """[V, D] = eig (A)
Compute the eigenvalues (and optionally the eigenvectors) of a matrix. The eigenvalues are the roots of
the characteristic polynomial of A. For a symmetric or Hermitian matrix the eigenvalues are real and the
eigenvectors orthogonal; use chol (A) first when A is positive definite, and det (A) for the determinant.
"""
# Documentation of a library call: code, and no mathematics.
API_PAGE = """fs.unlink(path, callback)
Asynchronously removes a file or symbolic link. No arguments other than a possible exception are given
to the completion callback. unlink('/tmp/hello', (err) => { if (err) throw err; });
"""
# Words programming prose shares with mathematics are not counted.
SHARED_WORDS = "the group and the set of a field; a union in SQL; a ring buffer; the Debian distribution; root; a vector of integers"


def test_math_words_tell_mathematics_from_library_docs() -> None:
    assert math_word_share(MATH_PAGE) >= 0.015 > math_word_share(API_PAGE) == 0.0
    assert math_word_share(SHARED_WORDS) == 0.0
    assert math_word_share("") == 0.0
    # Only whitespace separates tokens, and case and punctuation around a word do not matter.
    assert math_word_share(MATH_PAGE.replace(" ", "\n  ")) == math_word_share(MATH_PAGE)
    assert math_word_share("Polynomial, EIGENVALUES; (integral)") == 1.0


def test_lisp_written_as_code_is_counted_and_prose_parentheses_are_not() -> None:
    for token in [";;;", "(defun", "(let*", "(lambda", "(define-record-type", "(make-array", "&rest", "&key", "#'car", "'(a",
                  "#t", "*print-base*", "x))", "string->symbol", "set-car!", "string-null?"]:
        assert is_code_token(token), token
    for token in ["(if", "(in", "(default:", "(defined", "(see", "x)", "*emphasis*", "well-known", "e.g."]:
        assert not is_code_token(token), token
    lisp = "(defun square (x) (* x x)) ;; the square, as in (let* ((y (square 2))) y) with &optional z"
    assert code_token_share(lisp) > 0.3


def test_math_words_move_a_code_page_to_math_and_gate_both_labels() -> None:
    probs = np.array([[0.80, 0.15, 0.05],   # code best, mathematical words: math
                      [0.80, 0.15, 0.05],   # code best, code tokens, no mathematical words: code
                      [0.20, 0.70, 0.10],   # math best, no mathematical words: not math
                      [0.10, 0.85, 0.05]])  # math best, mathematical words: math
    code_tokens = np.array([0.05, 0.05, 0.05, 0.05])
    math_words = np.array([0.03, 0.0, 0.0, 0.03])
    ranked, eligible = apply_evidence(LABELS, probs, code_tokens, math_words, **EVIDENCE)
    assert predicted_labels(ranked, LABELS, 0.5, eligible) == ["math", "code", "other", "math"]
    # The moved page's rank under math is the model's P(code): how sure it was that the page is technical.
    assert ranked[0].tolist() == [0.15, 0.80, 0.05] and (ranked[1:] == probs[1:]).all() and probs[0, 0] == 0.80
    # Off (0), or a run without a math label: the code gate alone, as before.
    off = {**EVIDENCE, "min_math_words": 0.0}
    ranked, eligible = apply_evidence(LABELS, probs, code_tokens, math_words, **off)
    assert (ranked == probs).all() and (eligible == label_gate(LABELS, probs, code_tokens, 0.01, 0.6)).all()
    two = ["code", "other"]
    ranked, eligible = apply_evidence(two, probs[:, [0, 2]], code_tokens, math_words, **EVIDENCE)
    assert predicted_labels(ranked, two, 0.5, eligible) == ["code", "code", "other", "other"]


def test_the_stage_caches_math_words_and_selects_and_ranks_with_them(tmp_path) -> None:
    urls = ["https://example.org/api/unlink", "https://example.org/linalg/eig"]
    texts = [API_PAGE, MATH_PAGE]
    part = tmp_path / "in.parquet"
    storage.write_table(str(part), pa.table({"id": ["a", "b"], "repo": pa.array([None] * 2, pa.string()), "path": urls,
                                             "language": pa.array([None] * 2, pa.string()), "domain": ["text"] * 2, "text": texts}))
    opts = {"recall_domains": ["text"], "tokenizer": None, "max_tokens": 4096, "folds": 2, "seed": 1, "code_text_seeds": False,
            "code_text_languages": [], "docstrings": False, "min_seed_words": 20, "max_code_text_seeds": 0}
    pages_uri, code_uri, seed_urls = str(tmp_path / "pages.parquet"), str(tmp_path / "code.parquet"), str(tmp_path / "seeds.parquet")
    storage.write_table(seed_urls, pa.table({"url": pa.array([], pa.string()), "label": pa.array([], pa.string())}))
    index_task(str(part), 0, pages_uri, code_uri, [seed_urls, "none"], opts, 0)
    cache = storage.read_table(pages_uri)
    assert cache.schema.equals(PAGE_SCHEMA)
    assert cache.column("math_words").to_pylist() == pytest.approx([math_word_share(t) for t in texts])
    probs_uri = str(tmp_path / "probs.parquet")  # the model reads both as code
    storage.write_table(probs_uri, pa.table({"p_code": [0.9, 0.8], "p_math": [0.05, 0.15], "p_other": [0.05, 0.05]}))

    def recalled(evidence):
        stats_task(0, pages_uri, probs_uri, LABELS, recalled_uri=str(tmp_path / "rec.parquet"), prev_recalled_uri=None,
                   counts_uri=str(tmp_path / "counts.parquet"), threshold=0.5, cutoffs=None, max_depth=2, evidence=evidence)
        return storage.read_table(str(tmp_path / "rec.parquet")).column("recalled").to_pylist()

    code, math = 0, 1  # the stage's label codes (corpus/stages/recall/stage.py CODE)
    assert recalled({**EVIDENCE, "min_math_words": 0.0}) == [code, code]
    assert recalled(EVIDENCE) == [code, math]
    # The math budget's candidates rank the moved page by its exchanged probability.
    out = str(tmp_path / "cands.parquet")
    assert cut_candidates_task([probs_uri], [pages_uri], 0, LABELS, 0.5, {"math": 10**9}, out, EVIDENCE) == 1
    cand = storage.read_table(out).to_pylist()
    assert cand[0]["row"] == 1 and cand[0]["p"] == pytest.approx(0.8)
