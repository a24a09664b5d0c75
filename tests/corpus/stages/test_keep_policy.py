"""The dedup keep policy: most stars, then most forks, then earliest creation, then (part, row) order;
documents without repository metadata rank last. Exact and near dedup, any bucket count."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from corpus.engine.context import RunContext
from corpus.engine.runner import InProcessRunner
from corpus.ops import shuffle
from corpus.records import Doc, docs_to_table
from corpus.stages import dedup
from corpus.stages.dedup import (
    ExactDedupConfig,
    ExactDedupStage,
    NearDedupConfig,
    NearDedupStage,
    choose_survivors,
    rank_of,
)


def _gh(stars: int, forks: int = 0, created: str = "2020-01-01T00:00:00Z", fork: bool = False) -> dict:
    return {"github": {"full_name": "x/y", "stars": stars, "forks": forks, "created_at": created, "fork": fork}}


def _doc(repo: str, path: str, text: str, meta: dict | None = None) -> Doc:
    return Doc(source="github", domain="code", repo=repo, path=path, text=text, meta=meta or {})


def _write_parts(root, parts: list[list[Doc]]) -> list[str]:
    uris = []
    for p, docs in enumerate(parts):
        uri = str(root / f"in-{p}.parquet")
        pq.write_table(docs_to_table(docs), uri)
        uris.append(uri)
    return uris


def _run(stage, inputs, out):
    ctx = RunContext(out_uri=str(out), stage_name=stage.name, runner=InProcessRunner(), stage_key="k")
    return stage.run(ctx, inputs)


def _dropped(out, name) -> dict[str, str]:
    rows = [r for f in sorted((out / name / "_dropped").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    return {f'{r["repo"]}:{r["path"]}': r["detail"] for r in rows}


LIB = "def add(a, b):\n    return a + b\n" * 20


def _fork_first_corpus(tmp_path) -> tuple[list[str], dict[str, str]]:
    """A fork (fewer stars) sorts first in (part, row) order; the original is later."""
    parts = [
        [_doc("bob/lib", "lib.py", LIB, _gh(3, fork=True)), _doc("nometa", "lib2.py", "unique text " * 30)],
        [_doc("carol/other", "a.txt", "tie text " * 40, _gh(10, 5, "2019-05-01T00:00:00Z")),
         _doc("alice/lib", "lib.py", LIB, _gh(900, 40))],
        [_doc("dave/other", "a.txt", "tie text " * 40, _gh(10, 5, "2018-01-01T00:00:00Z")),  # same stars/forks, older: wins
         _doc("erin/other", "a.txt", "tie text " * 40, _gh(10, 7, "2021-01-01T00:00:00Z")),  # more forks: wins over both
         _doc("plain/copy", "lib.py", LIB)],  # no metadata: ranks last
    ]
    uris = _write_parts(tmp_path, parts)
    ids = {f"{d.repo}:{d.path}": d.id for docs in parts for d in docs}
    return uris, ids


def test_exact_dedup_keeps_the_most_starred_copy_not_the_first(tmp_path) -> None:
    inputs, ids = _fork_first_corpus(tmp_path)
    stats = _run(ExactDedupStage(), inputs, tmp_path / "out")
    assert dict(stats.dropped) == {"exact_duplicate": 4}
    assert _dropped(tmp_path / "out", "dedup_exact") == {
        "bob/lib:lib.py": f"duplicate of {ids['alice/lib:lib.py']}",
        "plain/copy:lib.py": f"duplicate of {ids['alice/lib:lib.py']}",
        "carol/other:a.txt": f"duplicate of {ids['erin/other:a.txt']}",
        "dave/other:a.txt": f"duplicate of {ids['erin/other:a.txt']}",
    }


def test_policy_first_keeps_part_row_order(tmp_path) -> None:
    inputs, ids = _fork_first_corpus(tmp_path)
    _run(ExactDedupStage(ExactDedupConfig(keep="first")), inputs, tmp_path / "out")
    dropped = _dropped(tmp_path / "out", "dedup_exact")
    assert dropped["alice/lib:lib.py"] == f"duplicate of {ids['bob/lib:lib.py']}"


def test_near_dedup_keeps_the_most_starred_repo_sample(tmp_path) -> None:
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(2000)]
    base = [str(w) for w in rng.choice(words, 400)]
    fork_text = " ".join(base[:395] + ["fork"] * 5)
    parts = [[_doc("bob/lib", "bob/lib", fork_text, {"files": ["a.py"], **_gh(2, fork=True)})],
             [_doc("alice/lib", "alice/lib", " ".join(base), {"files": ["a.py"], **_gh(500, 20)})]]
    inputs = _write_parts(tmp_path, parts)
    _run(NearDedupStage(NearDedupConfig(num_perm=128, bands=32)), inputs, tmp_path / "out")
    alice = parts[1][0].id
    assert _dropped(tmp_path / "out", "dedup_near") == {"bob/lib:bob/lib": f"duplicate of {alice}"}


def test_survivor_does_not_depend_on_bucket_count(tmp_path, monkeypatch) -> None:
    inputs, _ = _fork_first_corpus(tmp_path)
    _run(ExactDedupStage(), inputs, tmp_path / "one")
    monkeypatch.setattr(shuffle, "DEFAULT_TARGET_BYTES", 64)  # a bucket per few rows in every step
    _run(ExactDedupStage(), inputs, tmp_path / "many")
    assert _dropped(tmp_path / "one", "dedup_exact") == _dropped(tmp_path / "many", "dedup_exact")


def test_rank_and_choice_units() -> None:
    assert rank_of(json.dumps(_gh(5, 2, "2020-01-02T00:00:00Z"))) == (0, -5, -2, 1577923200)
    assert rank_of("{}") == dedup.NO_RANK and rank_of("not json") == dedup.NO_RANK
    ref = np.array([7, 3, 9, 1, 2], np.int64)
    root = np.array([1, 1, 1, 1, 2], np.int64)
    ranks = np.array([[0, -5, 0, 10], [0, -5, 0, 5], [1, 0, 0, 0], [0, -4, -9, 0], [0, 0, 0, 0]], np.int64)
    out = choose_survivors(ref, root, ranks, n_parts=1)
    # component of root 1: ref 3 and 7 tie on stars and forks; 3 was created earlier; 2 alone: nothing
    assert sorted(zip(out.column("ref").to_pylist(), out.column("root").to_pylist())) == [(1, 3), (7, 3), (9, 3)]


@pytest.mark.parametrize("step", ["members", "ranks", "choose"])
def test_a_killed_policy_step_resumes_with_identical_output(tmp_path, monkeypatch, step) -> None:
    inputs, _ = _fork_first_corpus(tmp_path)
    _run(ExactDedupStage(), inputs, tmp_path / "clean")
    fn = {"members": "members_task", "ranks": "ranks_task", "choose": "choose_task"}[step]
    real = getattr(dedup, fn)

    def dying(*args):
        raise RuntimeError("killed")

    monkeypatch.setattr(dedup, fn, dying)
    with pytest.raises(RuntimeError):
        _run(ExactDedupStage(), inputs, tmp_path / "resumed")
    monkeypatch.setattr(dedup, fn, real)
    _run(ExactDedupStage(), inputs, tmp_path / "resumed")
    assert _dropped(tmp_path / "clean", "dedup_exact") == _dropped(tmp_path / "resumed", "dedup_exact")


# ------------------------------------------------------------------ survivors the filter keeps


def _py(repo: str, path: str, text: str, meta: dict | None = None, vendored: bool = False) -> Doc:
    doc = _doc(repo, path, text, meta)
    doc.language, doc.lang_method, doc.vendored = "Python", "extension", vendored
    return doc


def test_exact_dedup_keeps_a_copy_the_filter_keeps_over_a_vendored_first_copy(tmp_path) -> None:
    """pip vendors pygments: the vendored copy comes first and has more stars, yet the clean copy survives."""
    long_line = "x = '" + "a" * 1200 + "'\n"
    parts = [[_py("pypa/pip", "src/pip/_vendor/pygments/lexer.py", LIB, _gh(9000), vendored=True),
              _py("big/app", "app/lexer_copy.py", long_line + LIB, _gh(500))],  # fails max_line_length
             [_py("pygments/pygments", "pygments/lexer.py", LIB, _gh(100)),
              _py("tiny/fork", "lexer.py", long_line + LIB, _gh(1))]]
    inputs = _write_parts(tmp_path, parts)
    ids = {f"{d.repo}:{d.path}": d.id for docs in parts for d in docs}
    _run(ExactDedupStage(), inputs, tmp_path / "out")
    dropped = _dropped(tmp_path / "out", "dedup_exact")
    kept = ids["pygments/pygments:pygments/lexer.py"]
    assert dropped["pypa/pip:src/pip/_vendor/pygments/lexer.py"] == f"duplicate of {kept}"
    # No copy of the second cluster passes the filter: the stars decide, as before.
    assert dropped["tiny/fork:lexer.py"] == f"duplicate of {ids['big/app:app/lexer_copy.py']}"
    assert len(dropped) == 2


def test_without_prefer_filter_pass_the_most_starred_copy_survives_even_if_vendored(tmp_path) -> None:
    parts = [[_py("pypa/pip", "src/pip/_vendor/pygments/lexer.py", LIB, _gh(9000), vendored=True)],
             [_py("pygments/pygments", "pygments/lexer.py", LIB, _gh(100))]]
    inputs = _write_parts(tmp_path, parts)
    _run(ExactDedupStage(ExactDedupConfig(prefer_filter_pass=False)), inputs, tmp_path / "out")
    assert list(_dropped(tmp_path / "out", "dedup_exact")) == ["pygments/pygments:pygments/lexer.py"]


def test_policy_first_also_prefers_the_copy_the_filter_keeps(tmp_path) -> None:
    parts = [[_py("a/a", "vendor/lib.py", LIB, vendored=True), _py("b/b", "lib.py", LIB)]]
    inputs = _write_parts(tmp_path, parts)
    _run(ExactDedupStage(ExactDedupConfig(keep="first")), inputs, tmp_path / "out")
    assert list(_dropped(tmp_path / "out", "dedup_exact")) == ["a/a:vendor/lib.py"]


def test_the_filter_settings_are_part_of_the_exact_dedup_key() -> None:
    from corpus.stages.filter import FilterConfig

    base = ExactDedupStage(None, FilterConfig()).fingerprint()
    assert ExactDedupStage(None, FilterConfig(drop_vendored=False)).fingerprint() != base
    off = ExactDedupConfig(prefer_filter_pass=False)
    assert ExactDedupStage(off, FilterConfig(drop_vendored=False)).fingerprint() == ExactDedupStage(off).fingerprint()


def test_filter_rank_orders_kept_then_flagged_then_dropped() -> None:
    def judge(row):
        return ("vendored", "") if row["drop"] else None

    assert dedup.filter_rank(judge, {"drop": False}) == dedup.FILTER_KEEPS
    assert dedup.filter_rank(judge, {"drop": False, "generated": True}) == dedup.FILTER_KEEPS_FLAGGED
    assert dedup.filter_rank(judge, {"drop": True}) == dedup.FILTER_DROPS
