"""recall: label web pages code / math / text with the iteratively retrained fastText recall of
DeepSeekMath §2.1 and DeepSeek-Coder-V2 §2 (the in-memory loop is `classifiers.run_iterations`; this
stage runs the same steps over parts, `classifiers.sharded`).

An annotator: every record comes out (unless `drop_unrecalled`), web pages (repo is null) get
`domain` = code / math / text and `recall_label`, `recall_score`, `recall_via`, `recall_probs` in `meta`; files of
repositories pass through unchanged (their code-related text only supplies code seeds).

The driver holds per-part summaries only: every per-page fact (pretokenized line, fold, known label,
probabilities, recalled label) lives in scratch files written by tasks. Tasks: seeds (1), index (1 per
part: the only read of a page's text before the output), code-text seeds (1); per iteration: training
lines (1 per part), training (1 per fold model, in parallel, one fastText thread each), score (1 per
part, fold models cached per worker), domain rule (1), expansion (1 per part); apply (1 per part).
Each finished iteration is a saved step: a killed driver resumes at the iteration it was in.

Outputs: `OUT/recall/part-*.parquet`, `OUT/recall/model.bin` (the final model, for new data) and
`OUT/reports/recall.json` (per-iteration report).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from classifiers import OTHER, RecallDataError, RecallParams, fasttext_line
from classifiers.code_signal import code_token_share
from classifiers.evidence import apply_evidence
from classifiers.math_signal import math_word_share
from classifiers.model import train_to_file
from classifiers.seeds import _lines
from corpus import storage
from corpus.engine.parts import part_name, part_uri, pass_through_part, write_filtered_part
from corpus.engine.stage import GlobalStage
from corpus.errors import PreflightError
from corpus.ingest.kinds.base import resolve_uri
from corpus.ops.fanin import fan_in_tree, groups_of, remove_tree
from corpus.stages.recall.common import (
    check_degenerate,
    load_model,
    make_pretokenize,
    score_spread,
    seed_task,
    sha256_file,
    table_digest,
    warn_degenerate,
)
from corpus.stages.recall.config import RecallConfig
from corpus.stages.recall.docstrings import docstrings
from corpus.stages.recall.github import mark, run_github
from corpus.stats import StageStats

log = logging.getLogger("corpus")

DOMAIN_OF_LABEL = {"code": "code", "math": "math", "other": "text"}
WORD = re.compile(r"\w+")


# ------------------------------------------------------------------------------------ scratch files
# Every per-page fact lives in scratch files, one per input part, written by tasks (ctx.scratch):
#   seeds/lines.parquet, seeds/urls.parquet   seed files, pretokenized once; seed URLs and their label
#   pages/part-N.parquet                       the part's web pages: row, url, fold, tokens, seed label, code
#                                              token share (the code gate), the pretokenized fastText line (text read once)
#   code_text/part-N.parquet, code_text.parquet  code-text seed candidates (smallest hash keys)
#   iter-K/known/part-N.parquet                known positive label per page at the start of iteration K
#   iter-K/train/part-N.parquet                the part's training lines (expanded positives, negative
#                                              candidates under the hash threshold)
#   iter-K/fold-F.bin, iter-K/probs/, iter-K/recalled/, iter-K/counts/, iter-K/decisions.parquet
# The driver only sees per-part summaries (counts), so its memory is O(parts).

PAGE_SCHEMA = pa.schema([
    ("row", pa.int32()), ("url", pa.string()), ("fold", pa.int8()), ("tokens", pa.int64()),
    ("seed_label", pa.int8()), ("seed_url", pa.bool_()), ("code_tokens", pa.float32()), ("math_words", pa.float32()),
    ("line", pa.large_string()),
])
TRAIN_SCHEMA = pa.schema([
    ("label", pa.string()), ("key", pa.uint64()), ("fold", pa.int8()), ("part", pa.int32()), ("row", pa.int32()),
    ("line", pa.large_string()),
])
# Code-text pieces expected per candidate file when sizing the hash sample of files to parse (measured
# on site-packages: 3.1 docstrings/README pieces of >= 20 words per candidate file); a sample that
# falls short is topped up with the remaining files.
CODE_PIECES_PER_FILE = 2
LINE_GROUP_ROWS = 256  # row groups of the page cache: training reads only the groups of its rows
NO_KEY = np.uint64(2**64 - 1)
# Labels stored in scratch files (seed_label, known, recalled) are indices into this fixed tuple, so
# they mean the same whichever labels the seeds turn out to have.
ALL_LABELS = ("code", "math", "other")
CODE = {lab: j for j, lab in enumerate(ALL_LABELS)}


def _code_text_files(t: pa.Table, opts: dict[str, Any]) -> list[int]:
    """Rows of a part that may give code-text seeds (repository files of the code-text languages,
    and Python files for their docstrings)."""
    if not opts["code_text_seeds"]:
        return []
    languages = set(opts["code_text_languages"])
    repos, langs = t.column("repo").to_pylist(), t.column("language").to_pylist()
    return [i for i, (r, lang) in enumerate(zip(repos, langs)) if r is not None and (lang in languages or (opts["docstrings"] and lang == "Python"))]


def count_task(in_uri: str, opts: dict[str, Any]) -> dict[str, int]:
    """Code-text candidate files and web pages of a part (small columns only): they size the hash
    sample of files parsed for code-text seeds."""
    t = storage.read_table(in_uri, columns=["repo", "language", "domain"])
    web = pc.sum(pc.and_(pc.is_null(t.column("repo")), pc.is_in(t.column("domain"), pa.array(opts["recall_domains"], pa.string())))).as_py()
    return {"files": len(_code_text_files(t, opts)), "web": int(web or 0)}


def useful_code_seeds(seed_counts: dict[str, int], web_pages: int, max_repeat: int, holdout: float) -> int:
    """An upper bound on the code-text seeds a training can use. Training balances labels to
    min(largest, max_repeat x smallest) lines each (classifiers.model._balanced): every other label has
    at most its seed lines plus one line per web page (an expanded positive or a negative), so code
    lines past max_repeat x that bound (plus the held-out share) are sampled away unseen."""
    others = [n for lab, n in seed_counts.items() if lab not in ("code", "other") and n > 0]
    bounds = [seed_counts.get("other", 0) + web_pages] + [n + web_pages for n in others]
    smallest = min(bounds)
    return int(-(-max(1, max_repeat) * smallest // (1 - holdout))) + 1


def read_rows(uri: str, rows: list[int], column: str) -> list[Any]:
    """One column's values at the given rows of a part, reading only the row groups that hold them."""
    if not rows:
        return []
    pf = storage.parquet_file(uri)
    sizes = [pf.metadata.row_group(g).num_rows for g in range(pf.metadata.num_row_groups)]
    starts = np.cumsum([0] + sizes)
    group_of = np.searchsorted(starts, np.asarray(rows), side="right") - 1
    groups = sorted(set(group_of.tolist()))
    col = storage.read_row_groups(pf, groups, columns=[column]).column(column)
    offset, seen = {}, 0
    for g in groups:
        offset[g] = seen
        seen += sizes[g]
    idx = [offset[int(g)] + int(r - starts[g]) for g, r in zip(group_of, rows)]
    return col.take(pa.array(idx, pa.int64())).to_pylist()


