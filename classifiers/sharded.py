"""The steps of the recall loop (classifiers.iterate) cut so that each runs on one shard of pages or on
small per-shard summaries: what a distributed driver needs to hold O(shards) state, never O(pages).

No I/O here: callers read and write the arrays and Arrow tables (the corpus stage keeps them in
scratch files, one per part). Random choices are hashes of URLs, so they do not depend on how pages
are spread over shards or workers:

- negatives of an iteration: the pool pages with the smallest `sample_keys` (xxh64 of the URL salted
  with seed, iteration and purpose); shards keep the pages under a threshold that the driver derives
  from pool counts (a superset of the global smallest ones), the training task takes the exact smallest;
- per label, recalled = best label with probability >= threshold, optionally cut at a token budget by
  a global (probability desc, page order) cutoff;
- domain rule and URL expansion: per-shard counts per host and path prefix (summed in one reduce),
  then per-prefix decisions that every shard applies to its own pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import xxhash

from classifiers.urls import base_url, path_prefixes

KEY_SPACE = float(2**64)
COUNT_SCHEMA_BASE = [("key", pa.string()), ("depth", pa.int8()), ("pages", pa.int64())]


def sample_keys(urls: Sequence[str], salt: str) -> np.ndarray:
    """Uniform uint64 keys per URL for hash sampling (same URL and salt: same key everywhere)."""
    return np.fromiter((xxhash.xxh64_intdigest(f"{salt}\0{u}") for u in urls), dtype=np.uint64, count=len(urls))


def key_threshold(wanted: int, pool: int, margin: float = 1.25, slack: int = 256) -> int:
    """A key bound under which about `wanted * margin + slack` of `pool` uniform keys fall: shards keep
    their pool pages below it and the exact smallest `wanted` are among them (else the caller widens)."""
    if pool <= 0 or wanted <= 0:
        return 0
    share = (wanted * margin + slack) / pool
    return 2**64 - 1 if share >= 1 else int(share * KEY_SPACE)


def fold_of_urls(urls: Sequence[str], folds: int, seed: int) -> np.ndarray:
    """The cross-fitting fold of each URL (the same rule as classifiers.iterate.fold_assignment)."""
    if folds <= 1:
        return np.zeros(len(urls), dtype=np.int8)
    return np.fromiter((xxhash.xxh64_intdigest(u, seed=seed) % folds for u in urls), dtype=np.int8, count=len(urls))


def smallest(keys: np.ndarray, order: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k smallest (key, order) pairs, in that order (order breaks ties)."""
    if k <= 0 or len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.lexsort((order, keys))
    return idx[:k]


# ------------------------------------------------------------------------------------- selection


