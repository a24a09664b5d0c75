"""The executor on the in-process runner: commit records, torn parts, stale temporaries, byte-sized parts."""

from __future__ import annotations

from corpus import storage
from corpus.engine.executor import Executor
from corpus.engine.parts import commit_uri
from corpus.ingest.kinds import make_input
from corpus.stages.ingest import IngestConfig, IngestStage
from corpus.stages.langid import LangIdStage


def _repos(tmp_path, n: int = 4):
    for r in range(n):
        repo = tmp_path / "repos" / f"r{r}"
        repo.mkdir(parents=True)
        for i in range(3):
            (repo / f"m{i}.py").write_text(f"def f{r}_{i}(x):\n    return x + {i}\n" * (20 + r))
    return [make_input(name="github", kind="repos", paths=[str(tmp_path / "repos")], each_subdir=True)]


def _stages(inputs, **ingest):
    ingest.setdefault("min_parts", 1)  # these tests group by units_per_part / part_bytes alone
    return [IngestStage(IngestConfig(inputs=inputs, **ingest)), LangIdStage()]


def test_a_torn_part_is_recomputed_not_trusted(tmp_path) -> None:
    out = str(tmp_path / "out")
    inputs = _repos(tmp_path)
    Executor(out, seed=1).run(_stages(inputs, units_per_part=1))
    part = storage.join(out, "langid", "part-00001.parquet")
    whole = storage.read_bytes(part)
    storage.write_bytes(part, whole[: len(whole) // 2])  # a writer killed mid-copy, record still there
    storage.remove(storage.join(out, "langid", "_SUCCESS.json"))
    again = Executor(out, seed=1, resume=True)
    again.run(_stages(inputs, units_per_part=1))
    assert again.ran == ["langid"]
    assert storage.read_bytes(part) == whole
    # The untouched parts were reused: their commit records were not rewritten.
    assert storage.exists(commit_uri(storage.join(out, "langid", "part-00000.parquet")))


def test_stale_temporaries_and_extra_parts_are_removed(tmp_path) -> None:
    out = str(tmp_path / "out")
    inputs = _repos(tmp_path)
    Executor(out, seed=1).run(_stages(inputs, units_per_part=1))
    assert len(storage.read_json(storage.join(out, "langid", "_SUCCESS.json"))["parts"]) == 4
    storage.write_bytes(storage.join(out, "langid", ".part-00000.parquet.tmp-deadbeef"), b"half")
    Executor(out, seed=1, resume=True).run(_stages(inputs, units_per_part=2))
    names = storage.listdir(storage.join(out, "langid"))
    assert [n for n in names if n.startswith("part-")] == ["part-00000.parquet", "part-00001.parquet"]
    assert not any(".tmp-" in n for n in names)


def test_parts_follow_bytes_not_repository_counts(tmp_path) -> None:
    inputs = _repos(tmp_path, n=6)
    stage = IngestStage(IngestConfig(inputs=inputs, units_per_part=100, part_bytes=3000, min_parts=1))
    units = stage.plan()
    stage.input_fingerprint(units)  # the planning walk that also learns each repository's size
    groups = stage.part_groups(units)
    sizes = [sum(stage.unit_bytes(u) for u in g) for g in groups]
    assert len(groups) > 1 and all(s >= 3000 for s in sizes[:-1])
    assert [u for g in groups for u in g] == units  # order kept: (part, row) order is the input order


def test_source_tasks_write_by_held_bytes_with_the_same_rows(tmp_path, monkeypatch) -> None:
    import corpus.engine.executor as engine

    inputs = _repos(tmp_path)
    Executor(str(tmp_path / "a"), seed=1).run(_stages(inputs, units_per_part=100))
    monkeypatch.setattr(engine, "WRITE_BATCH_BYTES", 500)  # flush after every file or two
    Executor(str(tmp_path / "b"), seed=1).run(_stages(inputs, units_per_part=100))
    rows = [storage.read_table(storage.join(str(tmp_path / o), "ingest", "part-00000.parquet")).to_pylist() for o in ("a", "b")]
    assert rows[0] == rows[1] and len(rows[0]) == 12


def test_a_finished_global_stage_folder_holds_no_temporaries(tmp_path) -> None:
    from corpus.engine.stage import GlobalStage
    from corpus.stats import StageStats

    class CopyWithDebris(GlobalStage):
        """Copies its input; one of its writers is 'killed' and leaves a temporary in _dropped/."""

        name = "copy"

        def run(self, ctx, inputs):
            stats = StageStats()
            for i, uri in enumerate(inputs):
                table = storage.read_table(uri)
                storage.write_table(storage.join(ctx.stage_uri, f"part-{i:05d}.parquet"), table)
                stats.add_in(table.num_rows, 0)
                stats.add_kept(table.num_rows, 0)
            storage.write_bytes(storage.join(ctx.stage_uri, "_dropped", ".part-00000.parquet.tmp-0badc0de"), b"x")
            return stats

    out = str(tmp_path / "out")
    Executor(out, seed=1).run(_stages(_repos(tmp_path)) + [CopyWithDebris()])
    assert not [f for f in storage.find(out) if ".tmp-" in f]
    assert storage.read_json(storage.join(out, "copy", "_SUCCESS.json"))["parts"]


def test_parts_list_in_numeric_order_past_five_digits(tmp_path) -> None:
    from corpus.engine.parts import list_parts, part_name

    for i in (99_999, 100_000, 7, 100_001):
        (tmp_path / part_name(i)).write_bytes(b"")
    assert [p.rsplit("/", 1)[-1] for p in list_parts(str(tmp_path))] == [part_name(i) for i in (7, 99_999, 100_000, 100_001)]


def test_small_inputs_are_cut_into_min_parts(tmp_path) -> None:
    """With sizes known, parts close at min(part_bytes, total / min_parts): several parts for a small
    input, in input order, whatever the cluster."""
    inputs = _repos(tmp_path, n=12)
    stage = IngestStage(IngestConfig(inputs=inputs, min_parts=4))
    units = stage.plan()
    stage.input_fingerprint(units)
    groups = stage.part_groups(units)
    total = sum(stage.unit_bytes(u) for u in units)
    assert 4 <= len(groups) <= 5 and [u for g in groups for u in g] == units
    assert all(sum(stage.unit_bytes(u) for u in g) >= total // 4 for g in groups[:-1])
    assert len(IngestStage(IngestConfig(inputs=inputs, min_parts=1)).part_groups(units)) == 1  # 64 MB parts


def test_stages_runs_a_prefix_on_a_fresh_output(tmp_path) -> None:
    """`--stages ingest` on a fresh OUT runs ingest only; the stages after it simply do not run."""
    out = str(tmp_path / "out")
    ex = Executor(out, seed=1)
    results = ex.run(_stages(_repos(tmp_path)), only={"ingest"})
    assert ex.ran == ["ingest"] and list(results) == ["ingest"]
    assert storage.exists(storage.join(out, "ingest", "_SUCCESS.json"))
    assert not storage.exists(storage.join(out, "langid"))


def test_packaged_tables_and_code_are_in_the_stage_keys() -> None:
    """A stage's key covers the tables it ships with, not only the ones a config names."""
    from pathlib import Path

    from corpus.stages.decont import DecontStage, DecontStageConfig
    from corpus.stages.filter import FilterConfig, FilterStage
    from corpus.stages.recall import RecallConfig, RecallStage
    from corpus.stages.repo_samples import RepoSamplesConfig, RepoSamplesStage

    root = Path(__file__).resolve().parents[3]

    def names(stage) -> set[str]:
        return {Path(p).resolve().relative_to(root).as_posix() for p in stage.key_files() if Path(p).resolve().is_relative_to(root)}

    assert "corpus/filters/code_rules.yaml" in names(FilterStage(FilterConfig()))
    assert "lang_registry/data/languages.yaml" in names(LangIdStage())
    assert "lang_registry/data/languages.yaml" in names(RepoSamplesStage(RepoSamplesConfig()))
    assert "classifiers/seed_data/math.jsonl" in names(RecallStage(RecallConfig()))
    assert {"decont/index.py", "corpus/stages/decont.py"} <= names(DecontStage(DecontStageConfig()))


def test_editing_a_packaged_table_reruns_its_stage_on_resume(tmp_path, monkeypatch) -> None:
    from corpus.engine import stage as stage_mod

    pkg = tmp_path / "site" / "corpus_test_rules"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "rules.yaml").write_text("max_line_length: 1000\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))

    class RuledLangId(LangIdStage):
        code_modules = ("lang_registry", "corpus_test_rules")

    def stages():
        return [IngestStage(IngestConfig(inputs=inputs, min_parts=1)), RuledLangId()]

    inputs = _repos(tmp_path)
    out = str(tmp_path / "out")
    Executor(out, seed=1).run(stages())
    again = Executor(out, seed=1, resume=True)
    again.run(stages())
    assert again.ran == []  # nothing changed: everything reused

    (pkg / "rules.yaml").write_text("max_line_length: 100\n")
    stage_mod.code_digest.cache_clear()  # a new run is a new process; this test stays in one
    edited = Executor(out, seed=1, resume=True)
    edited.run(stages())
    assert edited.ran == ["langid"]
