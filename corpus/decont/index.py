"""The decontamination index: every benchmark n-gram as a 64-bit key in one sorted array.

Rule (DeepSeek-Coder §3.1 / DeepSeekMath §2.1): a document is contaminated when it contains any n-gram
(n = 10) of a benchmark text; a benchmark string shorter than n grams but at least `min_short` (3) grams
is matched exactly, i.e. the document contains its whole gram sequence. A "string" is one whole field
value (one element for list fields such as MBPP's test_list). Grams are defined in `text.py`.

Two guards keep ordinary data from matching (both measured, see docs/decontamination.md):
- an indexed n-gram must contain at least `min_content` distinct *content* grams (two or more
  characters, a letter, not a keyword / function word, see text.is_content): number runs such as
  `1 0 2 0 3 9 4 0 5 0` (from `[1.0, 2.0, 3.9, ...]`), letter lists `a b c d e f g h i j`, loop idioms
  `for i in range n for j in range n` and formula runs `x 6 x 5 x 4 x 3 x 2` are in any code base;
- an n-gram found in more than `max_item_df` benchmark items is benchmark boilerplate (HumanEval's
  `def check(candidate): assert candidate(`) and is dropped; each item keeps its specific n-grams.

Keys: grams are mapped to ids of the benchmark vocabulary (a gram outside it cannot be part of a match,
so such windows are skipped without hashing). The key of a window is a polynomial hash over Z/2^64 of
random 64-bit gram weights, computed for all windows at once from prefix sums. Every candidate is then
verified against the stored gram ids, so reported hits are exact (no false positives); the only error
left is two different benchmark n-grams sharing a key (probability about K^2 / 2^65 for K keys, ~1e-7
for the four benchmarks), which could hide one n-gram.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from itertools import repeat
from typing import Iterable

import numpy as np

from corpus.decont.benchmarks import Benchmark
from corpus.decont.text import is_content, normalize, pattern, token_spans

_SEED = 0x5EED_DEC0


@dataclass(frozen=True)
class DecontConfig:
    n: int = 10  # the rule's n-gram length
    min_short: int = 3  # shorter strings (>= min_short grams) are matched whole
    unit: str = "word"  # gram unit, see text.py
    min_content: int = 2  # distinct content grams (see text.is_content) an indexed n-gram must have
    # Code benchmarks: identifiers are specific enough that one content gram suffices (measured).
    min_content_by_benchmark: tuple[tuple[str, int], ...] = (("humaneval", 1), ("mbpp", 1))
    min_content_short: int = 1  # the same for a short string matched whole
    max_item_df: int = 5  # n-grams in more benchmark items than this are boilerplate
    context_chars: int = 80  # characters of context on each side in a hit


@dataclass
class Hit:
    benchmark: str
    item: str
    field: str
    ngram: str  # the matching text as it appears in the document
    offset: int  # character offset of `ngram` in the document (-1 if unknown)
    context: str
    grams: int  # length of the matched n-gram in grams (n, or the short string's length)
    matches: int = 1  # how many windows of the document matched this item

    def to_dict(self) -> dict:
        return {
            "benchmark": self.benchmark,
            "item": self.item,
            "field": self.field,
            "ngram": self.ngram,
            "offset": self.offset,
            "context": self.context,
            "grams": self.grams,
            "matches": self.matches,
        }


@dataclass
class BenchmarkStats:
    items: int
    items_indexed: int  # items with at least one key left after the guards
    keys: int  # keys (distinct n-grams and short strings) owned by this benchmark
    short_strings: int
    source: str


class DecontIndex:
    """Picklable index; `match(text)` returns one Hit per (benchmark, item) found in the text."""

    def __init__(
        self,
        config: DecontConfig,
        vocab: dict[str, int],
        weights: np.ndarray,
        tokens: np.ndarray,
        keys: np.ndarray,
        key_pos: np.ndarray,
        key_len: np.ndarray,
        owner_start: np.ndarray,
        owners: np.ndarray,
        owner_table: list[tuple[int, int, str]],
        benchmarks: list[str],
        item_ids: list[list[str]],
        stats: dict[str, BenchmarkStats],
        build: dict[str, float],
    ) -> None:
        self.config = config
        self.vocab = vocab
        self.weights = weights
        self.tokens = tokens
        self.keys = keys
        self.key_pos = key_pos
        self.key_len = key_len
        self.owner_start = owner_start
        self.owners = owners
        self.owner_table = owner_table  # (benchmark index, item index, field)
        self.benchmarks = benchmarks
        self.item_ids = item_ids
        self.stats = stats
        self.build = build
        self.lengths = sorted({int(x) for x in np.unique(key_len)}) if len(key_len) else []

    # ------------------------------------------------------------- size

    @property
    def nbytes(self) -> int:
        """Approximate memory of the index in bytes (arrays + vocabulary dict and strings)."""
        arrays = sum(a.nbytes for a in (self.weights, self.tokens, self.keys, self.key_pos, self.key_len, self.owner_start, self.owners))
        vocab = sys.getsizeof(self.vocab) + sum(sys.getsizeof(k) + 28 for k in self.vocab)
        return int(arrays + vocab)

    # ------------------------------------------------------------- matching

    def _ids(self, text: str) -> list[str] | None:
        return pattern(self.config.unit).findall(normalize(text))

    def _candidates(self, toks: list[str]) -> list[tuple[int, int, int]]:
        """Verified matches as (token start, length, key index), in document order."""
        m = len(toks)
        if m < self.config.min_short or not self.lengths:
            return []
        ids = np.fromiter(map(self.vocab.get, toks, repeat(0)), dtype=np.int64, count=m)
        known = ids != 0
        if int(known.sum()) < self.config.min_short:
            return []
        w = self.weights[ids]
        pw = _powers(m + 1)
        prefix = np.zeros(m + 1, dtype=np.uint64)
        np.cumsum(w * pw[:m], out=prefix[1:])
        unknown_prefix = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(~known, out=unknown_prefix[1:])
        inv = _inv_powers(m + 1)
        found: list[tuple[int, int, int]] = []
        for L in self.lengths:
            if L > m:
                continue
            clean = (unknown_prefix[L:] - unknown_prefix[:-L]) == 0
            if not clean.any():
                continue
            starts = np.nonzero(clean)[0]
            h = (prefix[starts + L] - prefix[starts]) * inv[starts]
            pos = np.searchsorted(self.keys, h)
            pos[pos >= len(self.keys)] = 0
            hit = self.keys[pos] == h
            if not hit.any():
                continue
            for s, k in zip(starts[hit].tolist(), pos[hit].tolist()):
                if int(self.key_len[k]) != L:
                    continue
                p = int(self.key_pos[k])
                if np.array_equal(ids[s : s + L], self.tokens[p : p + L]):
                    found.append((s, L, k))
        found.sort()
        return found

    def contaminated(self, text: str) -> bool:
        return bool(self._candidates(self._ids(text)))

    def match(self, text: str) -> list[Hit]:
        toks = self._ids(text)
        found = self._candidates(toks)
        if not found:
            return []
        spans = token_spans(text, self.config.unit)
        aligned = len(spans) == len(toks)
        by_item: dict[tuple[int, int], Hit] = {}
        c = self.config.context_chars
        for s, L, k in found:
            for o in self.owners[self.owner_start[k] : self.owner_start[k + 1]].tolist():
                b, i, fld = self.owner_table[o]
                key = (b, i)
                if key in by_item:
                    by_item[key].matches += 1
                    continue
                if aligned:
                    a, e = spans[s][0], spans[s + L - 1][1]
                    ngram, offset = text[a:e], a
                    context = text[max(0, a - c) : e + c]
                else:
                    ngram, offset = " ".join(toks[s : s + L]), -1
                    context = ngram
                by_item[key] = Hit(
                    benchmark=self.benchmarks[b],
                    item=self.item_ids[b][i],
                    field=fld,
                    ngram=ngram,
                    offset=offset,
                    context=context,
                    grams=L,
                )
        return list(by_item.values())

    def describe(self) -> dict:
        return {
            "config": self.config.__dict__,
            "keys": int(len(self.keys)),
            "memory_bytes": self.nbytes,
            "lengths": self.lengths,
            "build_seconds": self.build.get("seconds", 0.0),
            "dropped": {k: v for k, v in self.build.items() if k != "seconds"},
            "false_positive_rate": 0.0,
            "false_negative_note": "hits are verified gram by gram; a 64-bit key shared by two benchmark n-grams could hide one (p ~ K^2/2^65)",
        }


# ------------------------------------------------------------- hashing helpers

_B = np.uint64(0x9E3779B97F4A7C15)  # odd, so invertible mod 2^64
_B_INV = np.uint64(pow(int(_B), -1, 1 << 64))
_POW_CACHE: dict[str, np.ndarray] = {}


def _grow(name: str, base: np.uint64, n: int) -> np.ndarray:
    arr = _POW_CACHE.get(name)
    if arr is None or len(arr) < n:
        size = max(n, 1 << 12, 2 * (len(arr) if arr is not None else 0))
        vals = np.full(size, base, dtype=np.uint64)
        vals[0] = 1
        with np.errstate(over="ignore"):
            arr = np.cumprod(vals, dtype=np.uint64)  # wraps mod 2^64
        _POW_CACHE[name] = arr
    return arr


def _powers(n: int) -> np.ndarray:
    return _grow("pow", _B, n)


def _inv_powers(n: int) -> np.ndarray:
    return _grow("inv", _B_INV, n)


def _window_keys(ids: np.ndarray, weights: np.ndarray, L: int) -> np.ndarray:
    """Keys of all windows of length L of a sequence of known gram ids (no unknowns)."""
    m = len(ids)
    pw = _powers(m + 1)
    prefix = np.zeros(m + 1, dtype=np.uint64)
    np.cumsum(weights[ids] * pw[:m], out=prefix[1:])
    starts = np.arange(m - L + 1)
    return (prefix[starts + L] - prefix[starts]) * _inv_powers(m + 1)[starts]


def _distinct_content(ids: np.ndarray, content: np.ndarray, L: int) -> np.ndarray:
    """Number of distinct content grams in every window of length L."""
    m = len(ids)
    win = np.lib.stride_tricks.sliding_window_view(ids, L)  # (m-L+1, L)
    c = content[win]
    s = np.sort(np.where(c, win, -1), axis=1)
    first = np.ones_like(s, dtype=bool)
    first[:, 1:] = s[:, 1:] != s[:, :-1]
    return (first & (s >= 0)).sum(axis=1)


# ------------------------------------------------------------- building


def build_index(benchmarks: Iterable[Benchmark], config: DecontConfig | None = None) -> DecontIndex:
    """Build the index once per run; ship it to workers (it pickles; numpy arrays go zero-copy in Ray)."""
    cfg = config or DecontConfig()
    t0 = time.perf_counter()
    benches = list(benchmarks)
    pat = pattern(cfg.unit)
    vocab: dict[str, int] = {}
    tok_chunks: list[np.ndarray] = []
    offset = 0
    key_parts: list[np.ndarray] = []
    pos_parts: list[np.ndarray] = []
    len_parts: list[np.ndarray] = []
    own_parts: list[np.ndarray] = []
    owner_table: list[tuple[int, int, str]] = []
    item_of_owner: list[int] = []  # global item number of each owner, for document frequency
    short_count: dict[str, int] = {b.name: 0 for b in benches}
    dropped_alpha = 0
    rng = np.random.default_rng(_SEED)
    # Weights are drawn in vocabulary order from a fixed seed: the same benchmarks give the same keys.
    global_item = 0

    def ids_of(toks: list[str]) -> np.ndarray:
        out = np.empty(len(toks), dtype=np.int64)
        for j, t in enumerate(toks):
            v = vocab.get(t)
            if v is None:
                v = len(vocab) + 1
                vocab[t] = v
            out[j] = v
        return out

    pending_units: list[tuple[np.ndarray, int, int, bool]] = []  # ids, start offset, owner, short allowed
    for b_idx, bench in enumerate(benches):
        for i_idx, item in enumerate(bench.items):
            for fld, units in item.fields.items():
                owner = len(owner_table)
                owner_table.append((b_idx, i_idx, fld))
                item_of_owner.append(global_item + i_idx)
                for unit in units:
                    toks = pat.findall(normalize(unit))
                    if len(toks) < cfg.min_short:
                        continue
                    ids = ids_of(toks)
                    tok_chunks.append(ids)
                    pending_units.append((ids, offset, owner, fld in bench.short_fields))
                    offset += len(ids)
        global_item += len(bench.items)

    n_vocab = len(vocab) + 1
    weights = rng.integers(1, np.iinfo(np.uint64).max, size=n_vocab, dtype=np.uint64, endpoint=True)
    weights[0] = 0
    content = np.zeros(n_vocab, dtype=bool)
    for t, v in vocab.items():
        content[v] = is_content(t)

    per_bench = dict(cfg.min_content_by_benchmark)
    need_by_owner = [per_bench.get(benches[b].name, cfg.min_content) for b, _, _ in owner_table]
    for ids, start, owner, short_ok in pending_units:
        m = len(ids)
        L = cfg.n if m >= cfg.n else (m if short_ok else 0)
        if L == 0:
            continue
        k = _window_keys(ids, weights, L)
        need = need_by_owner[owner] if L == cfg.n else cfg.min_content_short
        ok = _distinct_content(ids, content, L) >= need
        dropped_alpha += int((~ok).sum())
        if L < cfg.n and ok.any():
            b_idx, _, _ = owner_table[owner]
            short_count[benches[b_idx].name] += 1
        idx = np.nonzero(ok)[0]
        key_parts.append(k[idx])
        pos_parts.append(start + idx)
        len_parts.append(np.full(len(idx), L, dtype=np.uint8))
        own_parts.append(np.full(len(idx), owner, dtype=np.int32))

    tokens = np.concatenate(tok_chunks) if tok_chunks else np.zeros(0, dtype=np.int64)
    keys = np.concatenate(key_parts) if key_parts else np.zeros(0, dtype=np.uint64)
    kpos = np.concatenate(pos_parts) if pos_parts else np.zeros(0, dtype=np.int64)
    klen = np.concatenate(len_parts) if len_parts else np.zeros(0, dtype=np.uint8)
    kown = np.concatenate(own_parts) if own_parts else np.zeros(0, dtype=np.int32)

    # Document frequency over benchmark items: drop boilerplate n-grams.
    item_arr = np.asarray(item_of_owner, dtype=np.int64)[kown] if len(kown) else np.zeros(0, dtype=np.int64)
    order = np.lexsort((item_arr, keys))
    keys, kpos, klen, kown, item_arr = keys[order], kpos[order], klen[order], kown[order], item_arr[order]
    new_key = np.ones(len(keys), dtype=bool)
    new_key[1:] = keys[1:] != keys[:-1]
    new_pair = new_key.copy()
    new_pair[1:] |= item_arr[1:] != item_arr[:-1]
    group = np.cumsum(new_key) - 1
    df = np.bincount(group, weights=new_pair).astype(np.int64) if len(keys) else np.zeros(0, dtype=np.int64)
    keep_group = df <= cfg.max_item_df
    dropped_df = int((~keep_group).sum())
    keep = keep_group[group] if len(keys) else np.zeros(0, dtype=bool)
    keys, kpos, klen, kown, new_key = keys[keep], kpos[keep], klen[keep], kown[keep], new_key[keep]

    # Unique keys with the owners (benchmark, item, field) of each, CSR style.
    uniq_idx = np.nonzero(new_key)[0]
    ukeys = keys[uniq_idx]
    upos = kpos[uniq_idx]
    ulen = klen[uniq_idx]
    # distinct owners per key
    pair_new = np.ones(len(keys), dtype=bool)
    pair_new[1:] = (keys[1:] != keys[:-1]) | (kown[1:] != kown[:-1])
    owners = kown[pair_new]
    owner_key = (np.cumsum(new_key) - 1)[pair_new]
    owner_start = np.searchsorted(owner_key, np.arange(len(ukeys) + 1)).astype(np.int64)

    stats: dict[str, BenchmarkStats] = {}
    owner_bench = np.asarray([o[0] for o in owner_table], dtype=np.int64)
    owner_item = np.asarray(item_of_owner, dtype=np.int64)
    for b_idx, bench in enumerate(benches):
        mine = owners[owner_bench[owners] == b_idx] if len(owners) else owners
        stats[bench.name] = BenchmarkStats(
            items=len(bench.items),
            items_indexed=int(len(np.unique(owner_item[mine]))) if len(mine) else 0,
            keys=int(len(np.unique(owner_key[owner_bench[owners] == b_idx]))) if len(owners) else 0,
            short_strings=short_count[bench.name],
            source=bench.source,
        )
    build = {
        "seconds": time.perf_counter() - t0,
        "low_content_windows": dropped_alpha,
        "boilerplate_ngrams": dropped_df,
    }
    return DecontIndex(
        config=cfg,
        vocab=vocab,
        weights=weights,
        tokens=tokens.astype(np.int32) if n_vocab < 2**31 else tokens,
        keys=ukeys,
        key_pos=upos,
        key_len=ulen,
        owner_start=owner_start,
        owners=owners.astype(np.int32),
        owner_table=owner_table,
        benchmarks=[b.name for b in benches],
        item_ids=[[it.id for it in b.items] for b in benches],
        stats=stats,
        build=build,
    )