def best_labels(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(probs) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    best = probs.argmax(axis=1)
    return best, probs[np.arange(len(probs)), best]


def recalled_labels(probs: np.ndarray, labels: list[str], other: str, threshold: float,
                    part: int, cutoffs: dict[str, Any] | None = None, eligible: np.ndarray | None = None) -> np.ndarray:
    """Per page the index of its recalled label, or -1 (classifiers.iterate.select_recalled, with the
    token budget applied as a global cutoff [probability, part, row] per label: pages ranked after
    it are cut; "none" cuts every page of the label)."""
    best, best_p = best_labels(probs)
    out = np.full(len(probs), -1, dtype=np.int8)
    rows = np.arange(len(probs))
    for j, label in enumerate(labels):
        if label == other:
            continue
        hit = (best == j) & (best_p >= threshold)
        if eligible is not None:  # the label's gate (classifiers.code_signal.label_gate)
            hit &= eligible[:, j]
        cut = (cutoffs or {}).get(label)
        if cut == "none":
            hit[:] = False
        elif cut is not None:
            p_cut, part_cut, row_cut = np.float32(cut[0]), int(cut[1]), int(cut[2])
            later = (best_p < p_cut) | ((best_p == p_cut) & ((part > part_cut) | ((part == part_cut) & (rows > row_cut))))
            hit &= ~later
        out[hit] = j
    return out


def budget_cutoff(p: np.ndarray, part: np.ndarray, row: np.ndarray, tokens: np.ndarray, budget: int) -> Any:
    """The last page [probability, part, row] kept when pages ranked by probability (ties by page
    order) are taken while their cumulative tokens fit the budget; "none" when not even the first fits."""
    if len(p) == 0:
        return None
    order = np.lexsort((row, part, -p.astype(np.float64)))
    fits = np.nonzero(np.cumsum(tokens[order]) <= budget)[0]
    if len(fits) == 0:
        return "none"
    last = order[fits[-1]]
    return [float(p[last]), int(part[last]), int(row[last])]


# ------------------------------------------------------------------------------ domains, prefixes


def count_schema(positive_labels: list[str]) -> pa.Schema:
    return pa.schema(COUNT_SCHEMA_BASE + [(f"hits_{lab}", pa.int64()) for lab in positive_labels])


def shard_counts(urls: Sequence[str], recalled: np.ndarray, positive_labels: list[str], label_index: dict[str, int], max_depth: int) -> pa.Table:
    """Pages and recalled pages per label, per host (depth 0) and per path prefix (depth 1..max_depth)."""
    counts: dict[str, list[int]] = {}
    depth: dict[str, int] = {}
    cols = [label_index[lab] for lab in positive_labels]
    for url, r in zip(urls, recalled.tolist()):
        host = base_url(url)
        if not host:
            continue
        keys = [host] + path_prefixes(url, max_depth)
        for d, key in enumerate(keys):
            c = counts.get(key)
            if c is None:
                c = counts[key] = [0] * (1 + len(cols))
                depth[key] = d
            c[0] += 1
            if r >= 0:
                for t, j in enumerate(cols):
                    if r == j:
                        c[1 + t] += 1
    keys = sorted(counts)
    data: dict[str, Any] = {"key": keys, "depth": [depth[k] for k in keys], "pages": [counts[k][0] for k in keys]}
    for t, lab in enumerate(positive_labels):
        data[f"hits_{lab}"] = [counts[k][1 + t] for k in keys]
    return pa.table(data, schema=count_schema(positive_labels))


def sum_counts(tables: list[pa.Table], positive_labels: list[str]) -> pa.Table:
    """Per key totals of shard_counts tables."""
    schema = count_schema(positive_labels)
    if not tables:
        return schema.empty_table()
    t = pa.concat_tables([x.select(schema.names) for x in tables])
    sums = [(c, "sum") for c in ["pages"] + [f"hits_{lab}" for lab in positive_labels]]
    g = t.group_by(["key", "depth"]).aggregate(sums)
    g = g.rename_columns([n.removesuffix("_sum") for n in g.column_names])
    return g.select(schema.names).sort_by("key")


def decisions(totals: pa.Table, positive_labels: list[str], min_share: float, min_domain_pages: int,
              min_prefix_share: float, min_prefix_pages: int) -> tuple[pa.Table, dict[str, Any]]:
    """From summed counts: the prefixes that decide pages (>= min_prefix_pages pages, in a discovered
    domain of some label) with, per label, whether they qualify; and the report (discovered domains
    and the prefixes that decided at least one page, each with [pages, recalled])."""
    keys = totals.column("key").to_pylist()
    depth = totals.column("depth").to_numpy()
    pages = totals.column("pages").to_numpy()
    hits = {lab: totals.column(f"hits_{lab}").to_numpy() for lab in positive_labels}
    is_host = depth == 0
    domains: dict[str, set[str]] = {}
    report: dict[str, Any] = {"domains": {}, "url_prefixes": {}}
    for lab in positive_labels:
        # "over min_share": the same float test as discover_domains (recalled / pages > min_share).
        ok = is_host & (pages >= min_domain_pages) & (_share(hits[lab], pages) > min_share)
        domains[lab] = {keys[i] for i in np.nonzero(ok)[0]}
        report["domains"][lab] = {keys[i]: [int(pages[i]), int(hits[lab][i])] for i in sorted(np.nonzero(ok)[0], key=lambda i: keys[i])}
    any_domain = set().union(*domains.values()) if domains else set()
    host_of = [k.split("/", 1)[0] for k in keys]
    evidence = (~is_host) & (pages >= min_prefix_pages) & np.array([h in any_domain for h in host_of], dtype=bool)
    # Pages a prefix decides: its pages minus those under a child prefix that has evidence itself.
    index = {k: i for i, k in enumerate(keys)}
    under_child = np.zeros(len(keys), dtype=np.int64)
    for i in np.nonzero(evidence)[0]:
        if depth[i] >= 2:
            parent = index.get(keys[i].rsplit("/", 1)[0])
            if parent is not None:
                under_child[parent] += pages[i]
    decided = pages - under_child
    rows = np.nonzero(evidence)[0]
    data: dict[str, Any] = {"key": [keys[i] for i in rows], "depth": depth[rows].astype(np.int8)}
    for lab in positive_labels:
        in_dom = np.array([host_of[i] in domains[lab] for i in rows], dtype=bool)
        qual = in_dom & (_share(hits[lab][rows], pages[rows]) >= min_prefix_share)
        data[f"qualifies_{lab}"] = qual
        report["url_prefixes"][lab] = {keys[i]: [int(pages[i]), int(hits[lab][i])] for i, q in zip(rows, qual) if q and decided[i] > 0}
    return pa.table(data), report


def _share(hits: np.ndarray, pages: np.ndarray) -> np.ndarray:
    return np.divide(hits.astype(np.float64), pages, out=np.zeros(len(pages), dtype=np.float64), where=pages > 0)


def expand_shard(urls: Sequence[str], known: np.ndarray, recalled: np.ndarray, decision: dict[str, list[bool]],
                 positive_labels: list[str], label_index: dict[str, int], max_depth: int) -> tuple[np.ndarray, dict[str, int]]:
    """New known labels of a shard's pages: a page neither known nor recalled whose deepest evidence
    prefix qualifies for a label becomes a positive of the first such label (classifiers.urls.expand_seeds
    per label, in label order, each excluding the pages the previous one added)."""
    known = known.copy()
    new = {lab: 0 for lab in positive_labels}
    if not decision:
        return known, new
    for i, url in enumerate(urls):
        if known[i] >= 0 or recalled[i] >= 0:
            continue
        deciding = next((p for p in reversed(path_prefixes(url, max_depth)) if p in decision), None)
        if deciding is None:
            continue
        for t, lab in enumerate(positive_labels):
            if decision[deciding][t]:
                known[i] = label_index[lab]
                new[lab] += 1
                break
    return known, new


def decision_map(table: pa.Table, positive_labels: list[str]) -> dict[str, list[bool]]:
    cols = [table.column(f"qualifies_{lab}").to_pylist() for lab in positive_labels]
    return {k: [c[i] for c in cols] for i, k in enumerate(table.column("key").to_pylist())}


def filter_rows(table: pa.Table, mask: np.ndarray) -> pa.Table:
    return table.filter(pa.array(mask, type=pa.bool_())) if len(mask) else table


__all__ = [
    "budget_cutoff", "decision_map", "decisions", "expand_shard", "filter_rows", "fold_of_urls", "key_threshold",
    "recalled_labels", "sample_keys", "shard_counts", "smallest", "sum_counts",
]
