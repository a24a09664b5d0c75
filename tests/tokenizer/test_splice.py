"""FIM pieces encoded by splicing the chunk's ids (tokenizer/splice.py) equal encoding each piece in full."""

from __future__ import annotations

import hashlib
import random
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from tokenizer.bpe import from_json, train_bpe
from tokenizer.chunks import materialize, token_byte_lengths
from tokenizer.config import ShardConfig
from tokenizer.fast_encode import FastEncoder, build_fast_encoder
from tokenizer.shards import encode_chunks
from tokenizer.splice import PieceEncoder, splice_applies

HARD = ("a\n\n\nb\r\n\r\nc  \n\t\td = 1\n   \n x\n\u00e9t\u00e9\n\u6f22\u5b57\u304b\u306a\n 12345\n$%^\n\n\n\n"
        "def f():\n    return '\u2603'\n\u2028line\n\x0bvt\n\n" * 3)


def _texts() -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(stdlib.glob("*.py"))[:60] + sorted((stdlib / "json").glob("*.py"))
    texts = [f.read_text(encoding="utf-8", errors="replace") for f in files]
    return [t for t in texts if t] + [HARD, HARD.replace("\n", "\r\n"), "x", "\n", "\n\nA"]


@pytest.fixture(scope="module")
def tok():
    raw = train_bpe(_texts()[:40], 3000).to_str()
    return from_json(raw, path=None, sha256=hashlib.sha256(raw.encode()).hexdigest())


@pytest.mark.parametrize("fast", [True, False])
def test_spliced_pieces_equal_full_encoding(tok, fast: bool) -> None:
    assert splice_applies(tok)
    encode = FastEncoder(build_fast_encoder(tok)) if fast else tok.encode_plain
    lens = token_byte_lengths(tok)
    rng = random.Random(7)
    texts = _texts()
    pieces = PieceEncoder(encode, lens)
    items, expected = [], []
    for text, ids in zip(texts, encode(texts)):
        ids = np.asarray(ids, dtype=np.int32)
        for _ in range(40):
            a, b = sorted((rng.randint(0, len(text)), rng.randint(0, len(text))))
            ranges = [(0, a), (a, b), (b, len(text))]
            items.append((text, ids, ranges))
            expected.append([list(x) for x in encode([text[s:e] for s, e in ranges])])
    assert [[p.tolist() for p in triple] for triple in pieces(items)] == expected
    assert pieces.reused_tokens > 10 * pieces.windows_bytes / 4  # most ids were reused, not re-encoded


@pytest.mark.parametrize("mode", ["psm", "spm"])
def test_chunks_with_headers_give_the_same_fim_ids(tok, mode: str) -> None:
    """Through the real path: documents cut into chunks (with path-comment headers), FIM drawn per
    chunk copy, pieces spliced or encoded in full: identical final ids."""
    encode = FastEncoder(build_fast_encoder(tok))
    lens = token_byte_lengths(tok)
    texts = _texts()
    body = "".join(f"# file {i}\n{t}" for i, t in enumerate(texts[:30]))
    spans = []
    pos = 0
    for i, t in enumerate(texts[:30]):
        n = len(f"# file {i}\n{t}")
        spans.append({"path": f"f{i}.py", "start": pos, "end": pos + n})
        pos += n
    records = [{"id": f"d{i}", "text": t, "domain": "code", "source": "s", "repo": "r", "path": f"p{i}.py", "language": "Python"}
               for i, t in enumerate(texts)] + [{"id": "big", "text": body, "domain": "code", "source": "s", "repo": "r", "path": "all.py",
                                                  "language": "Python"}]
    cfg = ShardConfig(seq_len=10_000, chunk_tokens=300, fim_rate=1.0, fim_mode=mode)
    chunks, _ = encode_chunks(tok, records, seed=3, config=cfg, encoder=encode, lens=lens)
    assert len(chunks) > 50
    rows = [{"chunk_id": c.chunk_id, "rep": r, "source": c.source, "domain": c.domain, "language": c.language, "split": c.split}
            for c in chunks for r in (0, 1)]
    ids = [c.ids for c in chunks for _ in (0, 1)]
    decode = lambda x: encode.encoding.decode_bytes(x.tolist()).decode("utf-8")  # noqa: E731
    full, _ = materialize(rows, ids, tok, cfg, 5, encode, decode)
    spliced, _ = materialize(rows, ids, tok, cfg, 5, encode, decode, PieceEncoder(encode, lens))
    assert sum(d.fim != "none" for d in full) == len(rows)
    assert [d.ids.tolist() for d in spliced] == [d.ids.tolist() for d in full]


def test_other_pre_tokenizers_are_not_spliced(tok) -> None:
    import json

    data = json.loads(tok.json_text)
    data["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = r"\p{N}{1,3}| ?\p{L}+|\s+|."
    other = from_json(json.dumps(data), path=None, sha256="x")
    assert not splice_applies(other)