def _code_text(t: pa.Table, rows: list[int], texts: list[str], opts: dict[str, Any], pretokenize, code_uri: str) -> dict[str, int]:
    """The part's smallest code-text pieces in (file key, piece) order, at most max_code_text_seeds.
    Files are parsed in key order and only while the part still needs pieces: Python files are
    parsed for docstrings (the costly step), so files past the sample are never parsed."""
    ids, langs = t.column("id").to_pylist(), t.column("language").to_pylist()
    k = opts["max_code_text_seeds"]
    keys = [int(opts["file_keys"][j]) for j in range(len(rows))]
    out_keys, out_piece, lines = [], [], []
    parsed = 0
    for j in sorted(range(len(rows)), key=lambda j: (keys[j], ids[rows[j]])):
        if len(lines) >= k:
            break
        parsed += 1
        i = rows[j]
        pieces = docstrings(texts[j]) if langs[i] == "Python" else [texts[j]]
        for n, piece in enumerate(pieces):
            if len(WORD.findall(piece)) >= opts["min_seed_words"]:
                out_keys.append(keys[j])
                out_piece.append(n)
                lines.append(fasttext_line(pretokenize(piece), opts["max_tokens"]))
    storage.write_table(code_uri, pa.table({"key": pa.array(out_keys, pa.uint64()), "piece": pa.array(out_piece, pa.int32()),
                                            "line": pa.array(lines, pa.large_string())}))
    return {"code_text_pieces": len(lines), "code_text_files_parsed": parsed}


def index_task(in_uri: str, part: int, pages_uri: str, code_uri: str, seed_urls: list[str], opts: dict[str, Any], code_bound: int) -> dict[str, Any]:
    """One pass over a part: pretokenize its web pages into the page cache (the only read of their
    text until the output is written) and collect its code-text seed candidates among the files
    whose hash key is under `code_bound`."""
    from classifiers.sharded import fold_of_urls, sample_keys  # deferred: kept out of corpus --help

    t = storage.read_table(in_uri, columns=["id", "repo", "path", "language", "domain"])
    repos, paths, doms = (t.column(c).to_pylist() for c in ("repo", "path", "domain"))
    web = [i for i, (r, d) in enumerate(zip(repos, doms)) if r is None and d in opts["recall_domains"]]
    files = _code_text_files(t, opts)
    file_keys = sample_keys([t.column("id")[i].as_py() for i in files], f"{opts['seed']}/code_text")
    chosen = np.nonzero(file_keys < np.uint64(min(code_bound, 2**64 - 1)))[0] if code_bound < 2**64 - 1 else np.arange(len(files))
    code_rows = [files[j] for j in chosen]
    rows = web + code_rows
    texts = read_rows(in_uri, rows, "text")
    pretokenize = make_pretokenize(opts["tokenizer"])
    seed_urls = _seed_urls(seed_urls)
    urls = [paths[i] for i in web]
    tokens, lines, seed_label, seed_url, code_tokens, math_words = [], [], [], [], [], []
    for url, text in zip(urls, texts[: len(web)]):
        code_tokens.append(code_token_share(text))
        math_words.append(math_word_share(text))
        toks = pretokenize(text)
        tokens.append(len(toks))
        lines.append(fasttext_line(toks, opts["max_tokens"]))
        lab = seed_urls.get(url, 0)
        seed_url.append(lab != 0)
        seed_label.append(CODE[lab] if isinstance(lab, str) else -1)
    folds = fold_of_urls(urls, opts["folds"], opts["seed"])
    storage.write_table(pages_uri, pa.table({
        "row": pa.array(web, pa.int32()), "url": pa.array(urls, pa.string()), "fold": pa.array(folds, pa.int8()),
        "tokens": pa.array(tokens, pa.int64()), "seed_label": pa.array(seed_label, pa.int8()),
        "seed_url": pa.array(seed_url, pa.bool_()), "code_tokens": pa.array(code_tokens, pa.float32()),
        "math_words": pa.array(math_words, pa.float32()),
        "line": pa.array(lines, pa.large_string()),
    }, schema=PAGE_SCHEMA), row_group_size=LINE_GROUP_ROWS)
    code = _code_text(t, code_rows, texts[len(web):], {**opts, "file_keys": file_keys[chosen]}, pretokenize, code_uri)
    known = np.array(seed_label, dtype=np.int8)
    return {"pages": len(web), **code,
            "expanded_known": {lab: int(((known == j) & ~np.array(seed_url, dtype=bool)).sum()) for j, lab in enumerate(ALL_LABELS)},
            "pool": _pool_counts(known, folds, opts["folds"])}


def code_text_part_task(in_uri: str, code_uri: str, opts: dict[str, Any], bound: int, have: int) -> dict[str, int]:
    """A part's code-text candidates from its files whose key is at or above the first sample's bound
    (when that sample fell short); the part already holds `have` pieces from below the bound."""
    from classifiers.sharded import sample_keys  # deferred: kept out of corpus --help

    t = storage.read_table(in_uri, columns=["id", "repo", "language"])
    files = _code_text_files(t, opts)
    keys = sample_keys([t.column("id")[i].as_py() for i in files], f"{opts['seed']}/code_text")
    rest = np.nonzero(keys >= np.uint64(bound))[0]
    rows = [files[j] for j in rest]
    texts = read_rows(in_uri, rows, "text")
    opts = {**opts, "file_keys": keys[rest], "max_code_text_seeds": max(0, opts["max_code_text_seeds"] - have)}
    return _code_text(t, rows, texts, opts, make_pretokenize(opts["tokenizer"]), code_uri)


_SEED_URLS: dict[tuple[str, str], dict[str, Any]] = {}


def _seed_urls(ref: list[str]) -> dict[str, Any]:
    """{url: label or None} of the seed files, read once per worker process ([uri, content digest])."""
    key = (ref[0], ref[1])
    if key not in _SEED_URLS:
        t = storage.read_table(ref[0])
        _SEED_URLS.clear()
        _SEED_URLS[key] = dict(zip(t.column("url").to_pylist(), t.column("label").to_pylist()))
    return _SEED_URLS[key]


