"""Training documents that fit the context: a document (e.g. a repository sample) cut into chunks of at
most `budget` tokens, then each chunk copy turned into its final ids (FIM coin flip, BOS, EOS).

Cuts fall at file boundaries where the next file fits in a chunk, else at line starts, else (a single line
longer than a chunk) at a character start. Cuts are taken on the document's own tokenization, at
positions that are token boundaries, so a chunk's ids are a slice of the document's ids (one encode pass).
A chunk that starts inside a file is preceded by that file's path-comment line, so every chunk says which
file it is from. FIM is drawn per chunk copy, seeded by (seed, chunk id, copy), then prefix, middle and
suffix are re-encoded apart (character-level split points, recipe §1.7).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa

from .bpe import CorpusTokenizer
from .config import ShardConfig
from .encode import EncodedDoc
from .fast_encode import _byte_level_alphabet
from .fim import apply_fim, doc_rng, fim_ids
from .splice import PieceEncoder

FIM_OVERHEAD = 3  # fim_begin, fim_hole, fim_end
# Re-encoding prefix/middle/suffix apart can cost a few tokens more than the slice they came from (a cut
# inside a word); chunks of FIM domains keep this much room so the FIM form still fits a row.
FIM_SLACK = 16

CHUNK_SCHEMA = pa.schema(
    [
        pa.field("order_key", pa.uint64()),
        pa.field("bucket", pa.int32()),
        pa.field("chunk_id", pa.string()),
        pa.field("doc_id", pa.string()),
        pa.field("rep", pa.int32()),
        pa.field("source", pa.string()),
        pa.field("domain", pa.string()),
        pa.field("language", pa.string()),
        pa.field("split", pa.string()),
        pa.field("group", pa.string()),  # eval unit: repository or web host
        pa.field("ids", pa.list_(pa.int32())),  # plain ids of the chunk text (no BOS/EOS/FIM)
    ]
)


@dataclass
class Chunk:
    chunk_id: str
    doc_id: str
    source: str
    domain: str
    language: str
    split: str
    group: str
    ids: np.ndarray  # int32 plain ids
    files: tuple[str, ...] = ()  # the files of a repo sample this chunk holds text of (meta["files"]), for provenance


# ------------------------------------------------------------------------------------- eval groups


def eval_group(source: str | None, repo: str | None, path: str | None) -> str:
    """The unit the eval split holds out whole: a repository, or a web page's host."""
    if repo is not None:
        return f"repo\0{source or ''}\0{repo}"
    host = ""
    try:
        host = (urlsplit(path or "").hostname or "").lower()
    except ValueError:
        pass
    return f"host\0{host or path or ''}"


def group_rank(seed: int, group: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}\0eval\0{group}".encode(), digest_size=8).digest(), "little")


def split_of_group(seed: int, group: str, eval_fraction: float) -> str:
    return "eval" if group_rank(seed, group) / 2.0**64 < eval_fraction else "train"


FALLBACK_GROUPS = 1000  # up to this many groups the eval fallback sees all of them


def fallback_eval_group(seed: int, eval_fraction: float, group_tokens: dict[str, int] | None,
                        min_rank: tuple[int, str] | None) -> str | None:
    """The group held out when the draw put none in eval (small corpora: few repositories).

    With at most FALLBACK_GROUPS groups (all known): the one whose size is closest to eval_fraction of
    the tokens, so the eval split is neither a whole big repository nor nothing. With more: the group
    of smallest hash. Either way the choice depends on the data only, never on the partitioning."""
    if group_tokens is not None and 1 < len(group_tokens) <= FALLBACK_GROUPS:
        want = eval_fraction * sum(group_tokens.values())
        return min(group_tokens, key=lambda g: (abs(group_tokens[g] - want), group_rank(seed, g), g))
    if group_tokens is not None and len(group_tokens) <= 1:
        return None
    return min_rank[1] if min_rank else None


# ------------------------------------------------------------------------------------ token bytes


def token_byte_lengths(tok: CorpusTokenizer) -> np.ndarray:
    """UTF-8 byte length of every id of the plain model (byte-level tokens: one byte per character)."""
    alphabet = _byte_level_alphabet()
    vocab: dict[str, int] = json.loads(tok.json_text or tok.tokenizer.to_str())["model"]["vocab"]
    lens = np.zeros(max(tok.vocab_size, max(vocab.values()) + 1), dtype=np.int64)
    for token, tid in vocab.items():
        lens[tid] = len(token) if all(c in alphabet for c in token) else len(token.encode("utf-8"))
    return lens


