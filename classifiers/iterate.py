"""The iterative recall loop of DeepSeekMath §2.1 / DeepSeek-Coder-V2 §2.

Each iteration: train fastText on the positives (seeds + pages found by URL expansion) against
random pages of the collection as negatives -> score every page -> keep, per label, the pages whose
best label it is with probability >= `threshold`, ranked by that probability and cut at an optional
token budget -> discover code/math domains (>10% of their pages recalled) -> turn uncollected pages
under well-recalled URL prefixes of those domains into new positives -> next iteration.

Cross-fitting (`folds`, this project's choice): negatives are random pages of the very collection
being scored. DeepSeekMath could ignore that (500k negatives among billions of pages); on a small
collection a page used as a negative would be scored by a model that was told it is "other". So
pages are split into `folds` by a hash of their URL, the model of fold f is trained with negatives
from the other folds only, and scores the pages of fold f. `folds: 1` is the plain paper setup.

The page collection is abstract (`PageSet`): `InMemoryPages` here, a Ray-parallel one in the
corpus stage. The loop itself only holds URLs and a few numbers per page.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import xxhash

from classifiers.model import OTHER, RecallModel, RecallParams, train_recall_model
from classifiers.text import Pretokenize, fasttext_line, regex_pretokenize
from classifiers.urls import discover_domains, domain_shares, expand_seeds

log = logging.getLogger("classifiers")


@dataclass
class IterationConfig:
    iterations: int = 3  # Coder-V2: 3 for web pages, 2 for GitHub (DeepSeekMath: 4)
    threshold: float = 0.5  # minimum probability of the page's best label to be recalled
    budget_tokens: dict[str, int] | None = None  # per label: keep the top-scored pages up to this many tokens
    negatives_per_positive: float = 1.0  # DeepSeekMath: 500k positives, 500k negatives
    folds: int = 2
    min_share: float = 0.10  # domain rule: over 10% of the domain's pages recalled
    min_domain_pages: int = 5
    min_prefix_share: float = 0.5
    min_prefix_pages: int = 3
    max_prefix_depth: int = 2
    seed: int = 1234


class PageSet(Protocol):
    """The pages to recall from, in a fixed order (index i is the same page everywhere)."""

    def urls(self) -> list[str]: ...

    def score(self, model_paths: list[str], fold_of: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities [pages x labels], token counts [pages]); page i is scored by model_paths[fold_of[i]]."""
        ...

    def texts(self, indices: Sequence[int]) -> list[str]: ...


def score_texts(models: list[RecallModel], fold_of: Sequence[int], texts: Sequence[str], labels: list[str], pretokenize: Pretokenize) -> tuple[np.ndarray, np.ndarray]:
    """Score texts with their fold's model; also count their tokens (for token budgets)."""
    probs = np.zeros((len(texts), len(labels)), dtype=np.float32)
    tokens = np.zeros(len(texts), dtype=np.int64)
    by_fold: dict[int, list[int]] = {}
    lines: list[str] = []
    for i, text in enumerate(texts):
        toks = pretokenize(text)
        tokens[i] = len(toks)
        lines.append(fasttext_line(toks, models[0].params.max_tokens))
        by_fold.setdefault(int(fold_of[i]), []).append(i)
    for f, rows in by_fold.items():
        for i, p in zip(rows, models[f].predict_lines([lines[i] for i in rows])):
            probs[i] = [p.get(lab, 0.0) for lab in labels]
    return probs, tokens