def _pool_counts(known: np.ndarray, folds: np.ndarray, n_folds: int) -> dict[str, int]:
    pool = known < 0
    out = {"all": int(pool.sum())}
    for f in range(max(1, n_folds)):
        out[str(f)] = int((pool & (folds != f)).sum()) if n_folds > 1 else out["all"]
    return out


def code_text_task(uris: list[str], k: int, out_uri: str) -> int:
    """The k code-text candidates with the smallest (key, piece) over <= fan_in files (parts, or merged
    files of a fan-in tree: a stable top-k of consecutive groups is the top-k of the whole)."""
    t = pa.concat_tables([storage.read_table(u) for u in uris])
    best = t.take(pa.array(np.lexsort((t.column("piece").to_numpy(), t.column("key").to_numpy()))[:k]))
    storage.write_table(out_uri, best)
    return best.num_rows


def _known(known_uri: str | None, pages: pa.Table) -> np.ndarray:
    if known_uri is None:  # iteration 1: the seed URLs
        return pages.column("seed_label").to_numpy().astype(np.int8)
    return storage.read_table(known_uri).column("known").to_numpy().astype(np.int8)


def train_lines_task(part: int, pages_uri: str, known_uri: str | None, out_uri: str, salt: str, key_bound: int, n_folds: int) -> dict[str, int]:
    """The part's training lines of one iteration: its expanded positives (known pages that no seed
    URL gave) and its pool pages whose hash key is under the bound (negative candidates)."""
    from classifiers.sharded import sample_keys  # deferred: kept out of corpus --help

    pages = storage.read_table(pages_uri, columns=["url", "fold", "seed_label", "seed_url"])
    known = _known(known_uri, pages)
    seed_url = pages.column("seed_url").to_numpy(zero_copy_only=False)
    keys = sample_keys(pages.column("url").to_pylist(), salt)
    positive = (known >= 0) & ~seed_url
    negative = (known < 0) & (keys < np.uint64(min(key_bound, 2**64 - 1)))
    rows = np.nonzero(positive | negative)[0]
    lines = read_rows(pages_uri, rows.tolist(), "line")
    folds = pages.column("fold").to_numpy()
    table = pa.table({
        "label": [ALL_LABELS[known[r]] if positive[r] else "other" for r in rows],
        "key": pa.array([NO_KEY if positive[r] else keys[r] for r in rows], pa.uint64()),
        "fold": pa.array(folds[rows], pa.int8()), "part": pa.array(np.full(len(rows), part), pa.int32()),
        "row": pa.array(rows, pa.int32()), "line": pa.array(lines, pa.large_string()),
    }, schema=TRAIN_SCHEMA)
    storage.write_table(out_uri, table)
    out = {"all": int(negative.sum())}
    for f in range(max(n_folds, 1)):
        out[str(f)] = int((negative & (folds != f)).sum()) if n_folds > 1 else out["all"]
    return out


def train_task(name: str, seed_lines_uri: str, code_text_uri: str, train_uris: list[str], fold: int | None, n_neg: int,
               params_json: dict[str, Any], model_uri: str) -> dict[str, Any]:
    """Assemble one model's training data from the parts' training lines and train it (one fastText
    thread by default: multi-threaded fastText is not reproducible). Returns its report, or an error."""
    import tempfile


    seeds = storage.read_table(seed_lines_uri)
    by_label: dict[str, list[str]] = {}
    other_seeds: list[str] = []
    for lab, line in zip(seeds.column("label").to_pylist(), seeds.column("line").to_pylist()):
        (other_seeds if lab == OTHER else by_label.setdefault(lab, [])).append(line)
    by_label.setdefault("code", []).extend(storage.read_table(code_text_uri).column("line").to_pylist())
    # <= fan_in files: the parts' training lines, or what a fan-in tree kept of them (train_merge_task).
    t = pa.concat_tables([storage.read_table(u) for u in train_uris], promote_options="default") if train_uris else TRAIN_SCHEMA.empty_table()
    pos = t.filter(pc.not_equal(t.column("label"), OTHER))
    for lab, line in zip(pos.column("label").to_pylist(), pos.column("line").to_pylist()):
        by_label.setdefault(lab, []).append(line)
    neg = t.filter(pc.equal(t.column("label"), OTHER))
    if fold is not None:
        neg = neg.filter(pc.not_equal(neg.column("fold"), fold))
    negatives = neg.take(pa.array(_smallest_negatives(neg, n_neg), pa.int64()))
    negatives = negatives.sort_by([("part", "ascending"), ("row", "ascending")])  # page order, as the in-memory loop
    by_label[OTHER] = negatives.column("line").to_pylist() + other_seeds
    by_label = {k: v for k, v in by_label.items() if v}
    params = RecallParams(**params_json)
    with tempfile.TemporaryDirectory(prefix="corpus-recall-") as tmp:
        local = Path(tmp) / "model.bin"
        try:
            info = train_to_file(by_label, local, params)
        except RecallDataError as exc:
            return {"error": str(exc)}
        digest = sha256_file(local)
        storage.upload_file(local, model_uri, move=True)
    return {"name": name, "negatives": negatives.num_rows, "info": info.to_json(), "sha256": digest,
            "bytes": storage.size(model_uri)}


def _smallest_negatives(neg: pa.Table, n: int) -> np.ndarray:
    """Rows of the n negatives with the smallest (key, part, row): a total order, so the n smallest of
    the whole are among the n smallest of any consecutive group of files."""
    if not neg.num_rows:
        return np.empty(0, np.int64)
    return np.lexsort((neg.column("row").to_numpy(), neg.column("part").to_numpy(), neg.column("key").to_numpy()))[:n]


def train_merge_task(uris: list[str], folds: int, n_neg: int, out_uri: str) -> int:
    """A fan-in level of the training lines: every positive, and each negative that is among the n_neg
    smallest of its group for some model (each fold's, which leaves that fold out, and the one of all
    folds): what any train_task of the iteration can select. Rows keep their order."""
    t = pa.concat_tables([storage.read_table(u) for u in uris], promote_options="default")
    keep = np.asarray(pc.not_equal(t.column("label"), OTHER).to_numpy(zero_copy_only=False), dtype=bool)
    negative = np.nonzero(~keep)[0]
    neg = t.take(pa.array(negative, pa.int64()))
    folds_of = neg.column("fold").to_numpy()
    keep[negative[_smallest_negatives(neg, n_neg)]] = True
    for f in range(folds if folds > 1 else 0):
        rows = np.nonzero(folds_of != f)[0]
        keep[negative[rows[_smallest_negatives(neg.take(pa.array(rows, pa.int64())), n_neg)]]] = True
    out = t.filter(pa.array(keep))
    storage.write_table(out_uri, out.cast(TRAIN_SCHEMA))
    return out.num_rows