def file_spans(text: str, meta: Mapping[str, Any] | None) -> list[tuple[int, int, int, str]] | None:
    """(start, body start, end, language) of each file of a repo sample, in characters, from
    meta["spans"] written by repo_samples; None if absent or not consistent with the text."""
    spans = (meta or {}).get("spans")
    if not spans:
        return None
    langs = (meta or {}).get("languages") or [""] * len(spans)
    out, prev = [], 0
    for (start, body, end), lang in zip(spans, langs):
        if not prev <= start <= body <= end <= len(text):
            return None
        out.append((int(start), int(body), int(end), lang or ""))
        prev = end
    return out


def _to_bytes(text: str, spans: Sequence[tuple[int, int, int, str]]) -> list[tuple[int, int, int, str]]:
    """Character offsets -> UTF-8 byte offsets (one pass over the text)."""
    marks = sorted({p for s in spans for p in s[:3]})
    where: dict[int, int] = {}
    b, prev = 0, 0
    for c in marks:
        b += len(text[prev:c].encode("utf-8"))
        where[c], prev = b, c
    return [(where[s], where[h], where[e], lang) for s, h, e, lang in spans]


# ------------------------------------------------------------------------------------------ chunking


def plan_cuts(ids: np.ndarray, lens: np.ndarray, data: bytes, spans_b: Sequence[tuple[int, int, int, str]],
              budget: int, header_tokens: Callable[[int], int]) -> list[tuple[int, int, int]]:
    """(first token, end token, file whose header to prepend or -1) of each chunk of one document.

    `spans_b` are the files in bytes; `header_tokens(f)` is the token count of file f's path line."""
    n = int(ids.shape[0])
    if n == 0:
        return []
    bounds = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens[ids], out=bounds[1:])
    if bounds[-1] != len(data):  # not a byte-level model: no safe cut positions, keep whole
        return [(0, n, -1)]
    arr = np.frombuffer(data, dtype=np.uint8)
    prev_byte = np.concatenate(([10], arr))[bounds]  # byte before each boundary (newline at 0)
    line_cut = np.flatnonzero(prev_byte == 10)
    next_byte = np.concatenate((arr, [0]))[bounds]
    char_cut = np.flatnonzero((next_byte & 0xC0) != 0x80)
    file_tok = np.searchsorted(bounds, np.array([s for s, _, _, _ in spans_b] or [0], dtype=np.int64))
    file_tok = np.minimum(file_tok, n)
    file_end = np.append(file_tok[1:], n)
    cuts: list[tuple[int, int, int]] = []
    s = 0
    while s < n:
        f = int(np.searchsorted(file_tok, s, side="right")) - 1
        header = f if (spans_b and f >= 0 and s != file_tok[f] and spans_b[f][1] > spans_b[f][0]) else -1
        room = budget - (header_tokens(header) if header >= 0 else 0)
        if room < max(1, budget // 4):  # an absurd path line: drop it rather than the chunk
            header, room = -1, budget
        e_max = s + room
        if e_max >= n:
            cuts.append((s, n, header))
            break
        e = -1
        k = int(np.searchsorted(file_tok, e_max, side="right")) - 1
        # A file boundary, unless the file starting there is too large for any chunk (it gets cut anyway,
        # so its first lines fill this chunk).
        if k >= 0 and file_tok[k] > s and file_end[k] - file_tok[k] <= budget:
            e = int(file_tok[k])
        if e < 0:
            j = int(np.searchsorted(line_cut, e_max, side="right")) - 1
            if j >= 0 and line_cut[j] > s:
                e = int(line_cut[j])
        if e < 0:
            j = int(np.searchsorted(char_cut, e_max, side="right")) - 1
            e = int(char_cut[j]) if j >= 0 and char_cut[j] > s else e_max
        cuts.append((s, e, header))
        s = e
    return cuts


def chunk_budget(seq_len: int, fim: bool, add_bos: bool) -> int:
    """Plain tokens a chunk may hold so that its final form (BOS, EOS, FIM sentinels) fits seq_len."""
    budget = seq_len - 1 - int(add_bos) - ((FIM_OVERHEAD + FIM_SLACK) if fim else 0)
    if budget < 8:
        raise ValueError(f"seq_len {seq_len} leaves {budget} tokens per chunk")
    return budget


def chunk_document(record: Mapping[str, Any], ids: Sequence[int], lens: np.ndarray, budget: int,
                   encode: Callable[[list[str]], list[list[int]]], split: str, group: str,
                   language_tokens: Counter | None = None) -> list[Chunk]:
    """Chunks of one encoded document (record keys: id, text, source, domain, language, meta)."""
    text: str = record["text"]
    arr = np.asarray(ids, dtype=np.int32)
    data = text.encode("utf-8")
    meta = record.get("meta")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta) if meta else {}
        except ValueError:
            meta = {}
    spans = file_spans(text, meta)
    names = ((meta or {}).get("files") or []) if spans else []
    spans_b = _to_bytes(text, spans) if spans else []
    # Every file's path-comment line in one batched encode call (per-file calls cost more than the
    # encoding itself on repositories of thousands of files).
    header_list = [np.asarray(x, dtype=np.int32) for x in encode([data[start:body].decode("utf-8") for start, body, _, _ in spans_b])] if spans_b else []

    def header_ids(f: int) -> np.ndarray:
        return header_list[f]

    cuts = plan_cuts(arr, lens, data, spans_b, budget, lambda f: int(header_ids(f).shape[0]))
    bounds = np.zeros(arr.shape[0] + 1, dtype=np.int64)
    np.cumsum(lens[arr], out=bounds[1:])
    doc_lang = str(record.get("language") or "")
    if language_tokens is not None:
        if spans_b and bounds[-1] == len(data):
            ends = np.searchsorted(bounds, [e for _, _, e, _ in spans_b])
            starts = np.concatenate(([0], ends[:-1]))
            for (_, _, _, lang), a, b in zip(spans_b, starts, ends):
                language_tokens[lang or doc_lang] += int(b - a)
        else:
            language_tokens[doc_lang] += int(arr.shape[0])
    out = []
    span_starts = np.array([sp[0] for sp in spans_b], dtype=np.int64)
    span_ends = np.array([sp[2] for sp in spans_b], dtype=np.int64)
    for k, (s, e, header) in enumerate(cuts):
        piece = arr[s:e] if header < 0 else np.concatenate([header_ids(header), arr[s:e]])
        language = doc_lang
        held: list[str] = []
        if spans_b:
            lo, hi = bounds[s], bounds[e]
            by_lang: Counter = Counter()
            # Only the files that can overlap [lo, hi) (spans are sorted and disjoint).
            first = int(np.searchsorted(span_ends, lo, side="right"))
            last = int(np.searchsorted(span_starts, hi, side="left"))
            for f, (start, _, end, lang) in enumerate(spans_b[first:last], first):
                overlap = min(end, hi) - max(start, lo)
                if overlap > 0:
                    by_lang[lang or doc_lang] += overlap
                    if f < len(names):
                        held.append(str(names[f]))
            if by_lang:
                language = max(by_lang.items(), key=lambda kv: (kv[1], kv[0]))[0]
        out.append(Chunk(f"{record['id']}#{k}", record["id"], str(record.get("source") or ""),
                         str(record.get("domain") or ""), language, split, group, piece.astype(np.int32, copy=False),
                         tuple(held)))
    return out


