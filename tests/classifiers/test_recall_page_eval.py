"""Web recall measured on labelled real pages (corpus/stages/recall/page_eval.py, classifiers/page_eval.py), math
seeds from installed math libraries' docstrings, and labels that do not flip when a seed is re-wrapped."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from classifiers import RecallParams, load_seeds, train_recall_model
from classifiers.page_eval import confusion, per_class, predicted_labels

SHARED = Path(os.environ.get("CORPUS_SHARED_DIR", Path(__file__).resolve().parents[3] / "shared"))
FAST = {"bucket": 20_000, "lr": 0.5, "epoch": 10}


def test_per_class_precision_and_recall_follow_the_run_threshold_rule() -> None:
    labels = ["code", "math", "other"]
    probs = np.array([[0.9, 0.05, 0.05],   # code
                      [0.45, 0.1, 0.45],   # best is code but under the threshold: other
                      [0.1, 0.8, 0.1],     # math
                      [0.6, 0.1, 0.3],     # code (wrongly: it is other)
                      [0.2, 0.2, 0.6]])    # other
    pred = predicted_labels(probs, labels, 0.5)
    assert pred == ["code", "other", "math", "code", "other"]
    truth = ["code", "code", "math", "other", "other"]
    got = per_class(truth, pred, labels)
    assert got["code"] == {"precision": 0.5, "recall": 0.5, "labelled": 2, "predicted": 2, "correct": 1}
    assert got["math"]["precision"] == 1.0 and got["math"]["recall"] == 1.0
    assert got["other"] == {"precision": 0.5, "recall": 0.5, "labelled": 1 + 1, "predicted": 2, "correct": 1}
    assert confusion(truth, pred, labels)["other"] == {"code": 1, "math": 0, "other": 1}
    assert per_class([], [], labels)["code"]["precision"] is None


def _html(title: str, body: str) -> str:
    return f"<html><head><title>{title}</title></head><body><main><h1>{title}</h1><p>{body}</p></main></body></html>"


def test_pages_are_read_where_packages_install_them_and_absent_sources_are_named(tmp_path, monkeypatch) -> None:
    from corpus.stages.recall import page_eval as recall_eval

    (tmp_path / "api").mkdir()
    words = " ".join(f"word{i}" for i in range(80))
    (tmp_path / "api" / "fs.html").write_text(_html("fs", "The readFile function reads a file. " + words))
    (tmp_path / "api" / "index.html").write_text(_html("index", words))  # an index page: left out
    (tmp_path / "api" / "stub.html").write_text(_html("stub", "Too short."))  # under MIN_WORDS: left out
    monkeypatch.setattr(recall_eval, "SOURCES", (
        recall_eval.Source("api docs", "code", "deb:some-doc", (str(tmp_path / "api" / "*.html"),)),
        recall_eval.Source("absent manual", "math", "deb:absent-doc", (str(tmp_path / "nowhere" / "*.html"),)),
    ))
    pages, info = recall_eval.load_pages([])
    assert [(Path(p.name).name, p.label, p.source) for p in pages] == [("fs.html", "code", "api docs")]
    assert "readFile" in pages[0].text and "<p>" not in pages[0].text  # the run's extractor made the text
    assert info["missing"] == [{"source": "absent manual", "package": "deb:absent-doc", "reason": "no page installed"}]
    assert info["too_short"] == 1 and info["sources"]["api docs"] == {"label": "code", "pages": 1, "split": "dev"}


@pytest.mark.skipif(not (SHARED / "web" / "dolma_sample-0000.warc.gz").exists(), reason="the shared WARC samples are not here (CORPUS_SHARED_DIR)")
def test_warc_pages_join_as_other_unless_listed(monkeypatch) -> None:
    from corpus.stages.recall import page_eval as recall_eval

    # By host: with semanticscholar.org a test host, its pages are test pages, the personal pages development ones.
    monkeypatch.setattr(recall_eval, "TEST_HOSTS", frozenset({"www.semanticscholar.org"}))
    pages, _ = recall_eval.load_pages([str(SHARED / "web" / "dolma_sample-0000.warc.gz")], per_source=0)
    assert {(p.source, p.split) for p in pages} == {("WARC dolma_sample-0000.warc.gz", "dev"),
                                                    ("WARC dolma_sample-0000.warc.gz (test hosts)", "test")}
    assert all((p.split == "test") == ("semanticscholar.org" in p.name) for p in pages)
    assert len({p.name for p in pages}) == len(pages)  # one page per URL
    labelled = {p.name: p.label for p in pages}
    assert labelled.get("https://maria-antoniak.github.io/2020/03/25/pip.html") in (None, "code")
    assert sum(1 for lab in labelled.values() if lab == "other") >= len(pages) - 1


def test_math_seeds_come_from_installed_math_docstrings_and_missing_modules_are_named() -> None:
    from corpus.stages.recall.math_seeds import math_text_seeds

    pieces, report = math_text_seeds(["sympy.ntheory", "no_such_module_xyz"], 20, 20, "1/math_text")
    assert len(pieces) == 20 and report["pieces"] == 20 and report["missing"] == ["no_such_module_xyz"]
    assert all("\n" not in p and len(re.findall(r"\w+", p)) >= 20 for p in pieces)
    again, _ = math_text_seeds(["sympy.ntheory", "no_such_module_xyz"], 20, 20, "1/math_text")
    assert again == pieces  # a hash order, not the file system's
    assert report["files_parsed"] < report["modules"]["sympy.ntheory"]["files"]  # stops once it has enough


def _bpe(tmp_path: Path, texts: list[str]) -> str:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    return str(path)


def test_a_rewrapped_seed_changes_no_page_score(tmp_path) -> None:
    """Re-wrapping a seed (line breaks for spaces, re-indenting) gives the same model and the same page
    probabilities: the stage's pretokenizer sees whitespace-normalised text, also with a byte-level BPE
    (whose tokens carry the whitespace before a word)."""
    from corpus.stages.recall.common import make_pretokenize

    seeds = load_seeds("pkg:classifiers/seed_data/math.jsonl").seeds + load_seeds("pkg:classifiers/seed_data/other.jsonl").seeds
    examples = [(t, lab) for t, lab, _ in seeds]
    pre = make_pretokenize(_bpe(tmp_path, [t for t, _ in examples]))
    text, lab = examples[3]
    words = text.split(" ")
    rewrapped = "\n".join(" ".join(words[i:i + 6]) for i in range(0, len(words), 6)) + "\n\n"
    assert rewrapped != text and " ".join(rewrapped.split()) == " ".join(text.split())
    assert pre(rewrapped) == pre(text)
    pages = ["Solve the equation $x^2 - 5x + 6 = 0$: the\nroots are $x = 2$ and $x = 3$.",
             "We planted roses along the fence and watered the garden.", "The council   met on Tuesday."]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = train_recall_model(examples, RecallParams(**FAST), tmp_path / "a", pre).predict_proba(pages)
    b = train_recall_model(examples[:3] + [(rewrapped, lab)] + examples[4:], RecallParams(**FAST), tmp_path / "b", pre).predict_proba(pages)
    assert a == b