def score_task(part: int, pages_uri: str, models: list[list[str]], labels: list[str], probs_uri: str, stats_args: dict[str, Any] | None) -> dict[str, Any]:
    """Score the part's cached lines with its folds' models (native batch predict); with no token
    budget the part's recall statistics follow in the same task."""
    pages = storage.read_table(pages_uri, columns=["fold", "line"])
    folds = pages.column("fold").to_numpy()
    lines = pages.column("line").to_pylist()
    probs = np.zeros((len(lines), len(labels)), dtype=np.float32)
    started = time.perf_counter()
    for f in np.unique(folds):
        rows = np.nonzero(folds == f)[0]
        model = load_model(*models[int(f)])
        probs[rows] = model.score_lines([lines[r] for r in rows], labels)
    seconds = time.perf_counter() - started
    storage.write_table(probs_uri, pa.table({f"p_{lab}": probs[:, j] for j, lab in enumerate(labels)}))
    out: dict[str, Any] = {"score_seconds": seconds, "pages": len(lines),
                           "p_min": probs.min(axis=0).tolist() if len(lines) else None, "p_max": probs.max(axis=0).tolist() if len(lines) else None}
    if stats_args is not None:
        out.update(stats_task(part, pages_uri, probs_uri, labels, **stats_args))
    return out


def _probs(uri: str, labels: list[str]) -> np.ndarray:
    t = storage.read_table(uri)
    return np.stack([t.column(f"p_{lab}").to_numpy() for lab in labels], axis=1) if t.num_rows else np.zeros((0, len(labels)), np.float32)


CANDIDATE_SCHEMA = pa.schema([("label", pa.string()), ("p", pa.float32()), ("part", pa.int64()), ("row", pa.int64()), ("tokens", pa.int64())])


def _fitting(t: pa.Table, budget: dict[str, int]) -> pa.Table:
    """Per label, the candidates that can still be inside the budget: pages ranked by probability (ties
    by page order) while their cumulative tokens fit, and the first one always (it tells "none" from no
    candidate). Any page after those has more tokens before it in the whole ranking than in this one,
    so it cannot fit there either: the global cutoff only ever needs what is kept here."""
    keep = np.zeros(t.num_rows, dtype=bool)
    labels = np.asarray(t.column("label").to_pylist(), dtype=object)
    p, part, row, tokens = (t.column(c).to_numpy() for c in ("p", "part", "row", "tokens"))
    for lab, cap in budget.items():
        idx = np.nonzero(labels == lab)[0]
        if not len(idx):
            continue
        order = idx[np.lexsort((row[idx], part[idx], -p[idx].astype(np.float64)))]
        fits = int((np.cumsum(tokens[order]) <= cap).sum())
        keep[order[:max(1, fits)]] = True
    return t.filter(pa.array(keep))


def cut_candidates_task(probs_uris: list[str], pages_uris: list[str], first_part: int, labels: list[str], threshold: float,
                        budget: dict[str, int], out_uri: str, evidence: dict[str, float] | None = None) -> int:
    """The budget candidates of consecutive parts (from first_part on) that can still be inside it."""
    from classifiers.sharded import best_labels  # deferred: kept out of corpus --help

    chunks = []
    for k, (pu, gu) in enumerate(zip(probs_uris, pages_uris)):
        cache = storage.read_table(gu, columns=["tokens", "code_tokens", "math_words"])
        tokens = cache.column("tokens").to_numpy()
        probs, eligible = apply_evidence(labels, _probs(pu, labels), cache.column("code_tokens").to_numpy(),
                                         cache.column("math_words").to_numpy(), **(evidence or {}))
        best, best_p = best_labels(probs)
        for lab in budget:
            hit = (best == labels.index(lab)) & (best_p >= threshold)
            rows = np.nonzero(hit & eligible[:, labels.index(lab)] if eligible is not None else hit)[0]
            chunks.append(pa.table({"label": pa.array([lab] * len(rows), pa.string()), "p": pa.array(best_p[rows], pa.float32()),
                                    "part": pa.array(np.full(len(rows), first_part + k), pa.int64()), "row": pa.array(rows, pa.int64()),
                                    "tokens": pa.array(tokens[rows], pa.int64())}, schema=CANDIDATE_SCHEMA))
    out = _fitting(pa.concat_tables(chunks) if chunks else CANDIDATE_SCHEMA.empty_table(), budget)
    storage.write_table(out_uri, out)
    return out.num_rows


def cut_merge_task(uris: list[str], budget: dict[str, int], out_uri: str) -> int:
    out = _fitting(pa.concat_tables([storage.read_table(u) for u in uris]), budget)
    storage.write_table(out_uri, out)
    return out.num_rows


def cut_task(candidate_uris: list[str], budget: dict[str, int]) -> dict[str, Any]:
    """Global token-budget cutoffs from <= fan_in candidate files (what cut_candidates_task and the
    fan-in tree kept: every page the cutoff can land on)."""
    from classifiers.sharded import budget_cutoff  # deferred: kept out of corpus --help

    t = pa.concat_tables([storage.read_table(u) for u in candidate_uris]) if candidate_uris else CANDIDATE_SCHEMA.empty_table()
    labels = np.asarray(t.column("label").to_pylist(), dtype=object)
    out = {}
    for lab, cap in budget.items():
        c = t.filter(pa.array(labels == lab)) if t.num_rows else t
        out[lab] = budget_cutoff(c.column("p").to_numpy(), c.column("part").to_numpy(), c.column("row").to_numpy(),
                                 c.column("tokens").to_numpy(), cap)
    return out