def chunks_to_table(chunks: Sequence[Chunk]) -> pa.Table:
    lengths = np.fromiter((c.ids.shape[0] for c in chunks), dtype=np.int64, count=len(chunks))
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = np.concatenate([c.ids for c in chunks]) if chunks else np.empty(0, dtype=np.int32)
    ids = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values, type=pa.int32())).cast(pa.list_(pa.int32()))
    n = len(chunks)
    return pa.Table.from_arrays(
        [pa.array(np.zeros(n, dtype=np.uint64)), pa.array(np.full(n, -1, dtype=np.int32)),
         pa.array([c.chunk_id for c in chunks], pa.string()), pa.array([c.doc_id for c in chunks], pa.string()),
         pa.array(np.zeros(n, dtype=np.int32)), pa.array([c.source for c in chunks], pa.string()),
         pa.array([c.domain for c in chunks], pa.string()), pa.array([c.language for c in chunks], pa.string()),
         pa.array([c.split for c in chunks], pa.string()), pa.array([c.group for c in chunks], pa.string()), ids],
        schema=CHUNK_SCHEMA,
    )


# --------------------------------------------------------------------------------- final documents


def order_key(seed: int, chunk_id: str, rep: int) -> int:
    """Seeded position of one chunk copy in the global order (and its pack range)."""
    return int.from_bytes(hashlib.blake2b(f"{seed}\0order\0{chunk_id}\0{rep}".encode(), digest_size=8).digest(), "big")


