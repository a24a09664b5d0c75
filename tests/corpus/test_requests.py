"""Storage request accounting: counted per task in the storage layer, summed per step into `_SUCCESS.json`,
and bounded per task whatever the number of parts."""

from __future__ import annotations

import json
import threading

import pyarrow as pa

from corpus import storage
from corpus.engine.executor import Executor
from corpus.engine.runner import InProcessRunner
from corpus.ingest.kinds import make_input
from corpus.stages.ingest import IngestConfig, IngestStage
from corpus.stages.langid import LangIdStage


def test_each_kind_of_request_is_counted(tmp_path) -> None:
    uri = str(tmp_path / "t.parquet")
    with storage.counting_requests() as counts:
        storage.write_table(uri, pa.table({"a": list(range(10))}))
        storage.read_table(uri)
        storage.exists(uri)
        storage.listdir(str(tmp_path))
        pf = storage.parquet_file(uri)
        storage.read_row_groups(pf, [0])
    assert counts == {"opens": 2, "reads": 3, "lists": 1, "writes": 1}


def test_an_inner_scope_takes_its_requests_from_the_outer_one(tmp_path) -> None:
    uri = str(tmp_path / "x.json")
    with storage.counting_requests() as outer:
        storage.write_json(uri, {})
        with storage.counting_requests() as inner:
            storage.read_json(uri)
            # a task's own threads count into the task
            t = threading.Thread(target=storage.exists, args=(uri,))
            t.start()
            t.join()
    assert inner == {"opens": 1, "reads": 2, "lists": 0, "writes": 0}
    assert outer == {"opens": 0, "reads": 0, "lists": 0, "writes": 1}


def _read_n(uris: list[str]) -> int:
    return sum(storage.read_table(u).num_rows for u in uris)


def test_the_runner_returns_requests_per_step_with_the_largest_task(tmp_path) -> None:
    uris = []
    for i in range(3):
        uris.append(str(tmp_path / f"{i}.parquet"))
        storage.write_table(uris[-1], pa.table({"a": [i]}))
    runner = InProcessRunner()
    runner.map(_read_n, [(uris[:1],), (uris,)], desc="s:read")
    assert runner.requests_by_step["s:read"] == {"tasks": 2, "total": 8, "max_per_task": 6,
                                                 "by_kind": {"opens": 4, "reads": 4, "lists": 0, "writes": 0}}


def test_success_json_holds_requests_by_step(tmp_path) -> None:
    for r in range(3):
        repo = tmp_path / "repos" / f"r{r}"
        repo.mkdir(parents=True)
        (repo / "m.py").write_text(f"def f{r}(x):\n    return x\n" * 20)
    inputs = [make_input(name="github", kind="repos", paths=[str(tmp_path / "repos")], each_subdir=True)]
    out = str(tmp_path / "out")
    Executor(out, seed=1).run([IngestStage(IngestConfig(inputs=inputs, units_per_part=1, min_parts=1)), LangIdStage()])
    done = storage.read_json(storage.join(out, "langid", "_SUCCESS.json"))
    step = done["requests_by_step"]["langid"]
    assert step["tasks"] == 3 and step["total"] >= 3 * 4 and step["max_per_task"] * 3 >= step["total"]
    assert done["driver_requests"]["lists"] >= 0 and set(done["driver_requests"]) == set(storage.REQUEST_KINDS)


# ----------------------------------------------------------- dedup's per-part steps, bounded per task

def _dedup_corpus(root, n_parts: int) -> list[str]:
    """The same 60 documents (copies across parts) cut into n_parts parts."""
    import numpy as np
    import pyarrow.parquet as pq

    from corpus.records import Doc, docs_to_table

    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(2000)]
    texts = [" ".join(rng.choice(words, 200)) for _ in range(40)]
    texts += [texts[i % 7] for i in range(20)]
    root.mkdir(parents=True, exist_ok=True)
    uris = []
    for p in range(n_parts):
        docs = [Doc(source="s", domain="code", repo=f"r{p}", path=f"{i}", text=t) for i, t in enumerate(texts) if i % n_parts == p]
        uris.append(str(root / f"in-{p:03d}.parquet"))
        pq.write_table(docs_to_table(docs), uris[-1])
    return uris


def _dedup_run(tmp_path, name: str, n_parts: int):
    from corpus.engine.context import RunContext
    from corpus.stages.dedup import ExactDedupStage

    stage = ExactDedupStage()
    runner = InProcessRunner()
    out = tmp_path / name
    ctx = RunContext(out_uri=str(out), stage_name=stage.name, runner=runner, stage_key="k")
    stats = stage.run(ctx, _dedup_corpus(tmp_path / f"in-{n_parts}", n_parts))
    return stats, runner.requests_by_step, out