def stats_task(part: int, pages_uri: str, probs_uri: str, labels: list[str], *, recalled_uri: str, prev_recalled_uri: str | None,
               counts_uri: str, threshold: float, cutoffs: dict[str, Any] | None, max_depth: int,
               evidence: dict[str, float] | None = None) -> dict[str, Any]:
    """Recalled label per page (threshold, text evidence, budget cutoff), the part's host/prefix counts for the
    domain rule, and its per-label sums for the report."""
    from classifiers.sharded import recalled_labels, shard_counts  # deferred: kept out of corpus --help

    pages = storage.read_table(pages_uri, columns=["url", "tokens", "code_tokens", "math_words"])
    probs, eligible = apply_evidence(labels, _probs(probs_uri, labels), pages.column("code_tokens").to_numpy(),
                                     pages.column("math_words").to_numpy(), **(evidence or {}))
    local = recalled_labels(probs, labels, OTHER, threshold, part, cutoffs, eligible)
    to_code = np.array([CODE[lab] for lab in labels], dtype=np.int8)
    recalled = np.where(local >= 0, to_code[np.maximum(local, 0)], -1).astype(np.int8)
    storage.write_table(recalled_uri, pa.table({"recalled": pa.array(recalled, pa.int8())}))
    positive = [lab for lab in labels if lab != OTHER]
    storage.write_table(counts_uri, shard_counts(pages.column("url").to_pylist(), recalled, positive, CODE, max_depth))
    tokens = pages.column("tokens").to_numpy()
    prev = storage.read_table(prev_recalled_uri).column("recalled").to_numpy() if prev_recalled_uri else None
    out = {"recalled_pages": {}, "recalled_tokens": {}, "both": {}}
    for lab in positive:
        hit = recalled == CODE[lab]
        out["recalled_pages"][lab] = int(hit.sum())
        out["recalled_tokens"][lab] = int(tokens[hit].sum())
        if prev is not None:
            out["both"][lab] = int((hit & (prev == CODE[lab])).sum())
    return out


def counts_merge_task(uris: list[str], positive: list[str], out_uri: str) -> int:
    """A fan-in level of the host/prefix counts: their per-key sums (sums of sums are the same sums)."""
    from classifiers.sharded import sum_counts  # deferred: kept out of corpus --help

    totals = sum_counts([storage.read_table(u) for u in uris], positive)
    storage.write_table(out_uri, totals)
    return totals.num_rows


def reduce_task(counts_uris: list[str], positive: list[str], rule: dict[str, Any], decisions_uri: str) -> dict[str, Any]:
    """Sum the parts' host/prefix counts, apply the domain rule and write the prefix decisions
    (one task: its memory is O(hosts + prefixes), never the driver's)."""
    from classifiers.sharded import decisions, sum_counts  # deferred: kept out of corpus --help

    totals = sum_counts([storage.read_table(u) for u in counts_uris], positive)  # <= fan_in files
    table, report = decisions(totals, positive, rule["min_share"], rule["min_domain_pages"], rule["min_prefix_share"], rule["min_prefix_pages"])
    storage.write_table(decisions_uri, table)
    return {**report, "decisions": [decisions_uri, table_digest(table)]}


_DECISIONS: dict[str, Any] = {}


def expand_task(pages_uri: str, known_uri: str | None, recalled_uri: str, decisions: list[str], next_known_uri: str,
                labels: list[str], max_depth: int, n_folds: int) -> dict[str, Any]:
    """URL expansion of the part's pages; writes their known labels for the next iteration."""
    from classifiers.sharded import decision_map, expand_shard  # deferred: kept out of corpus --help

    positive = [lab for lab in labels if lab != OTHER]
    key = (decisions[0], decisions[1])  # [uri, content digest]: one read per worker process
    if key not in _DECISIONS:
        _DECISIONS.clear()
        _DECISIONS[key] = decision_map(storage.read_table(decisions[0]), positive)
    pages = storage.read_table(pages_uri, columns=["url", "fold", "seed_label", "seed_url"])
    known = _known(known_uri, pages)
    recalled = storage.read_table(recalled_uri).column("recalled").to_numpy()
    new_known, new = expand_shard(pages.column("url").to_pylist(), known, recalled, _DECISIONS[key], positive, CODE, max_depth)
    storage.write_table(next_known_uri, pa.table({"known": pa.array(new_known, pa.int8())}))
    seed_url = pages.column("seed_url").to_numpy(zero_copy_only=False)
    return {"new_positives": new, "pool": _pool_counts(new_known, pages.column("fold").to_numpy(), n_folds),
            "expanded_known": {lab: int(((new_known == CODE[lab]) & ~seed_url).sum()) for lab in positive}}


def apply_task(in_uri: str, out_uri: str, final: dict[str, Any] | None, drop_unrecalled: bool,
               github: tuple[str, float] | None = None) -> dict[str, Any]:
    """Write the part with its web pages' labels (optionally dropping the pages not recalled) and
    `meta.recall` on the repository files GitHub recall collected."""
    if github is None and (final is None or storage.parquet_file(final["pages"]).metadata.num_rows == 0):
        # No web page and nothing GitHub recall marked: every row is unchanged, the file is copied.
        return {"stats": pass_through_part(in_uri, out_uri).to_json(), "final_domains": {}}
    table = storage.read_table(in_uri)
    domains = table.column("domain").to_pylist()
    metas = table.column("meta").to_pylist()
    if github is not None:

        metas = mark(metas, *github)
        table = table.set_column(table.schema.get_field_index("meta"), "meta", pa.array(metas, pa.string()))
    mask = [False] * table.num_rows
    scores: dict[int, str] = {}
    final_domains: dict[str, int] = {}
    if final is not None:
        labels = final["labels"]
        pages = storage.read_table(final["pages"], columns=["row", "seed_url", "code_tokens", "math_words"])
        code_tokens = pages.column("code_tokens").to_numpy()
        math_words = pages.column("math_words").to_numpy()
        probs = _probs(final["probs"], labels)
        # the score the model recalled a page by: P(code) and P(math) exchanged where the math words decided
        ranked, _ = apply_evidence(labels, probs, code_tokens, math_words, **final["evidence"])
        recalled = storage.read_table(final["recalled"]).column("recalled").to_numpy()
        known = storage.read_table(final["known"]).column("known").to_numpy()
        for k, (i, seed_url) in enumerate(zip(pages.column("row").to_pylist(), pages.column("seed_url").to_pylist())):
            j = int(recalled[k])
            if j >= 0:
                label, via = ALL_LABELS[j], "model"
            elif known[k] >= 0:
                label, via = ALL_LABELS[int(known[k])], ("seed" if seed_url else "url_prefix")
            else:
                label, via = OTHER, None
            j = labels.index(label)
            domains[i] = DOMAIN_OF_LABEL[label]
            final_domains[domains[i]] = final_domains.get(domains[i], 0) + 1
            try:
                meta = json.loads(metas[i])
            except (TypeError, ValueError):
                meta = None
            if not isinstance(meta, dict):
                meta = {"meta_unparsed": metas[i]}
            meta.update({"recall_label": label, "recall_score": round(float((ranked if via == "model" else probs)[k, j]), 5), "recall_via": via,
                         "recall_code_tokens": round(float(code_tokens[k]), 4),
                         "recall_math_words": round(float(math_words[k]), 4),
                         "recall_probs": {lab: round(float(x), 5) for lab, x in zip(labels, probs[k])}})
            metas[i] = json.dumps(meta, sort_keys=True, ensure_ascii=False)
            mask[i] = drop_unrecalled and label == OTHER
            if mask[i]:  # the drop row says how close the page came and its text evidence (corpus explain --run reads it)
                scores[i] = (" ".join(f"{lab} {float(x):.5f}" for lab, x in zip(labels, probs[k]))
                             + f"; code_tokens {float(code_tokens[k]):.4f}; math_words {float(math_words[k]):.4f}")
        table = table.set_column(table.schema.get_field_index("domain"), "domain", pa.array(domains, pa.string()))
        table = table.set_column(table.schema.get_field_index("meta"), "meta", pa.array(metas, pa.string()))
    reasons = ["not_recalled" if m else None for m in mask]
    paths = table.column("path").to_pylist()
    details = [f"{paths[i]}: not recalled in the last iteration (threshold, code gate, math words); scores {scores.get(i, '')}" if m else "" for i, m in enumerate(mask)]
    return {"stats": write_filtered_part(table, mask, reasons, details, out_uri).to_json(), "final_domains": final_domains}


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    for line in _lines(path):
        h.update(line.encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:16]


