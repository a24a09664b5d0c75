"""The decontamination index: every benchmark n-gram as a 64-bit key in one sorted array.

Rule (DeepSeek-Coder §2 and DeepSeekMath §2.1; shared/docs/recipe.md §2.6, §3.2): a document is contaminated when it contains any n-gram
(n = 10) of a benchmark text; a benchmark string shorter than n grams but at least `min_short` (3) grams
is matched exactly, i.e. the document contains its whole gram sequence. A "string" is one whole field
value (one element for list fields such as MBPP's test_list). Grams are defined in `text.py`.

Two rules are offered (`DecontConfig.rule`):
- `literal`: the papers' words: every n-gram of every benchmark string is indexed, and every string of
  `min_short`..n-1 grams (in any field) is matched whole; no guard.
- `guarded` (default): the same rule with two guards that keep ordinary data from matching (both measured,
  see docs/decontamination.md), and short strings matched whole only in the fields that identify a
  problem (benchmarks.DEFAULT_SHORT_FIELDS):
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
left is two different benchmark n-grams sharing a key (probability about K^2 / 2^65 for K keys, ~1e-8
for the four benchmarks: K = 662,716), which could hide one n-gram.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import repeat

import numpy as np

from decont.benchmarks import Benchmark
from decont.text import grams, is_content, pattern, token_spans

_SEED = 0x5EED_DEC0


RULES = ("guarded", "literal")


@dataclass(frozen=True)
class DecontConfig:
    rule: str = "guarded"  # "literal": every n-gram, every short string, no guards (see module doc)
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
        vocab: dict[bytes, int],
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
        self.lengths = np.flatnonzero(np.bincount(key_len.astype(np.int64))).tolist() if len(key_len) else []
        self._lengths_arr = np.asarray(self.lengths, dtype=np.int64)
        self._bits, self._shift = _bit_filter(keys)

    # ------------------------------------------------------------- size

    @property
    def nbytes(self) -> int:
        """Approximate memory of the index in bytes (arrays + vocabulary dict and strings)."""
        arrays = sum(a.nbytes for a in (self.weights, self.tokens, self.keys, self.key_pos, self.key_len, self.owner_start, self.owners, self._bits))
        vocab = sys.getsizeof(self.vocab) + sum(sys.getsizeof(k) + 28 for k in self.vocab)
        return int(arrays + vocab)

    # ------------------------------------------------------------- matching

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_bits", None)
        state.pop("_shift", None)  # derived from keys; rebuilt on unpickle (smaller to ship)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bits, self._shift = _bit_filter(self.keys)

    def _ids(self, text: str) -> list[bytes]:
        return grams(text, self.config.unit)

    def _candidates(self, toks: list[bytes]) -> list[tuple[int, int, int]]:
        """Verified matches as (token start, length, key index), in document order.

        All window lengths are handled in one vectorised pass: a window (i, L) is a candidate when
        its L grams are all in the benchmark vocabulary, i.e. the run of known grams at i is >= L.
        """
        m = len(toks)
        lengths = self._lengths_arr
        if m < self.config.min_short or not len(lengths):
            return []
        ids = np.fromiter(map(self.vocab.get, toks, repeat(0)), dtype=np.int64, count=m)
        known = ids != 0
        if int(np.count_nonzero(known)) < self.config.min_short:
            return []
        prefix = _prefix(self.weights[ids])
        unknown_prefix = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(~known, out=unknown_prefix[1:])
        if m <= _SMALL_DOC:
            # Small documents: all lengths in one pass (numpy call overhead dominates here).
            # run[i] = number of consecutive known grams starting at i; window (i, L) needs run >= L.
            unknown = np.flatnonzero(~known)
            run = np.append(unknown, m)[np.searchsorted(unknown, np.arange(m))] - np.arange(m)
            per_start = np.searchsorted(lengths, run, side="right")
            total = int(per_start.sum())
            if not total:
                return []
            starts = np.repeat(np.arange(m), per_start)
            L = lengths[np.arange(total) - np.repeat(np.cumsum(per_start) - per_start, per_start)]
        else:
            # Large documents: one length at a time keeps the arrays at m entries.
            parts_s, parts_l = [], []
            for length in self.lengths:
                if length <= m:
                    st = np.flatnonzero(unknown_prefix[length:] == unknown_prefix[:-length])
                    parts_s.append(st)
                    parts_l.append(np.full(len(st), length, dtype=np.int64))
            starts, L = np.concatenate(parts_s), np.concatenate(parts_l)
            if not len(starts):
                return []
        h = (prefix[starts + L] - prefix[starts]) * _inv_powers(m + 1)[starts]
        # One-hash Bloom-style bit filter first: rejects ~97% of windows without a binary search.
        slot = h >> self._shift
        maybe = np.flatnonzero((self._bits[slot >> np.uint64(3)] >> (slot & np.uint64(7)).astype(np.uint8)) & 1)
        if not len(maybe):
            return []
        starts, L, h = starts[maybe], L[maybe], h[maybe]
        pos = np.searchsorted(self.keys, h)
        pos[pos >= len(self.keys)] = 0
        hit = np.flatnonzero((self.keys[pos] == h) & (self.key_len[pos] == L))
        if not len(hit):
            return []
        starts, L, pos = starts[hit], L[hit], pos[hit]
        # Verify gram by gram (so a 64-bit key collision can never produce a hit).
        span = np.arange(int(L.max()))
        outside = span[None, :] >= L[:, None]
        doc = ids[np.minimum(starts[:, None] + span, m - 1)]
        ref = self.tokens[np.minimum(self.key_pos[pos][:, None] + span, len(self.tokens) - 1)]
        same = ((doc == ref) | outside).all(axis=1)
        out = sorted(zip(starts[same].tolist(), L[same].tolist(), pos[same].tolist()))
        return out

    def contaminated(self, text: str) -> bool:
        """True when `text` contains a benchmark n-gram or a whole short benchmark string."""
        return bool(self._candidates(self._ids(text)))

    def match(self, text: str) -> list[Hit]:
        """One Hit per (benchmark, item) found in `text`, with its first matching n-gram in context."""
        toks = self._ids(text)
        found = self._candidates(toks)
        if not found:
            return []
        spans = token_spans(text, self.config.unit)
        aligned = len(spans) == len(toks)
        first: dict[int, tuple[int, int]] = {}
        times: dict[int, int] = {}
        for s, L, k in found:
            if k not in first:
                first[k] = (s, L)
            times[k] = times.get(k, 0) + 1
        by_item: dict[tuple[int, int], Hit] = {}
        c = self.config.context_chars
        for k, (s, L) in first.items():
            for o in self.owners[self.owner_start[k] : self.owner_start[k + 1]].tolist():
                b, i, fld = self.owner_table[o]
                hit = by_item.get((b, i))
                if hit is not None:
                    hit.matches += times[k]
                    continue
                if aligned:
                    a, e = spans[s][0], spans[s + L - 1][1]
                    ngram, offset, context = text[a:e], a, text[max(0, a - c) : e + c]
                else:
                    ngram, offset = b" ".join(toks[s : s + L]).decode("utf-8", "replace"), -1
                    context = ngram
                by_item[(b, i)] = Hit(self.benchmarks[b], self.item_ids[b][i], fld, ngram, offset, context, L, times[k])
        return list(by_item.values())

    def describe(self) -> dict:
        return {
            "config": self.config.__dict__,
            "keys": int(len(self.keys)),
            "memory_bytes": self.nbytes,
            "lengths": self.lengths,
            "build_seconds": self.build.get("seconds", 0.0),
            "dropped": {k: v for k, v in self.build.items() if k != "seconds"},
            "prefilter_bytes": int(self._bits.nbytes),
            "prefilter_fill": round(float(np.unpackbits(self._bits).mean()), 5),  # share of non-key windows reaching the binary search
            "false_positive_rate": 0.0,  # every candidate is verified gram by gram
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


def _distinct_content(windows: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Number of distinct content grams in each row of a (W, L) array of gram ids."""
    s = np.sort(np.where(content[windows], windows, -1), axis=1)
    first = np.ones_like(s, dtype=bool)
    first[:, 1:] = s[:, 1:] != s[:, :-1]
    return (first & (s >= 0)).sum(axis=1)