def _dedup_rows(out) -> list:
    import pyarrow.parquet as pq

    rows = []
    for f in sorted(out.glob("dedup_exact/**/part-*.parquet")):
        rows += [(r["path"], r.get("repo"), r.get("detail")) for r in pq.read_table(f).to_pylist()]
    return sorted(rows, key=str)


def test_per_part_dedup_tasks_read_one_file_whatever_the_bucket_count(tmp_path, monkeypatch) -> None:
    """Many buckets (tiny target bytes): ranks and apply tasks would read a slice of every bucket file
    (P x B); regrouped by part they read one. Same output as the direct reads."""
    from corpus.ops import shuffle

    stats_one, _, one = _dedup_run(tmp_path, "few", 6)
    monkeypatch.setattr(shuffle, "DEFAULT_TARGET_BYTES", 16)
    monkeypatch.setattr(shuffle, "BY_PART_MAX_FILES", 10**9)  # the direct reads, as before the regroup
    _, direct, many_direct = _dedup_run(tmp_path, "direct", 6)
    monkeypatch.setattr(shuffle, "BY_PART_MAX_FILES", 4)
    stats, grouped, many = _dedup_run(tmp_path, "grouped", 6)
    assert stats.dropped and stats.to_json() == stats_one.to_json()
    assert _dedup_rows(many) == _dedup_rows(one) == _dedup_rows(many_direct)
    for step in ("dedup_exact:ranks", "dedup_exact:apply"):
        assert direct[step]["max_per_task"] > 30  # the P x B reads this replaces
        assert grouped[step]["max_per_task"] <= 8, (step, grouped[step])


def test_dedup_requests_per_task_do_not_grow_with_parts(tmp_path, monkeypatch) -> None:
    """The same documents in 4 and in 16 parts, with every bound scaled down (combine past 4 files, ids
    tasks of 2 parts, many buckets): no step's largest task makes more requests at 16 parts (before, the
    ids, choose and edges reducers read every part's file), and each step's total grows at most linearly."""
    from corpus.ops import shuffle
    from corpus.stages import dedup

    monkeypatch.setattr(shuffle, "DEFAULT_TARGET_BYTES", 256)
    for module in (shuffle, dedup):
        monkeypatch.setattr(module, "COMBINE_MIN_MAPS", 4)
    monkeypatch.setattr(shuffle, "COMBINE_MAX_MAPS", 4)
    monkeypatch.setattr(dedup, "IDS_PARTS_PER_TASK", 2)
    _, small, out_small = _dedup_run(tmp_path, "p4", 4)
    _, big, out_big = _dedup_run(tmp_path, "p16", 16)
    dropped = [sum(1 for r in _dedup_rows(o) if r[2]) for o in (out_small, out_big)]
    assert dropped[0] == dropped[1] == 20  # 20 copies of 7 of the texts
    for step in small:
        if step in big:
            assert big[step]["max_per_task"] <= small[step]["max_per_task"] + 4, (step, small[step], big[step])
            assert big[step]["total"] <= 4 * small[step]["total"] + 16 * 8, (step, small[step], big[step])
    assert max(s["max_per_task"] for s in big.values()) <= 12


# -------------------------------------------------------------- recall's all-parts reads as fan-in trees