class RecallStage(GlobalStage):
    name = "recall"
    version = "7"  # code or math by the text (min_math_words; math_words in the page cache, recall_math_words in meta)
    code_modules = ("corpus.stages.recall", "classifiers")  # the packaged seed files are part of the key
    config: RecallConfig

    def __init__(self, config: RecallConfig | None = None) -> None:
        super().__init__(config or RecallConfig())

    def config_json(self) -> dict[str, Any]:
        # Seed files are inputs: a changed seed file must make --resume recompute the stage.
        data = super().config_json()
        data["seed_digests"] = {p: _file_digest(p) for p in self.config.seeds if _seed_readable(p)}
        if self.config.github.enabled:
            data["github_seed_digests"] = {p: _file_digest(p) for p in self.config.github.seeds if _seed_readable(p)}
        return data

    def content_files(self) -> list[str]:
        files = [self.config.tokenizer] if self.config.tokenizer else []
        if self.config.github.enabled and self.config.github.code_rules:
            files.append(self.config.github.code_rules)
        return files

    def preflight(self) -> None:
        for p in self.config.seeds:
            if not _seed_readable(p):
                raise PreflightError(f"stages.recall.seeds: cannot read seed file {p!r}")
        for p in self.config.github.seeds if self.config.github.enabled else []:
            if not _seed_readable(p):
                raise PreflightError(f"stages.recall.github.seeds: cannot read seed file {p!r}")
        if self.config.tokenizer and not Path(self.config.tokenizer).is_file():
            raise PreflightError(f"stages.recall.tokenizer: no tokenizer file at {self.config.tokenizer!r}")
        if self.config.budget_tokens:
            bad = set(self.config.budget_tokens) - {"code", "math"}
            if bad:
                raise PreflightError(f"stages.recall.budget_tokens: unknown label(s) {sorted(bad)}; use code, math")

    def run(self, ctx, inputs: list[str]) -> StageStats:
        started = time.time()
        cfg = self.config
        n = len(inputs)
        S = ctx.scratch
        pages = [S("pages", part_name(i)) for i in range(n)]
        report: dict[str, Any] = {"config": cfg.model_dump(mode="json")}

        prep = ctx.load_step("prepare")
        if prep is None:
            prep = self._prepare(ctx, inputs, pages)
            ctx.save_step("prepare", prep)
        report["seeds"] = prep["seeds_report"]
        report["web_pages"] = prep["web_pages"]
        final: dict[str, Any] | None = None
        if not prep["web_pages"]:
            report["skipped"] = "no web pages in the input"
        elif not prep["positive_labels"]:
            report["skipped"] = "no positive seeds: give seed texts labelled e.g. code or math"
        else:
            try:
                final = self._iterate(ctx, prep, pages, report)
            except RecallDataError as exc:
                # Unusable seeds or pages: the run goes on with the records unchanged, and says why.
                log.warning("stage recall: skipped: %s", exc)
                report["skipped"] = str(exc)
        gh = None
        if cfg.github.enabled:

            gh = run_github(self, ctx, inputs, report, self._params(ctx))
        drop = cfg.drop_unrecalled and final is not None
        args = [(inputs[i], part_uri(ctx.stage_uri, i), {**final, "pages": pages[i], "probs": final["probs"][i],
                 "recalled": final["recalled"][i], "known": final["known"][i], "evidence": cfg.evidence()} if final else None, drop,
                 (gh[i], cfg.github.threshold) if gh else None) for i in range(n)]
        total = StageStats()
        domains: dict[str, int] = {}
        for r in ctx.map(apply_task, args, desc=f"{self.name}:apply", costs=ctx.part_sizes(inputs), count=lambda r: r["stats"]["in"]):
            total.merge(StageStats.from_json(r["stats"]))
            for k, v in r["final_domains"].items():
                domains[k] = domains.get(k, 0) + v
        if final is not None:
            report["final_domains"] = dict(sorted(domains.items()))
            if cfg.page_eval and "model" in report:
                from corpus.stages.recall.page_eval import page_eval_task  # deferred: kept out of corpus --help

                report["page_eval"] = ctx.map(page_eval_task, [(report["model"]["path"], cfg.page_eval_warcs, cfg.tokenizer,
                                                                cfg.fasttext.max_tokens, cfg.threshold, cfg.evidence())],
                                              desc=f"{self.name}:page_eval")[0]
        report["seconds"] = round(time.time() - started, 2)
        storage.write_json(storage.join(ctx.reports_uri, "recall.json"), report)
        return total

    def _prepare(self, ctx, inputs: list[str], pages: list[str]) -> dict[str, Any]:
        """Seeds (one task), then one pass over every part (pages pretokenized into scratch), then the
        code-text seeds (one task). Returns the per-part summaries the iterations need."""
        cfg, S = self.config, ctx.scratch
        math = {"modules": cfg.math_text_modules, "wanted": cfg.max_math_text_seeds, "min_words": cfg.min_seed_words, "salt": f"{ctx.seed}/math_text"}
        seeds = ctx.map(seed_task, [(cfg.seeds, cfg.tokenizer, cfg.fasttext.max_tokens, S("seeds", "lines.parquet"), S("seeds", "urls.parquet"), math)],
                        desc=f"{self.name}:seeds")[0]
        opts = {"recall_domains": cfg.recall_domains, "code_text_seeds": cfg.code_text_seeds, "code_text_languages": cfg.code_text_languages,
                "docstrings": cfg.docstrings, "min_seed_words": cfg.min_seed_words, "max_code_text_seeds": cfg.max_code_text_seeds,
                "tokenizer": cfg.tokenizer, "max_tokens": cfg.fasttext.max_tokens, "folds": cfg.folds, "seed": ctx.seed}
        code_parts = [S("code_text", part_name(i)) for i in range(len(inputs))]
        # Code-text seeds: a hash sample of the candidate files big enough for max_code_text_seeds
        # pieces (assuming one piece per file), so files beyond it are never parsed for docstrings.
        from classifiers.sharded import key_threshold  # deferred: kept out of corpus --help

        counted = ctx.map(count_task, [(u, opts) for u in inputs], desc=f"{self.name}:count")
        n_files, n_web = sum(c["files"] for c in counted), sum(c["web"] for c in counted)
        # Seeds past what balancing can use are never parsed (see useful_code_seeds).
        useful = useful_code_seeds(seeds["counts"], n_web, cfg.fasttext.max_repeat, cfg.fasttext.holdout)
        k = min(cfg.max_code_text_seeds, useful)
        opts["max_code_text_seeds"] = k
        if not (k and cfg.code_text_seeds):
            n_files = 0
        # A small slack: every file under the bound is parsed (the costly part), and a short sample is
        # topped up anyway.
        bound = key_threshold(-(-k // CODE_PIECES_PER_FILE), n_files, slack=32) if n_files else 0
        indexed = ctx.map(index_task, [(inputs[i], i, pages[i], code_parts[i], seeds["urls"], opts, bound) for i in range(len(inputs))],
                          desc=f"{self.name}:index")
        code = {"code_text_wanted": k, "code_text_useful_bound": useful, "code_text_files": n_files, "code_text_files_parsed": sum(ix["code_text_files_parsed"] for ix in indexed)}
        if sum(ix["code_text_pieces"] for ix in indexed) < k and 0 < bound < 2**64 - 1:
            # The sample yielded fewer pieces than wanted: add the files above its bound (never the same file twice).
            more = [S("code_text", "more-" + part_name(i)) for i in range(len(inputs))]
            again = ctx.map(code_text_part_task, [(inputs[i], more[i], opts, bound, indexed[i]["code_text_pieces"]) for i in range(len(inputs))],
                            desc=f"{self.name}:code_text_more")
            code["code_text_files_parsed"] += sum(r["code_text_files_parsed"] for r in again)
            code_parts = code_parts + more
        code_parts = fan_in_tree(ctx, code_parts, code_text_task, "code_text_tree", (k,), cfg.fan_in)
        n_code = ctx.map(code_text_task, [(code_parts, k, S("code_text.parquet"))], desc=f"{self.name}:code_text")[0]
        remove_tree(ctx, "code_text_tree")
        counts = dict(seeds["counts"])
        counts["code"] = counts.get("code", 0) + n_code
        return {
            "seeds_report": {"files": seeds["files"], "math_text": seeds.get("math_text"), "code_text_from_input": n_code, **code},
            "seed_counts": counts,
            "positive_labels": sorted(lab for lab, c in counts.items() if lab != "other" and c > 0),
            "web_pages": sum(ix["pages"] for ix in indexed),
            "next": {"expanded_known": _sum_dicts(ix["expanded_known"] for ix in indexed), "pool": _sum_dicts(ix["pool"] for ix in indexed)},
        }

    def _params(self, ctx) -> dict[str, Any]:
        ft = self.config.fasttext
        return dataclasses.replace(ft, seed=ctx.seed if ft.seed is None else ft.seed).to_json()

    def _iterate(self, ctx, prep: dict[str, Any], pages: list[str], report: dict[str, Any]) -> dict[str, Any]:
        cfg, S, n = self.config, ctx.scratch, len(pages)
        positive = prep["positive_labels"]
        labels = positive + ["other"]
        params = self._params(ctx)
        folds = max(1, cfg.folds)
        rule = {"min_share": cfg.min_share, "min_domain_pages": cfg.min_domain_pages, "min_prefix_share": cfg.min_prefix_share,
                "min_prefix_pages": cfg.min_prefix_pages}
        report["iterations"] = []
        state = prep["next"]
        model_uri = storage.join(ctx.stage_uri, "model.bin")
        for it in range(1, cfg.iterations + 1):
            done = ctx.load_step(f"iter-{it}")
            if done is None:
                done = self._one_iteration(ctx, it, state, prep, labels, params, folds, rule, pages, model_uri)
                ctx.save_step(f"iter-{it}", done)
            if "error" in done:
                raise RecallDataError(done["error"])
            report["iterations"].append(done["entry"])
            warn_degenerate(report, done["entry"])
            state = done["next"]
            if it == cfg.iterations:
                report["model"] = done["model"]
            log.info("recall iteration %d: recalled %s, new positives %s", it, done["entry"]["recalled_pages"], done["entry"]["new_positives"])
        last = cfg.iterations
        return {"labels": labels, "probs": [S(f"iter-{last}", "probs", part_name(i)) for i in range(n)],
                "recalled": [S(f"iter-{last}", "recalled", part_name(i)) for i in range(n)],
                "known": [S(f"iter-{last + 1}", "known", part_name(i)) for i in range(n)]}

    def _one_iteration(self, ctx, it: int, state: dict[str, Any], prep: dict[str, Any], labels: list[str], params: dict[str, Any],
                       folds: int, rule: dict[str, Any], pages: list[str], model_uri: str) -> dict[str, Any]:
        """Train (fold models in parallel tasks) -> score -> select -> domains -> expansion; every
        per-page result goes to scratch, the returned record is per-iteration totals only."""
        cfg, S, n = self.config, ctx.scratch, len(pages)
        positive = [lab for lab in labels if lab != "other"]
        started = time.time()
        known = [S(f"iter-{it}", "known", part_name(i)) if it > 1 else None for i in range(n)]
        n_pos = {lab: prep["seed_counts"].get(lab, 0) + state["expanded_known"].get(lab, 0) for lab in positive}
        n_neg = min(params["max_examples_per_label"], int(round(cfg.negatives_per_positive * sum(n_pos.values()))))
        last = it == cfg.iterations
        # Negatives: the pool pages with the smallest hash keys. Parts keep the ones under a bound that
        # holds enough of them; a bound that turns out too low is widened to everything (rare).
        wanted = {str(f): min(n_neg, state["pool"][str(f)]) for f in range(folds)}
        wanted["all"] = min(n_neg, state["pool"]["all"])
        smallest_pool = min(state["pool"][str(f)] for f in range(folds))
        train_parts = [S(f"iter-{it}", "train", part_name(i)) for i in range(n)]
        from classifiers.sharded import key_threshold  # deferred: kept out of corpus --help

        for bound in (key_threshold(n_neg, smallest_pool), 2**64 - 1):
            got = _sum_dicts(ctx.map(train_lines_task, [(i, pages[i], known[i], train_parts[i], f"{ctx.seed}/{it}", bound, folds) for i in range(n)],
                                     desc=f"{self.name}:train_lines"))
            if all(got.get(k, 0) >= v for k, v in wanted.items()):
                break
        # Every part's lines reach the trainings through a fan-in tree (each task reads <= fan_in files).
        train_parts = fan_in_tree(ctx, train_parts, train_merge_task, f"iter-{it}-train-tree", (folds, n_neg), cfg.fan_in)
        jobs = [(f"fold-{f}", S("seeds", "lines.parquet"), S("code_text.parquet"), train_parts, f if folds > 1 else None, n_neg, params,
                 S(f"iter-{it}", f"fold-{f}.bin")) for f in range(folds)]
        if last and folds > 1:
            # The model users keep sees negatives from every fold (it scores new data, not these pages).
            jobs.append(("final", S("seeds", "lines.parquet"), S("code_text.parquet"), train_parts, None, n_neg, params, model_uri))
        trained = ctx.map(train_task, jobs, num_cpus=params["thread"], desc=f"{self.name}:train")
        for t in trained:
            if "error" in t:
                return {"error": t["error"]}
        models = [[S(f"iter-{it}", f"fold-{f}.bin"), trained[f]["sha256"]] for f in range(folds)]
        out = {}
        if last:
            if folds == 1:
                with storage.local_copy(models[0][0]) as local:
                    storage.upload_file(local, model_uri)
                final = trained[0]
            else:
                final = trained[-1]
            out["model"] = {"path": model_uri, "bytes": storage.size(model_uri), "train": final["info"]}
        I = lambda kind, i: S(f"iter-{it}", kind, part_name(i))  # noqa: E731, E741 - I(kind, part): this iteration's file
        stats_args = [{"recalled_uri": I("recalled", i), "prev_recalled_uri": S(f"iter-{it - 1}", "recalled", part_name(i)) if it > 1 else None,
                       "counts_uri": I("counts", i), "threshold": cfg.threshold, "max_depth": cfg.max_prefix_depth, "cutoffs": None,
                       "evidence": cfg.evidence()} for i in range(n)]
        budget = cfg.budget_tokens
        scored = ctx.map(score_task, [(i, pages[i], models, labels, I("probs", i), None if budget else stats_args[i]) for i in range(n)],
                         desc=f"{self.name}:score")
        if budget:
            # Candidates per group of parts (two files a part), then a fan-in tree, then one cut task.
            groups = groups_of(list(range(n)), max(1, cfg.fan_in // 2))
            cands = [S(f"iter-{it}", "cut", f"cand-{g:05d}.parquet") for g in range(len(groups))]
            ctx.map(cut_candidates_task, [([I("probs", i) for i in grp], [pages[i] for i in grp], grp[0], labels, cfg.threshold, budget, c,
                                           cfg.evidence()) for grp, c in zip(groups, cands)], desc=f"{self.name}:cut_candidates")
            cands = fan_in_tree(ctx, cands, cut_merge_task, f"iter-{it}-cut-tree", (budget,), cfg.fan_in)
            cutoffs = ctx.map(cut_task, [(cands, budget)], desc=f"{self.name}:cut")[0]
            sums = ctx.map(_stats_call, [(i, pages[i], I("probs", i), labels, {**stats_args[i], "cutoffs": cutoffs}) for i in range(n)],
                           desc=f"{self.name}:select")
        else:
            sums = scored
        counts = fan_in_tree(ctx, [I("counts", i) for i in range(n)], counts_merge_task, f"iter-{it}-counts-tree", (positive,), cfg.fan_in)
        decided = ctx.map(reduce_task, [(counts, positive, rule, S(f"iter-{it}", "decisions.parquet"))],
                          desc=f"{self.name}:domains")[0]
        expanded = ctx.map(expand_task, [(pages[i], known[i], I("recalled", i), decided["decisions"],
                                          S(f"iter-{it + 1}", "known", part_name(i)), labels, cfg.max_prefix_depth, folds) for i in range(n)],
                           desc=f"{self.name}:expand")
        recalled_pages = _sum_dicts(s["recalled_pages"] for s in sums)
        entry: dict[str, Any] = {
            "iteration": it,
            "positives": n_pos,
            "negatives_from_pages": {t["name"].removeprefix("fold-"): t["negatives"] for t in trained if t["name"] != "final"},
            "negatives_from_seeds": prep["seed_counts"].get("other", 0),
            "train": {t["name"].removeprefix("fold-"): t["info"] for t in trained if t["name"] != "final"},
            "recalled_pages": {lab: recalled_pages.get(lab, 0) for lab in positive},
            "recalled_tokens": {lab: _sum_dicts(s["recalled_tokens"] for s in sums).get(lab, 0) for lab in positive},
            "domains": decided["domains"],
            "url_prefixes": decided["url_prefixes"],
            "new_positives": {lab: _sum_dicts(e["new_positives"] for e in expanded).get(lab, 0) for lab in positive},
            "scored": sum(s["pages"] for s in scored),
            "score_pages_per_s": _rate(sum(s["pages"] for s in scored), sum(s["score_seconds"] for s in scored)),
            "seconds": round(time.time() - started, 2),
        }
        entry["score_spread"] = score_spread(scored)
        check_degenerate(entry, trained, "web recall")
        if it > 1:
            # DeepSeekMath stopped when ~98% of an iteration's pages had been collected before.
            both = _sum_dicts(s["both"] for s in sums)
            entry["already_recalled_share"] = {lab: round(both.get(lab, 0) / recalled_pages[lab], 4) if recalled_pages.get(lab) else 0.0 for lab in positive}
        out.update({"entry": entry, "next": {"expanded_known": _sum_dicts(e["expanded_known"] for e in expanded),
                                             "pool": _sum_dicts(e["pool"] for e in expanded)}})
        return out


def _seed_readable(path: str) -> bool:
    try:
        return Path(resolve_uri(path)).is_file()
    except (ModuleNotFoundError, ValueError):
        return False


def _stats_call(part: int, pages_uri: str, probs_uri: str, labels: list[str], kwargs: dict[str, Any]) -> dict[str, Any]:
    return stats_task(part, pages_uri, probs_uri, labels, **kwargs)


def _sum_dicts(dicts) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def _rate(pages: int, seconds: float) -> float | None:
    return round(pages / seconds, 1) if seconds > 0 else None
