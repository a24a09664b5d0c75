"""Chunks that fit the context: file boundaries first, line boundaries next, path lines kept."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from tokenizer import chunk_document, token_byte_lengths, train_bpe, wrap_tokenizer
from tokenizer.chunks import file_spans


@pytest.fixture(scope="module")
def files() -> list[tuple[str, str]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    paths = sorted(root.glob("json/*.py")) + sorted(root.glob("email/*.py"))[:10]
    return [(str(p.relative_to(root)), p.read_text()) for p in paths]


@pytest.fixture(scope="module")
def tok(files):
    return wrap_tokenizer(train_bpe([t for _, t in files], 800))


def _sample(files: list[tuple[str, str]]) -> tuple[str, dict]:
    pieces, spans, pos = [], [], 0
    for path, text in files:
        head = f"# path: {path}\n"
        spans.append([pos, pos + len(head), pos + len(head) + len(text)])
        pieces.append(head + text)
        pos = spans[-1][2] + 1
    return "\n".join(pieces), {"spans": spans, "languages": ["Python"] * len(files)}


def test_chunks_fit_keep_paths_and_rebuild_the_sample(tok, files) -> None:
    text, meta = _sample(files)
    ids = tok.encode_plain([text])[0]
    budget = 300
    chunks = chunk_document({"id": "r", "text": text, "source": "github", "domain": "code", "language": "Python", "meta": meta},
                            ids, token_byte_lengths(tok), budget, tok.encode_plain, "train", "g")
    assert len(chunks) > 5
    spans = file_spans(text, meta)
    heads = {text[s:b] for s, b, _, _ in spans}
    rebuilt, pos = [], 0
    for c in chunks:
        assert c.ids.shape[0] <= budget
        piece = tok.decode(c.ids.tolist())
        first = piece[: piece.index("\n") + 1]
        assert first in heads, first  # every chunk starts with a path line
        if text.startswith(piece, pos):
            body = piece  # starts at a file boundary: the path line is the sample's own
        else:
            body = piece[len(first):]  # a continuation: the file's path line was repeated
            assert text.startswith(body, pos)
        rebuilt.append(body)
        pos += len(body)
    assert "".join(rebuilt) == text
    # A file that fits a chunk is never cut: it lies inside one chunk.
    bounds, pos = [], 0
    for b in rebuilt:
        bounds.append((pos, pos + len(b)))
        pos += len(b)
    for (s, _, e, _), (path, _) in zip(spans, files):
        n = len(tok.encode_plain([text[s:e]])[0])
        if n <= budget:
            assert any(a <= s and e <= b for a, b in bounds), path


def test_long_line_is_cut_at_a_character(tok) -> None:
    text = "x = '" + "é" * 3000 + "'\n"
    ids = tok.encode_plain([text])[0]
    chunks = chunk_document({"id": "d", "text": text, "domain": "code"}, ids, token_byte_lengths(tok), 64, tok.encode_plain, "train", "g")
    assert len(chunks) > 1 and all(c.ids.shape[0] <= 64 for c in chunks)
    assert "".join(tok.decode(c.ids.tolist()) for c in chunks) == text


def test_repo_samples_record_file_spans() -> None:
    from corpus.stages.repo_samples import build_samples

    rows = [{"id": f"i{k}", "repo": "r", "source": "github", "domain": "code", "path": f"p{k}.py", "language": "Python",
             "text": f"print({k})\n" * (k + 1), "size": 9 * (k + 1)} for k in range(4)]
    (doc,) = build_samples(rows, 1, 10**6, lambda lang, path: f"# path: {path}")
    spans = file_spans(doc.text, doc.meta)
    assert spans and len(spans) == 4
    by_path = {r["path"]: r["text"] for r in rows}
    for (s, b, e, lang), path in zip(spans, doc.meta["files"]):
        assert doc.text[s:b] == f"# path: {path}\n" and doc.text[b:e] == by_path[path] and lang == "Python"


def test_repo_samples_resume_keeps_committed_parts(tmp_path) -> None:
    """A killed build step reruns only the parts without a commit record, with the same bytes."""
    import pyarrow.parquet as pq

    from corpus import storage
    from corpus.engine.context import RunContext
    from corpus.records import Doc, docs_to_table
    from corpus.stages.repo_samples import RepoSamplesConfig, RepoSamplesStage

    # File i of every repository in input part i: every repository spans parts, so its samples are
    # built in buckets of bucket_bytes after the (here empty) local parts.
    srcs = []
    for i in range(3):
        docs = [Doc(source="gh", domain="code", repo=f"r{r}", path=f"m{i}.py", text=f"x = {r}{i}\n" * 50, language="Python") for r in range(40)]
        srcs.append(str(tmp_path / f"in-{i}.parquet"))
        pq.write_table(docs_to_table(docs), srcs[-1])
    stage = RepoSamplesStage(RepoSamplesConfig(bucket_bytes=2000))
    ctx = RunContext(str(tmp_path / "out"), stage_name="repo_samples", stage_key="k1")
    first = stage.run(ctx, srcs)
    parts = sorted(n for n in storage.listdir(ctx.stage_uri) if n.startswith("part-"))
    assert len(parts) > 4 and first.out_records == 40
    before = {n: storage.read_bytes(storage.join(ctx.stage_uri, n)) for n in parts}
    storage.remove(storage.join(ctx.stage_uri, parts[4]))
    mtime0 = (tmp_path / "out" / "repo_samples" / parts[3]).stat().st_mtime_ns
    again = stage.run(ctx, srcs)
    assert again.to_json() == first.to_json()
    assert {n: storage.read_bytes(storage.join(ctx.stage_uri, n)) for n in parts} == before
    assert (tmp_path / "out" / "repo_samples" / parts[3]).stat().st_mtime_ns == mtime0  # reused, not rewritten