def test_recall_through_fan_in_trees_gives_the_same_records_model_and_report(shared_dir, tmp_path) -> None:
    """Fan-in 2 over 6 parts (trees of merge tasks for the training lines, code-text seeds, domain counts and
    budget cutoffs) gives the records, model and report of one task reading every part; no task of those
    steps reads more than its fan-in of files."""
    from classifiers import RecallParams
    from corpus.engine.context import RunContext
    from corpus.stages import recall
    from tests.classifiers.test_recall import (
        FAST,
        _doc_rows,
        _stage_output,
        _without_timings,
        _write_parts,
    )

    inputs = _write_parts(_doc_rows(shared_dir), tmp_path / "in", parts=6)

    def run(name: str, fan_in: int):
        cfg = recall.RecallConfig(iterations=2, fan_in=fan_in, budget_tokens={"math": 20_000, "code": 20_000},
                                  fasttext=RecallParams(**FAST))
        runner = InProcessRunner()
        ctx = RunContext(str(tmp_path / name), seed=7, stage_name="recall", runner=runner, stage_key="k")
        recall.RecallStage(cfg).run(ctx, inputs).check("recall")
        report = storage.read_json(storage.join(ctx.reports_uri, "recall.json"))
        report.pop("config"), report["model"].pop("path")
        return _stage_output(tmp_path / name), _without_timings(report), (tmp_path / name / "recall" / "model.bin").read_bytes(), runner.requests_by_step

    one_task = run("one", 128)
    tree = run("tree", 2)
    assert tree[0] == one_task[0] and tree[1] == one_task[1] and tree[2] == one_task[2]
    assert any(r["recall_label"] for r in [json.loads(x["meta"]) for x in tree[0][0] if x["repo"] is None])
    assert tree[1]["iterations"][0]["recalled_tokens"]  # the budget cut ran
    steps = tree[3]
    for step in ("recall:code_text_tree:merge", "recall:iter-1-train-tree:merge", "recall:iter-1-counts-tree:merge", "recall:iter-1-cut-tree:merge"):
        assert steps[step]["tasks"] >= 2, step
    # each task reads <= 2 files (an open and a read each) and writes one
    for step in ("recall:code_text", "recall:domains", "recall:cut", "recall:iter-2-counts-tree:merge", "recall:iter-2-train-tree:merge"):
        assert steps[step]["by_kind"]["opens"] <= 2 * steps[step]["tasks"], (step, steps[step])
    assert one_task[3]["recall:domains"]["by_kind"]["opens"] == 6 * one_task[3]["recall:domains"]["tasks"]  # every part in one task


def test_a_map_stage_takes_part_sizes_from_success_json_not_a_listing(tmp_path, monkeypatch) -> None:
    for r in range(3):
        repo = tmp_path / "repos" / f"r{r}"
        repo.mkdir(parents=True)
        (repo / "m.py").write_text(f"def f{r}(x):\n    return x\n" * (10 + 10 * r))
    inputs = [make_input(name="github", kind="repos", paths=[str(tmp_path / "repos")], each_subdir=True)]
    out = str(tmp_path / "out")

    def no_listing(uris):
        raise AssertionError(f"listed the folders of {len(uris)} parts")

    monkeypatch.setattr(storage, "sizes_of", no_listing)
    Executor(out, seed=1).run([IngestStage(IngestConfig(inputs=inputs, units_per_part=1, min_parts=1)), LangIdStage()])
    ingest = storage.read_json(storage.join(out, "ingest", "_SUCCESS.json"))
    assert ingest["part_bytes"] == [storage.size(storage.join(out, "ingest", p)) for p in ingest["parts"]]
    assert len(set(ingest["part_bytes"])) == 3


def test_no_ids_task_reads_the_id_column_of_every_part(tmp_path, monkeypatch) -> None:
    """The survivors' ids come from their own parts: a bucket spans at most IDS_PARTS_PER_TASK parts, so
    an ids task's reads do not grow with the parts (one bucket of 16 parts read all 16 before)."""
    from corpus.stages import dedup

    _, one_bucket, out_one = _dedup_run(tmp_path, "one", 16)
    monkeypatch.setattr(dedup, "IDS_PARTS_PER_TASK", 2)
    _, bounded, out = _dedup_run(tmp_path, "bounded", 16)
    assert _dedup_rows(out) == _dedup_rows(out_one)
    # the survivors live in 7 parts: one task read 7 id columns, now each reads at most ~2
    assert one_bucket["dedup_exact:ids"]["tasks"] == 1 and one_bucket["dedup_exact:ids"]["max_per_task"] >= 2 * 7
    assert bounded["dedup_exact:ids"]["tasks"] >= 8, bounded["dedup_exact:ids"]
    assert bounded["dedup_exact:ids"]["max_per_task"] <= one_bucket["dedup_exact:ids"]["max_per_task"] - 2 * 4, bounded["dedup_exact:ids"]


def test_choose_reads_the_ranks_of_many_parts_through_combined_files(tmp_path, monkeypatch) -> None:
    from corpus.ops import shuffle

    _, plain, out_plain = _dedup_run(tmp_path, "plain", 12)
    monkeypatch.setattr(shuffle, "COMBINE_MIN_MAPS", 4)
    monkeypatch.setattr(shuffle, "COMBINE_MAX_MAPS", 6)
    from corpus.stages import dedup

    monkeypatch.setattr(dedup, "COMBINE_MIN_MAPS", 4)
    _, combined, out = _dedup_run(tmp_path, "combined", 12)
    assert _dedup_rows(out) == _dedup_rows(out_plain)
    assert combined["dedup_exact:ranks:combine"]["tasks"] == 2
    assert combined["dedup_exact:choose"]["by_kind"]["opens"] <= 2 * combined["dedup_exact:choose"]["tasks"]
    assert plain["dedup_exact:choose"]["by_kind"]["opens"] >= 12