def _keys_at(prefix: np.ndarray, starts: np.ndarray, L: int) -> np.ndarray:
    """Keys of the windows [s, s+L) of a sequence whose weighted prefix sums are `prefix`."""
    return (prefix[starts + L] - prefix[starts]) * _inv_powers(len(prefix))[starts]


def _prefix(w: np.ndarray) -> np.ndarray:
    """prefix[k] = sum_{t<k} w[t] * B^t (mod 2^64)."""
    prefix = np.zeros(len(w) + 1, dtype=np.uint64)
    np.cumsum(w * _powers(len(w) + 1)[: len(w)], out=prefix[1:])
    return prefix


def _bit_filter(keys: np.ndarray) -> tuple[np.ndarray, np.uint64]:
    """A bit array over the top bits of the keys, ~32 bits per key (a ~3% pass rate for non-keys)."""
    bits = max(16, int(np.ceil(np.log2(max(1, len(keys)) * 32))))
    arr = np.zeros(1 << (bits - 3), dtype=np.uint8)
    shift = np.uint64(64 - bits)
    slot = keys >> shift
    np.bitwise_or.at(arr, (slot >> np.uint64(3)).astype(np.int64), (np.uint8(1) << (slot & np.uint64(7)).astype(np.uint8)))
    return arr, shift