def range_of(key: int, n_ranges: int) -> int:
    return (key * n_ranges) >> 64


def _fim_array(fim: Any, parts: Sequence[np.ndarray], sp: Any, bos: list[int]) -> np.ndarray:
    """fim_ids with BOS for int32 arrays (no Python lists of every token)."""
    pre, mid, suf = parts
    tok = lambda *ids: np.asarray(ids, dtype=np.int32)  # noqa: E731
    if fim.mode == "psm":
        seq = [tok(*bos, sp.fim_begin), pre, tok(sp.fim_hole), suf, tok(sp.fim_end), mid, tok(sp.eos)]
    else:
        seq = [tok(*bos, sp.fim_begin, sp.fim_hole), suf, tok(sp.fim_end), pre, mid, tok(sp.eos)]
    return np.concatenate(seq)


def materialize(rows: Sequence[Mapping[str, Any]], ids: Sequence[np.ndarray], tok: CorpusTokenizer, config: ShardConfig,
                seed: int, encode: Callable[[list[str]], list[list[int]]],
                decode: Callable[[np.ndarray], str], pieces: PieceEncoder | None = None) -> tuple[list[EncodedDoc], int]:
    """Final ids of chunk copies (rows: chunk_id, rep, source, domain, language, split): the FIM coin
    flip per copy (config.fim), BOS (config.add_bos), EOS. Returns the documents and how many FIM draws
    fell back to plain because the FIM form would not fit config.seq_len (counted, never silently split). With `pieces` (only for the
    tokenizers `splice_applies` accepts) the FIM pieces reuse the chunk's ids away from the cuts; the
    ids are the same as encoding each piece in full."""
    sp = tok.specials
    bos = [sp.bos] if config.add_bos else []
    plans = []
    texts: list[str] = []
    items: list[tuple[str, np.ndarray, list[tuple[int, int]]]] = []
    for row, piece in zip(rows, ids):
        fim = None
        if row["domain"] in config.fim.domains and config.fim.rate > 0 and piece.shape[0]:
            rng = doc_rng(seed, row["chunk_id"], int(row["rep"]))
            if rng.random() < config.fim.rate:
                # The coin is drawn; apply_fim with rate 1 draws the two cut points.
                text = decode(piece)
                fim = apply_fim(text, rng, 1.0, config.fim.mode, config.fim.spm_rate)
                if pieces is None:
                    texts.extend([fim.prefix, fim.middle, fim.suffix])
                else:
                    a, b = len(fim.prefix), len(fim.prefix) + len(fim.middle)
                    items.append((text, piece, [(0, a), (a, b), (b, len(text))]))
        plans.append(fim)
    if pieces is None:
        encoded = encode(texts) if texts else []
    else:
        encoded = [p for triple in pieces(items) for p in triple] if items else []
    out: list[EncodedDoc] = []
    overflow, pos = 0, 0
    for row, piece, fim in zip(rows, ids, plans):
        mode = "none"
        final = None
        if fim is not None:
            parts = encoded[pos : pos + 3]
            pos += 3
            cand = _fim_array(fim, parts, sp, bos) if pieces is not None else np.asarray(bos + fim_ids(fim, parts, sp), dtype=np.int32)
            if cand.shape[0] <= config.seq_len:
                final, mode = cand, fim.mode or "none"
            else:
                overflow += 1
        if final is None:
            final = np.concatenate([np.asarray(bos, dtype=np.int32), piece.astype(np.int32, copy=False),
                                    np.asarray([sp.eos], dtype=np.int32)])
        out.append(EncodedDoc(doc_id=row["chunk_id"], rep=int(row["rep"]), source=row["source"] or "",
                              domain=row["domain"] or "", language=row["language"] or "", split=row["split"],
                              fim=mode, ids=final))
    return out, overflow