class InMemoryPages:
    """A PageSet over Python lists (tests, small collections, library use)."""

    def __init__(self, urls: Sequence[str], texts: Sequence[str], pretokenize: Pretokenize | None = None) -> None:
        if len(urls) != len(texts):
            raise ValueError(f"{len(urls)} urls but {len(texts)} texts")
        self._urls, self._texts = list(urls), list(texts)
        self.pretokenize = pretokenize or regex_pretokenize

    def urls(self) -> list[str]:
        return self._urls

    def score(self, model_paths: list[str], fold_of: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
        models = [RecallModel.load(p, pretokenize=self.pretokenize) for p in model_paths]
        return score_texts(models, fold_of, self._texts, labels, self.pretokenize)

    def texts(self, indices: Sequence[int]) -> list[str]:
        return [self._texts[i] for i in indices]


@dataclass
class RecallResult:
    labels: list[str]  # per page: a positive label, or "other"
    scores: np.ndarray  # per page: probability of its label (last iteration)
    via: list[str | None]  # "model", "url_prefix" (expanded positive), None for "other"
    model: RecallModel | None  # trained on all of the last iteration's data (for new data)
    iterations: list[dict[str, Any]] = field(default_factory=list)
    label_names: list[str] = field(default_factory=list)  # columns of probs
    probs: np.ndarray | None = None  # per page, every label's probability (last iteration)


def fold_assignment(urls: Sequence[str], folds: int, seed: int) -> np.ndarray:
    if folds <= 1:
        return np.zeros(len(urls), dtype=np.int64)
    return np.array([xxhash.xxh64_intdigest(u, seed=seed) % folds for u in urls], dtype=np.int64)


def select_recalled(probs: np.ndarray, tokens: np.ndarray, labels: list[str], threshold: float, budget: dict[str, int] | None,
                    eligible: np.ndarray | None = None) -> np.ndarray:
    """Per page the index of its recalled label, or -1. Ranking by probability (ties by page order)
    is what the token budget cuts, as DeepSeekMath kept "the top-ranking" pages. `eligible` ([pages x
    labels] bools, `classifiers.code_signal.label_gate`) takes a label from the pages that fail its gate."""
    best = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
    best_p = probs[np.arange(len(probs)), best] if len(probs) else np.zeros(0)
    out = np.full(len(probs), -1, dtype=np.int64)
    for j, label in enumerate(labels):
        if label == OTHER:
            continue
        hit = (best == j) & (best_p >= threshold)
        if eligible is not None:
            hit &= eligible[:, j]
        cand = np.nonzero(hit)[0]
        order = cand[np.lexsort((cand, -best_p[cand]))]
        if budget and label in budget:
            cum = np.cumsum(tokens[order])
            order = order[cum <= budget[label]]
        out[order] = j
    return out


def run_iterations(
    pages: PageSet,
    seeds: Sequence[tuple[str, str, str | None]],
    params: RecallParams | None = None,
    config: IterationConfig | None = None,
    workdir: str | Path = ".",
    pretokenize: Pretokenize | None = None,
) -> RecallResult:
    """Run the recall loop. `seeds` are (text, label, url or None); label `other` adds negatives.

    Model files are written to `workdir/iter-<n>/fold-<f>.bin`; the PageSet loads them to score.
    """
    params = params or RecallParams()
    cfg = config or IterationConfig()
    pretokenize = pretokenize or regex_pretokenize
    workdir = Path(workdir)
    urls = pages.urls()
    n = len(urls)
    seed_by_label: dict[str, list[str]] = {}
    for text, label, _ in seeds:
        seed_by_label.setdefault(label, []).append(text)
    positive_labels = sorted(k for k in seed_by_label if k != OTHER)
    if not positive_labels:
        raise ValueError("no positive seeds: give seed texts labelled e.g. code or math")
    labels = positive_labels + [OTHER]
    label_index = {lab: j for j, lab in enumerate(labels)}
    # Pages that are known positives never serve as negatives: seed URLs found in the collection,
    # then the pages added by URL expansion.
    index_of_url: dict[str, list[int]] = {}
    for i, u in enumerate(urls):
        index_of_url.setdefault(u, []).append(i)
    seed_urls = {url for _, _, url in seeds if url}
    known: dict[int, str] = {}
    for _, label, url in seeds:
        if url and label != OTHER:
            for i in index_of_url.get(url, []):
                known.setdefault(i, label)
    fold_of = fold_assignment(urls, cfg.folds, cfg.seed)
    folds = max(1, cfg.folds)
    prev_recalled: np.ndarray | None = None
    stats: list[dict[str, Any]] = []
    recalled = np.full(n, -1, dtype=np.int64)
    probs = np.zeros((n, len(labels)), dtype=np.float32)
    final_training: list[tuple[str, str]] = []
    final_model: RecallModel | None = None

    for it in range(1, cfg.iterations + 1):
        started = time.time()
        rng = random.Random(f"{cfg.seed}/{it}")
        expanded_idx = sorted(i for i in known if urls[i] not in seed_urls)
        expanded_texts = dict(zip(expanded_idx, pages.texts(expanded_idx)))
        positives: list[tuple[str, str]] = [(t, lab) for lab in positive_labels for t in seed_by_label[lab]]
        positives += [(expanded_texts[i], known[i]) for i in expanded_idx]
        pool = [i for i in range(n) if i not in known]
        n_neg = min(params.max_examples_per_label, int(round(cfg.negatives_per_positive * len(positives))))
        other_seeds = [(t, OTHER) for t in seed_by_label.get(OTHER, [])]
        model_paths, train_info, neg_counts = [], {}, {}
        for f in range(folds):
            fold_pool = [i for i in pool if folds == 1 or fold_of[i] != f]
            neg_idx = sorted(rng.sample(fold_pool, min(n_neg, len(fold_pool))))
            negatives = [(t, OTHER) for t in pages.texts(neg_idx)] + other_seeds
            neg_counts[f] = len(neg_idx)
            model = train_recall_model(positives + negatives, params, workdir, pretokenize)
            path = workdir / f"iter-{it}" / f"fold-{f}.bin"
            model.save(path)
            model_paths.append(str(path))
            train_info[f] = model.info.to_json()
        probs, tokens = pages.score(model_paths, fold_of, labels)
        recalled = select_recalled(probs, tokens, labels, cfg.threshold, cfg.budget_tokens)
        if it == cfg.iterations:
            if folds == 1:
                final_model = model
            else:
                # The model users keep sees negatives from every fold (it scores new data, not these pages).
                neg_idx = sorted(rng.sample(pool, min(n_neg, len(pool))))
                final_training = positives + [(t, OTHER) for t in pages.texts(neg_idx)] + other_seeds
        # Domain discovery and URL expansion, per positive label.
        shares_report: dict[str, Any] = {}
        new_pos: dict[str, int] = {}
        prefixes_report: dict[str, Any] = {}
        for lab in positive_labels:
            mask = (recalled == label_index[lab]).tolist()
            domains = discover_domains(urls, mask, cfg.min_share, cfg.min_domain_pages)
            sh = domain_shares(urls, mask)
            shares_report[lab] = {d: [sh[d].pages, sh[d].recalled] for d in sorted(domains)}
            exclude = [(i in known) or (recalled[i] >= 0) for i in range(n)]
            exp = expand_seeds(urls, mask, domains, cfg.min_prefix_share, cfg.min_prefix_pages, cfg.max_prefix_depth, exclude)
            for i in exp.new_positives:
                known.setdefault(i, lab)
            new_pos[lab] = len(exp.new_positives)
            prefixes_report[lab] = {p: list(v) for p, v in exp.prefixes.items()}
        entry: dict[str, Any] = {
            "iteration": it,
            "positives": {lab: len(seed_by_label[lab]) + sum(1 for i in expanded_idx if known[i] == lab) for lab in positive_labels},
            "negatives_from_pages": neg_counts,
            "negatives_from_seeds": len(other_seeds),
            "train": train_info,
            "recalled_pages": {lab: int((recalled == label_index[lab]).sum()) for lab in positive_labels},
            "recalled_tokens": {lab: int(tokens[recalled == label_index[lab]].sum()) for lab in positive_labels},
            "domains": shares_report,
            "url_prefixes": prefixes_report,
            "new_positives": new_pos,
            "seconds": round(time.time() - started, 2),
        }
        if prev_recalled is not None:
            # DeepSeekMath stopped when ~98% of an iteration's pages had been collected before.
            entry["already_recalled_share"] = {
                lab: _share(recalled == label_index[lab], prev_recalled == label_index[lab]) for lab in positive_labels
            }
        prev_recalled = recalled
        stats.append(entry)
        log.info("recall iteration %d: recalled %s, new positives %s", it, entry["recalled_pages"], new_pos)

    if final_training:
        final_model = train_recall_model(final_training, params, workdir, pretokenize)
    out_labels, out_scores, via = [], np.zeros(n, dtype=np.float32), []
    for i in range(n):
        j = int(recalled[i])
        if j >= 0:
            out_labels.append(labels[j])
            via.append("model")
            out_scores[i] = probs[i, j]
        elif i in known:
            out_labels.append(known[i])
            via.append("seed" if urls[i] in seed_urls else "url_prefix")
            out_scores[i] = probs[i, label_index[known[i]]]
        else:
            out_labels.append(OTHER)
            via.append(None)
            out_scores[i] = probs[i, label_index[OTHER]] if n else 0.0
    return RecallResult(out_labels, out_scores, via, final_model, stats, labels, probs)


def _share(now: np.ndarray, before: np.ndarray) -> float:
    total = int(now.sum())
    return round(float((now & before).sum()) / total, 4) if total else 0.0