class _Vocab(dict):
    """gram -> id, assigning the next id (from 1; 0 means unknown) on first sight."""

    def __missing__(self, key: bytes) -> int:
        value = self[key] = len(self) + 1
        return value


def _distinct_sorted(a: np.ndarray) -> int:
    return int(np.count_nonzero(a[1:] != a[:-1]) + 1) if len(a) else 0


_BLOCK = 1 << 18
_SMALL_DOC = 4096  # grams; below this, all window lengths are scanned in one vectorised pass  # windows per block when checking content (bounds memory to ~20 MB)


# ------------------------------------------------------------- building


def build_index(benchmarks: Iterable[Benchmark], config: DecontConfig | None = None) -> DecontIndex:
    """Build the index once per run; ship it to workers (it pickles; numpy arrays go zero-copy in Ray)."""
    cfg = config or DecontConfig()
    if cfg.rule not in RULES:
        raise ValueError(f"unknown decontamination rule {cfg.rule!r}; choose one of {RULES}")
    literal = cfg.rule == "literal"
    t0 = time.perf_counter()
    benches = list(benchmarks)
    pattern(cfg.unit)  # fail early on an unknown unit
    vocab = _Vocab()
    owner_table: list[tuple[int, int, str]] = []
    owner_item: list[int] = []  # global item number of each owner (for document frequency)
    unit_ids: list[np.ndarray] = []
    unit_owner: list[int] = []
    unit_short: list[bool] = []
    global_item = 0
    for b_idx, bench in enumerate(benches):
        for i_idx, item in enumerate(bench.items):
            for fld, units in item.fields.items():
                owner = len(owner_table)
                owner_table.append((b_idx, i_idx, fld))
                owner_item.append(global_item + i_idx)
                for unit in units:
                    toks = grams(unit, cfg.unit)
                    if len(toks) < cfg.min_short:
                        continue
                    ids = np.fromiter(map(vocab.__getitem__, toks), dtype=np.int64, count=len(toks))
                    unit_ids.append(ids)
                    unit_owner.append(owner)
                    # The literal rule matches every short string whole, whatever its field.
                    unit_short.append(literal or fld in bench.short_fields)
        global_item += len(bench.items)

    n_vocab = len(vocab) + 1
    rng = np.random.default_rng(_SEED)  # fixed seed: the same benchmarks always give the same keys
    weights = rng.integers(1, np.iinfo(np.uint64).max, size=n_vocab, dtype=np.uint64, endpoint=True)
    weights[0] = 0
    content = np.zeros(n_vocab, dtype=bool)
    for t, v in vocab.items():
        content[v] = is_content(t.decode("utf-8", "surrogatepass"))

    tokens = np.concatenate(unit_ids) if unit_ids else np.zeros(0, dtype=np.int64)
    lens = np.array([len(u) for u in unit_ids], dtype=np.int64)
    ustart = np.concatenate(([0], np.cumsum(lens)[:-1])).astype(np.int64) if len(lens) else lens
    uowner = np.asarray(unit_owner, dtype=np.int64)
    ushort = np.asarray(unit_short, dtype=bool)
    prefix = _prefix(weights[tokens])
    owner_item_arr = np.asarray(owner_item, dtype=np.int64)
    per_bench = dict(cfg.min_content_by_benchmark)
    owner_need = np.asarray([per_bench.get(benches[b].name, cfg.min_content) for b, _, _ in owner_table], dtype=np.int64)

    # Windows: all n-grams of long units, plus the whole of each short-eligible short unit.
    long_u = np.nonzero(lens >= cfg.n)[0]
    counts = lens[long_u] - cfg.n + 1
    offsets_in_unit = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    w_unit = np.repeat(long_u, counts)
    w_start = np.repeat(ustart[long_u], counts) + offsets_in_unit
    w_len = np.full(len(w_start), cfg.n, dtype=np.int64)
    short_u = np.nonzero((lens < cfg.n) & ushort)[0]
    w_unit = np.concatenate((w_unit, short_u)).astype(np.int64)
    w_start = np.concatenate((w_start, ustart[short_u])).astype(np.int64)
    w_len = np.concatenate((w_len, lens[short_u])).astype(np.int64)

    # Content of every window (in blocks per length, to keep the (W, L) matrices small).
    w_content = np.zeros(len(w_start), dtype=np.int64)
    for L in np.flatnonzero(np.bincount(w_len)).tolist() if len(w_len) else []:
        sel = np.nonzero(w_len == L)[0]
        for a in range(0, len(sel), _BLOCK):
            part = sel[a : a + _BLOCK]
            w_content[part] = _distinct_content(tokens[w_start[part, None] + np.arange(L)], content)
    w_owner = uowner[w_unit]
    need = np.where(w_len == cfg.n, owner_need[w_owner], cfg.min_content_short)
    ok = (w_content >= need) | literal
    # An item whose every window is too plain (a formula-only MATH problem) keeps its windows with at
    # least one content gram rather than becoming undetectable.
    item_has = np.zeros(global_item, dtype=bool)
    item_has[owner_item_arr[w_owner[ok]]] = True
    rescue = ~ok & ~item_has[owner_item_arr[w_owner]] & (w_content >= 1)
    keep = ok | rescue
    dropped_content = int((~keep).sum())
    w_start, w_len, w_owner = w_start[keep], w_len[keep], w_owner[keep]
    keys = np.empty(len(w_start), dtype=np.uint64)
    for L in np.flatnonzero(np.bincount(w_len)).tolist() if len(w_len) else []:
        sel = w_len == L
        keys[sel] = _keys_at(prefix, w_start[sel], L)

    # Document frequency over benchmark items: drop boilerplate n-grams.
    w_item = owner_item_arr[w_owner]
    order = np.lexsort((w_owner, w_item, keys))
    keys, w_start, w_len, w_owner, w_item = keys[order], w_start[order], w_len[order], w_owner[order], w_item[order]
    new_key = np.ones(len(keys), dtype=bool)
    new_key[1:] = keys[1:] != keys[:-1]
    new_item = new_key.copy()
    new_item[1:] |= w_item[1:] != w_item[:-1]
    group = np.cumsum(new_key) - 1
    df = np.bincount(group, weights=new_item).astype(np.int64) if len(keys) else np.zeros(0, dtype=np.int64)
    keep_group = (df <= cfg.max_item_df) | literal
    dropped_df = int((~keep_group).sum())
    keep = keep_group[group] if len(keys) else np.zeros(0, dtype=bool)
    keys, w_start, w_len, w_owner, new_key = keys[keep], w_start[keep], w_len[keep], w_owner[keep], new_key[keep]

    # Unique keys with their distinct owners (benchmark, item, field), CSR style.
    first = np.nonzero(new_key)[0]
    ukeys, upos, ulen = keys[first], w_start[first], w_len[first].astype(np.uint8)
    key_no = np.cumsum(new_key) - 1
    pair_new = np.ones(len(keys), dtype=bool)
    pair_new[1:] = new_key[1:] | (w_owner[1:] != w_owner[:-1])
    owners = w_owner[pair_new]
    owner_key = key_no[pair_new]
    owner_start = np.searchsorted(owner_key, np.arange(len(ukeys) + 1)).astype(np.int64)

    owner_bench = np.asarray([o[0] for o in owner_table], dtype=np.int64)
    ob = owner_bench[owners] if len(owners) else owners
    short_units = (lens < cfg.n) & ushort
    stats: dict[str, BenchmarkStats] = {}
    for b_idx, bench in enumerate(benches):
        mine = ob == b_idx
        stats[bench.name] = BenchmarkStats(
            items=len(bench.items),
            items_indexed=int(np.count_nonzero(np.bincount(owner_item_arr[owners[mine]], minlength=1))),
            keys=_distinct_sorted(owner_key[mine]),
            short_strings=int((short_units & (owner_bench[uowner] == b_idx)).sum()) if len(uowner) else 0,
            source=bench.source,
        )
    build = {
        "seconds": time.perf_counter() - t0,
        "low_content_windows": dropped_content,
        "rescued_windows": int(rescue.sum()),
        "boilerplate_ngrams": dropped_df,
    }
    return DecontIndex(
        config=cfg,
        vocab=dict(vocab),
        weights=weights,
        tokens=tokens.astype(np.int32),
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
