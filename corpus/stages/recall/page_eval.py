"""Real HTML pages with a written label, to measure web recall on (docs/recall.md, "Measured on real pages").

The pages are not shipped: they are read where the packages that serve them install them (Debian's
HTML manuals of programming tools and of mathematics software), plus any WARC files given (real crawled
pages, e.g. the shared dolma and iana.org samples). A source that is not installed is listed as missing
with its package; the evaluation runs on what is there. Every page's text comes from the run's own HTML
extractor (`corpus.ingest.web.HtmlExtractor`), as a crawled page's would.

The labelling rule (also in docs/recall.md):
- code: the page's main content documents programming: a programming language, a library's API, a
  programming tool's use, with code as the examples (Node.js API, valgrind, libxslt, libffi, bc, Python's
  Debian policy; the Maxima manual's chapters on its language: data types, expressions, operators,
  evaluation, files, function definition, program flow, debugging, strings, the runtime; Python's library
  reference, SBCL's internals, R's manuals on the language, Octave's nodes on its language, MIT/GNU
  Scheme's reference manual, git's manual pages, SQLite's SQL and C API pages, GAP's chapters on its
  language, functions, files, streams, lists, strings, records and packages);
- math: the page's main content is mathematics: definitions, formulas and properties of mathematical
  objects, with the software's calls as the examples (the Maxima manual's chapters on polynomials, special
  and elliptic functions, limits, differentiation, integration, equations, linear algebra, series, number
  theory, groups, sets; mpmath's function and calculus reference; Octave's nodes on linear algebra,
  polynomials, sets, interpolation, optimisation, statistics and special functions; GAP's chapters on
  integers, number theory, groups, rings, fields, modules, algebras, polynomials and characters; SciPy's
  special functions);
- other: everything else: organisation, registry, personal and project-history pages (the WARC pages,
  Debian's project history, the Debian FAQ and installation guide, a paint program's and a game's
  manuals, an image editor's and an electronics design suite's manuals), except a WARC page named in
  WARC_LABELS (a tutorial on packaging Python).
Package pages that document the package rather than the subject (licences, news, authors, indexes,
search pages, download pages) are left out, and so is any page with fewer than MIN_WORDS words of text.

SPLIT_RULE (also in docs/recall.md): the pages are split into a development part, on which rules,
thresholds and seeds may be tuned, and a test part, which is only reported. The split is by whole
source, never by page: every page of a Debian source is on its source's side (`Source.split`), every
page of a WARC on its host's side (TEST_HOSTS). A test source serves one round: once its scores have been
read and a round is over, it moves to development, and the next round that changes a rule adds fresh test
sources before changing anything. Development: every source of the earlier rounds (Node.js, valgrind,
libxslt, libffi, bc, Python's Debian policy, Maxima, mpmath, Debian's history; then Python's library
reference, SBCL's internals, R's and Octave's manuals, the Debian FAQ and installation guide, Tux Paint's
and GNU Backgammon's manuals) and every WARC host. Test (added in the third round of 2026-12-05, before it changed a
rule): MIT/GNU Scheme's reference manual, git's manual pages, SQLite's SQL language and C API pages, GAP's
reference manual (its chapters on the language as code, on algebra as math), SciPy's special functions
(math), and the GIMP and KiCad user manuals (other).
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from classifiers import RecallModel, fasttext_line
from classifiers.code_signal import code_token_share
from classifiers.evidence import apply_evidence
from classifiers.math_signal import math_word_share
from classifiers.page_eval import confusion, per_class, predicted_labels
from corpus import storage
from corpus.ingest.web import HtmlExtractor, read_warc
from corpus.records import Doc
from corpus.stages.recall.common import make_pretokenize

MIN_WORDS = 50  # shorter extracted text is a navigation stub (a chapter's menu), not a page to judge
MAX_HTML_BYTES = 256_000  # the head of a long manual page decides (as the model reads only max_tokens tokens of it)
PER_SOURCE = 20  # pages per source at most (the smallest sha1 of the file name): the set stays small and fast
SKIP = re.compile(r"(licen[cs]e|news|authors|index|genindex|search|modindex|^all\.html|downloads|contribs|bugs|changelog|faqinfo)", re.IGNORECASE)
MAXIMA = "/usr/share/doc/maxima-doc/html"
# Maxima manual pages (maxima_N.html, 5.46) by chapter: the language (code) and the mathematics (math).
MAXIMA_CODE = [*range(10, 47), *range(68, 74), *range(146, 150), *range(160, 174), *range(339, 345)]
MAXIMA_MATH = [*range(74, 106), *range(113, 120), *range(132, 146), *range(157, 160), *range(304, 307)]
# Octave manual pages (7.3) by node: the language (code) and the numerical mathematics (math).
OCTAVE = "/usr/share/doc/octave/octave.html"
OCTAVE_CODE = (
    "Basic-Vectorization", "Boolean-Expressions", "Calling-Functions", "Cell-Arrays", "Cell-Arrays-of-Strings", "Character-Arrays",
    "Comparison-Ops", "Converting-Strings", "Data-Types", "Debugging", "Defining-Functions", "Errors", "Errors-and-Warnings",
    "Escape-Sequences-in-String-Constants", "Evaluation", "Expressions", "Function-Files", "Global-Variables", "Increment-Ops",
    "Index-Expressions", "Manipulating-Structures", "Numeric-Data-Types", "Object-Oriented-Programming", "Operator-Overloading",
    "Operator-Precedence", "Persistent-Variables", "Script-Files", "Statements", "Strings", "Terminal-Input", "Terminal-Output",
    "The-do_002duntil-Statement", "The-for-Statement", "The-if-Statement", "The-switch-Statement", "The-try-Statement",
    "The-unwind_005fprotect-Statement", "The-while-Statement", "Variable_002dlength-Argument-Lists",
    "Variable_002dlength-Return-Lists", "Variables", "classdef-Classes", "containers_002eMap",
)
OCTAVE_MATH = (
    "Basic-Matrix-Functions", "Basic-Statistical-Functions", "Complex-Arithmetic", "Convex-Hull", "Coordinate-Transformations",
    "Correlation-and-Regression-Analysis", "Delaunay-Triangulation", "Derivatives-_002f-Integrals-_002f-Transforms",
    "Descriptive-Statistics", "Distributions", "Evaluating-Polynomials", "Exponents-and-Logarithms", "Famous-Matrices",
    "Finding-Roots", "Functions-of-Multiple-Variables", "Functions-of-One-Variable", "Functions-of-a-Matrix",
    "Interpolation-on-Scattered-Data", "Linear-Algebra", "Linear-Programming", "Mathematical-Constants", "Matrix-Factorizations",
    "Multi_002ddimensional-Interpolation", "Nonlinear-Equations", "Nonlinear-Programming", "One_002ddimensional-Interpolation",
    "Ordinary-Differential-Equations", "Orthogonal-Collocation", "Polynomial-Interpolation", "Products-of-Polynomials",
    "Quadratic-Programming", "Rational-Approximations", "Set-Operations", "Sets", "Solvers", "Sparse-Linear-Algebra",
    "Special-Functions", "Sums-and-Products", "Techniques-Used-for-Linear-Algebra", "Trigonometry", "Utility-Functions",
    "Voronoi-Diagrams",
)
R_CODE = ("lang", "intro", "exts", "data", "ints")  # the R manuals on the language and its programming (not R-admin, R-FAQ)
# GAP 4.12 reference manual chapters (chapN.html, by title): the language and its runtime (code), algebra (math).
GAP = "/usr/share/gap/doc/ref"
GAP_CODE = (3, 4, 5, 6, 7, 8, 9, 10, 11, 21, 27, 28, 29, 76, 78, 79, 83, 86)
GAP_MATH = (14, 15, 16, 17, 18, 24, 25, 35, 39, 40, 41, 42, 43, 47, 51, 56, 57, 58, 59, 60, 61, 62, 64, 66, 67, 68, 71, 72)
# WARC pages are split by host (SPLIT_RULE): these hosts' pages are test pages, every other host's are dev pages.
# Every host of the shared WARCs has had its scores read by some round, so none is a test host now; a fresh
# crawl's hosts can be listed here.
TEST_HOSTS: frozenset[str] = frozenset()
CLASSES = ("code", "math", "other")
SPLITS = ("dev", "test")
# WARC pages whose label is not `other` (URL -> label).
WARC_LABELS = {"https://maria-antoniak.github.io/2020/03/25/pip.html": "code"}


@dataclass(frozen=True)
class Source:
    name: str
    label: str
    package: str  # what to install to get it ("deb:maxima-doc")
    files: tuple[str, ...]  # glob patterns
    split: str = "dev"  # "dev" (rules may be tuned on it) or "test" (reported, never tuned on): SPLIT_RULE


SOURCES = (
    # development: the sources every earlier round was measured (and its seeds written) on
    Source("nodejs API", "code", "deb:nodejs", ("/usr/share/doc/nodejs/api/*.html",)),
    Source("valgrind manual", "code", "deb:valgrind", ("/usr/share/doc/valgrind/html/*.html",)),
    Source("libxslt docs", "code", "deb:libxslt1-dev", ("/usr/share/doc/libxslt1-dev/html/*.html",)),
    Source("libffi manual", "code", "deb:libffi-dev", ("/usr/share/doc/libffi8/html/*.html",)),
    Source("bc manual", "code", "deb:bc", ("/usr/share/doc/bc/bc.html",)),
    Source("Python Debian policy", "code", "deb:python3-dev", ("/usr/share/doc/python3/python-policy.html",)),
    Source("Maxima manual: the language", "code", "deb:maxima-doc", tuple(f"{MAXIMA}/maxima_{n}.html" for n in MAXIMA_CODE)),
    Source("Maxima manual: mathematics", "math", "deb:maxima-doc", tuple(f"{MAXIMA}/maxima_{n}.html" for n in MAXIMA_MATH)),
    Source("mpmath reference", "math", "deb:python-mpmath-doc",
           ("/usr/share/doc/python-mpmath-doc/html/functions/*.html", "/usr/share/doc/python-mpmath-doc/html/calculus/*.html")),
    Source("Debian project history", "other", "deb:debian-history", ("/usr/share/doc/debian-history/docs/*.en.html",)),
    # development since the third round of 2026-12-05: the test sources of the round that made the split (their scores were read)
    Source("Python library reference", "code", "deb:python3.11-doc", ("/usr/share/doc/python3.11/html/library/*.html",)),
    Source("SBCL internals manual", "code", "deb:sbcl-doc", ("/usr/share/doc/sbcl/sbcl-internals/*.html",)),
    Source("R manuals", "code", "deb:r-doc-html", tuple(f"/usr/share/doc/r-doc-html/manual/R-{m}.html" for m in R_CODE)),
    Source("Octave manual: the language", "code", "deb:octave-doc", tuple(f"{OCTAVE}/{n}.html" for n in OCTAVE_CODE)),
    Source("Octave manual: mathematics", "math", "deb:octave-doc", tuple(f"{OCTAVE}/{n}.html" for n in OCTAVE_MATH)),
    Source("Debian FAQ", "other", "deb:debian-faq", ("/usr/share/doc/debian/FAQ/*.en.html",)),
    Source("Debian installation guide", "other", "deb:installation-guide-amd64", ("/usr/share/doc/installation-guide-amd64/en/*.html",)),
    Source("Tux Paint magic tools", "other", "deb:tuxpaint-data", ("/usr/share/doc/tuxpaint-data/en/magic-docs/html/*.html",)),
    Source("GNU Backgammon manual", "other", "deb:gnubg-data", ("/usr/share/doc/gnubg/*.html",)),
    # test: sources added (and labelled) before any rule of this round was changed; never tuned on
    Source("MIT/GNU Scheme reference manual", "code", "deb:mit-scheme-doc", ("/usr/share/doc/mit-scheme-doc/html/mit-scheme-ref/*.html",), "test"),
    Source("git manual pages", "code", "deb:git-doc", ("/usr/share/doc/git-doc/git-*.html",), "test"),
    Source("SQLite: SQL language and C API", "code", "deb:sqlite3-doc", ("/usr/share/doc/sqlite3/lang_*.html", "/usr/share/doc/sqlite3/c3ref/*.html"), "test"),
    Source("GAP reference manual: the language", "code", "deb:gap-doc", tuple(f"{GAP}/chap{n}.html" for n in GAP_CODE), "test"),
    Source("GAP reference manual: algebra", "math", "deb:gap-doc", tuple(f"{GAP}/chap{n}.html" for n in GAP_MATH), "test"),
    Source("SciPy special functions", "math", "deb:python-scipy-doc", ("/usr/share/doc/python-scipy-doc/html/reference/generated/scipy.special.*.html",), "test"),
    Source("GIMP user manual", "other", "deb:gimp-help-en", ("/usr/share/gimp/2.0/help/en/*.html",), "test"),
    Source("KiCad manuals", "other", "deb:kicad-doc-en", ("/usr/share/doc/kicad/help/en/*.html",), "test"),
)


@dataclass(frozen=True)
class EvalPage:
    name: str  # file path or URL
    source: str
    label: str
    text: str
    split: str = "dev"


def _files(src: Source) -> list[str]:
    found = sorted({p for pattern in src.files for p in glob.glob(pattern)})
    found = [p for p in found if not SKIP.search(os.path.basename(p))]
    return sorted(found, key=lambda p: hashlib.sha1(os.path.basename(p).encode()).hexdigest())


def load_pages(warcs: list[str] | None = None, per_source: int = PER_SOURCE) -> tuple[list[EvalPage], dict[str, Any]]:
    """The labelled pages on this machine, and what was read: pages per source, sources missing (with
    the package to install), pages left out as too short."""
    extract = HtmlExtractor(timeout_s=None)
    pages: list[EvalPage] = []
    info: dict[str, Any] = {"sources": {}, "missing": [], "too_short": 0}
    for src in SOURCES:
        files = _files(src)
        if not files:
            info["missing"].append({"source": src.name, "package": src.package, "reason": "no page installed"})
            continue
        n = 0
        for path in files:
            if n >= per_source:
                break
            with open(path, "rb") as fh:
                text = extract(fh.read(MAX_HTML_BYTES).decode("utf-8", errors="replace")).strip()
            if len(text.split()) < MIN_WORDS:
                info["too_short"] += 1
                continue
            pages.append(EvalPage(path, src.name, src.label, text, src.split))
            n += 1
        info["sources"][src.name] = {"label": src.label, "pages": n, "split": src.split}
    for uri in warcs or []:
        for page in _warc_pages(uri, extract):
            pages.append(page)
            slot = info["sources"].setdefault(page.source, {"label": "other", "pages": 0, "split": page.split})
            slot["pages"] += 1
    return pages, info


def _warc_pages(uri: str, extract) -> Iterator[EvalPage]:
    seen = set()
    for doc in read_warc(uri, source="page_eval", domain="text", extractor=extract):
        if not isinstance(doc, Doc) or doc.path in seen or len(doc.text.split()) < MIN_WORDS:
            continue
        seen.add(doc.path)  # a crawl may hold a URL twice (revisits): one page
        split = warc_split(doc.path)
        source = f"WARC {os.path.basename(uri)}" + (" (test hosts)" if split == "test" else "")
        yield EvalPage(doc.path, source, WARC_LABELS.get(doc.path, "other"), doc.text, split)


def warc_split(url: str) -> str:
    """A WARC page's side of the split: its host's (TEST_HOSTS), so no host has pages on both sides."""
    return "test" if urlsplit(url).hostname in TEST_HOSTS else "dev"


_LOADED: dict[tuple, tuple[list[EvalPage], dict[str, Any]]] = {}  # per process: extraction is the costly part


def page_eval_task(model_uri: str, warcs: list[str], tokenizer: str | None, max_tokens: int, threshold: float,
                   evidence: dict[str, float] | None = None) -> dict[str, Any]:
    """The stage's one evaluation task: load the labelled pages on this worker (once per process: they are
    the same installed files for every run) and score them."""
    import copy


    key = (tuple(warcs), PER_SOURCE, tuple(s.files for s in SOURCES))
    if key not in _LOADED:
        _LOADED[key] = load_pages(warcs)
    pages, info = _LOADED[key][0], copy.deepcopy(_LOADED[key][1])
    return evaluate(model_uri, pages, info, pretokenize=make_pretokenize(tokenizer), max_tokens=max_tokens, threshold=threshold,
                    evidence=evidence)


def evaluate(model_uri: str, pages: list[EvalPage], info: dict[str, Any], *, pretokenize, max_tokens: int,
             threshold: float, evidence: dict[str, float] | None = None) -> dict[str, Any]:
    """Score the pages with a run's model as the stage scores its pages (threshold and text evidence);
    per split (`dev`, `test`: SPLIT_RULE) and over all pages, per-class precision and recall and the
    confusion matrix; per source how its pages were labelled."""
    if not pages:
        return {**info, "pages": 0, "per_class": {}, "confusion": {}, "by_source": {}, "splits": {}}
    with storage.local_copy(model_uri) as local:
        model = RecallModel.load(local)
    labels = [lab for lab in CLASSES if lab in model.labels]  # a run without math seeds has no math label
    probs = model.score_lines([fasttext_line(pretokenize(p.text), max_tokens) for p in pages], labels)
    code_tokens = np.array([code_token_share(p.text) for p in pages])
    math_words = np.array([math_word_share(p.text) for p in pages])
    ranked, eligible = apply_evidence(labels, probs, code_tokens, math_words, **(evidence or {}))
    predicted = predicted_labels(ranked, labels, threshold, eligible)
    by_source: dict[str, dict[str, Any]] = {}
    for p, pred in zip(pages, predicted):
        slot = by_source.setdefault(p.source, {"split": p.split})
        slot[pred] = slot.get(pred, 0) + 1
    wrong = [{"page": p.name, "split": p.split, "label": p.label, "predicted": pred, "p": round(float(probs[i].max()), 3),
              "code_tokens": round(float(code_tokens[i]), 3), "math_words": round(float(math_words[i]), 3)}
             for i, (p, pred) in enumerate(zip(pages, predicted)) if pred != p.label]
    return {**info, "pages": len(pages), "threshold": threshold, "evidence": evidence or {},
            **scores([p.label for p in pages], predicted),
            "splits": {split: {"pages": len(idx), **scores([pages[i].label for i in idx], [predicted[i] for i in idx])}
                       for split in SPLITS if (idx := [i for i, p in enumerate(pages) if p.split == split])},
            "by_source": by_source, "wrong": wrong[:50]}


def scores(truth: list[str], predicted: list[str]) -> dict[str, Any]:
    return {"per_class": per_class(truth, predicted, CLASSES), "confusion": confusion(truth, predicted, CLASSES)}
