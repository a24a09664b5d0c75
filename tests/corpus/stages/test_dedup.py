"""Dedup: keys, collisions, the staged job on the in-process runner, bucket-count independence, resume by step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from corpus.engine.context import RunContext
from corpus.engine.runner import InProcessRunner
from corpus.ops import components, shuffle
from corpus.records import Doc, docs_to_table
from corpus.stages import dedup
from corpus.stages.dedup import (
    ExactDedupStage,
    NearDedupConfig,
    NearDedupStage,
    collide_bucket,
    exact_keys,
    minhash_band_keys,
)


def _write(tmp_path, name, table):
    path = tmp_path / name
    pq.write_table(table.drop_columns([shuffle.ROUTE]), path)
    return str(path)


def _near_table(texts):
    return docs_to_table([Doc(source="s", domain="code", repo=None, path=str(i), text=t) for i, t in enumerate(texts)])


def test_minhash_lsh_finds_near_duplicates_not_distinct_files(tmp_path) -> None:
    words = [f"token{i}" for i in range(400)]
    base = " ".join(words)
    near = " ".join(words[:390] + ["changed"] * 10)  # ~95% Jaccard on 5-grams
    other = " ".join(reversed(words))
    table = _near_table([base, near, other])
    files = [_write(tmp_path, "k.parquet", minhash_band_keys(table, 0, num_perm=256, bands=32, ngram=5, seed=1))]
    assert collide_bucket(files).tolist() == [[0, 1]]


def test_collisions_link_every_member_to_the_first_ref(tmp_path) -> None:
    a = docs_to_table([Doc(source="s", domain="code", repo="r", path=p, text=t) for p, t in [("1", "same"), ("2", "other"), ("3", "same")]])
    b = docs_to_table([Doc(source="s", domain="code", repo="q", path="4", text="same")])
    files = [_write(tmp_path, "a.parquet", exact_keys(a, 0)), _write(tmp_path, "b.parquet", exact_keys(b, 1))]
    assert collide_bucket(files).tolist() == [[0, 2], [0, 1 << 32]]


# ------------------------------------------------------------------------------ the staged job

WORDS = [f"w{i}" for i in range(3000)]


def _corpus(root: Path) -> list[str]:
    """Three parts: exact copies across parts, a chain of near duplicates, distinct documents."""
    rng = np.random.default_rng(11)
    texts = [" ".join(rng.choice(WORDS, 300)) for _ in range(30)]
    base = texts[0].split()
    chain = [" ".join(base[: 300 - 3 * k] + ["x"] * (3 * k)) for k in range(1, 4)]  # each ~97% like the one before
    parts = [texts[:10] + [texts[3], chain[0]], texts[10:20] + [texts[3], texts[12], chain[1]], texts[20:] + [texts[12], chain[2], texts[3]]]
    uris = []
    for p, docs in enumerate(parts):
        uri = str(root / f"in-{p}.parquet")
        pq.write_table(docs_to_table([Doc(source="s", domain="code", repo=f"r{p}", path=f"{p}/{i}", text=t) for i, t in enumerate(docs)]), uri)
        uris.append(uri)
    return uris


def _run(stage, inputs: list[str], out: Path, key: str = "k"):
    ctx = RunContext(out_uri=str(out), stage_name=stage.name, runner=InProcessRunner(), stage_key=key)
    return stage.run(ctx, inputs), ctx


def _outputs(out: Path, name: str) -> dict[str, list[dict]]:
    files = sorted((out / name).glob("part-*.parquet")) + sorted((out / name / "_dropped").glob("*.parquet"))
    return {str(f.relative_to(out)): pq.read_table(f).to_pylist() for f in files}


def test_exact_stage_drops_later_copies_naming_the_first(tmp_path) -> None:
    inputs = _corpus(tmp_path)
    stats, _ = _run(ExactDedupStage(), inputs, tmp_path / "out")
    assert stats.in_records == 38 and dict(stats.dropped) == {"exact_duplicate": 5}
    ids = [pq.read_table(u).column("id").to_pylist() for u in inputs]
    dropped = {r["path"]: r["detail"] for r in pq.read_table(sorted((tmp_path / "out" / "dedup_exact" / "_dropped").glob("*.parquet"))).to_pylist()}
    # texts[3] first appears at part 0 row 3, texts[12] at part 1 row 2
    assert dropped == {"0/10": f"duplicate of {ids[0][3]}", "1/10": f"duplicate of {ids[0][3]}", "2/12": f"duplicate of {ids[0][3]}", "1/11": f"duplicate of {ids[1][2]}",
                       "2/10": f"duplicate of {ids[1][2]}"}
    kept = pq.read_table(str(tmp_path / "out" / "dedup_exact" / "part-00000.parquet")).column("path").to_pylist()
    assert kept == [f"0/{i}" for i in range(10)] + ["0/11"]  # row order kept


def test_near_chain_collapses_to_its_first_document(tmp_path) -> None:
    inputs = _corpus(tmp_path)
    stats, _ = _run(NearDedupStage(NearDedupConfig(num_perm=128, bands=32)), inputs, tmp_path / "out")
    dropped = {r["path"]: r["detail"] for r in pq.read_table(sorted((tmp_path / "out" / "dedup_near" / "_dropped").glob("*.parquet"))).to_pylist()}
    first = pq.read_table(inputs[0]).column("id")[0].as_py()
    assert {p for p, d in dropped.items() if d == f"duplicate of {first}"} == {"0/11", "1/12", "2/11"}
    assert stats.in_records == stats.kept + sum(stats.dropped.values())


def test_output_does_not_depend_on_the_bucket_count(tmp_path, monkeypatch) -> None:
    inputs = _corpus(tmp_path)
    stage = NearDedupStage(NearDedupConfig(num_perm=128, bands=32))
    _run(stage, inputs, tmp_path / "one")
    monkeypatch.setattr(shuffle, "DEFAULT_TARGET_BYTES", 2048)  # many buckets in every step
    _, ctx = _run(stage, inputs, tmp_path / "many")
    assert shuffle.Shuffled.from_json(ctx.load_step("keys")).n_buckets >= 8
    assert _outputs(tmp_path / "one", stage.name) == _outputs(tmp_path / "many", stage.name)


def test_combined_key_files_give_the_same_output(tmp_path, monkeypatch) -> None:
    """Reducers reading combined map files (the many-parts path) drop the same documents, naming the same
    originals, as reducers reading every map file."""
    inputs = _corpus(tmp_path)
    stage = NearDedupStage(NearDedupConfig(num_perm=128, bands=32))
    _run(stage, inputs, tmp_path / "plain")
    monkeypatch.setattr(shuffle, "COMBINE_MIN_MAPS", 1)
    monkeypatch.setattr(shuffle, "COMBINE_MAX_MAPS", 2)
    monkeypatch.setattr(shuffle, "DEFAULT_TARGET_BYTES", 4096)
    _, ctx = _run(stage, inputs, tmp_path / "combined")
    assert shuffle.Shuffled.from_json(ctx.load_step("keys")).kind.startswith("comb")  # comb, or comb1 past a level
    assert _outputs(tmp_path / "plain", stage.name) == _outputs(tmp_path / "combined", stage.name)


class Killed(RuntimeError):
    pass


# (module, function, the step it runs in, the number of calls that succeed before the kill)
KILL_POINTS = {
    "keys": (shuffle, "_scatter", 2),
    "edges": (dedup, "edges_task", 0),
    "cc": (components, "star_task", 1),  # the second round dies
    "roots": (dedup, "roots_task", 0),
    "ids": (dedup, "ids_task", 0),
    "apply": (dedup, "apply_task", 2),
}
STEP_ORDER = list(KILL_POINTS)


@pytest.mark.parametrize("step", STEP_ORDER)
def test_a_killed_driver_resumes_at_its_step_with_identical_output(tmp_path, monkeypatch, step) -> None:
    inputs = _corpus(tmp_path)
    monkeypatch.setattr(shuffle, "DEFAULT_TARGET_BYTES", 4096)  # several buckets, so a step can die half done
    stage = ExactDedupStage()
    clean, _ = _run(stage, inputs, tmp_path / "clean")

    module, fn_name, survive = KILL_POINTS[step]
    real = getattr(module, fn_name)
    done = []

    def dying(*args):
        if len(done) == survive:
            raise Killed(step)
        done.append(1)
        return real(*args)

    monkeypatch.setattr(module, fn_name, dying)
    with pytest.raises(Killed):
        _run(stage, inputs, tmp_path / "out")
    monkeypatch.setattr(module, fn_name, real)

    calls: dict[str, int] = {}
    for name, (mod, fn, _) in KILL_POINTS.items():
        original = getattr(mod, fn)
        monkeypatch.setattr(mod, fn, lambda *a, _o=original, _n=name: calls.__setitem__(_n, calls.get(_n, 0) + 1) or _o(*a))
    resumed, _ = _run(stage, inputs, tmp_path / "out")
    for earlier in STEP_ORDER[: STEP_ORDER.index(step)]:
        assert calls.get(earlier, 0) == 0, f"step {earlier} finished before the kill but ran again"
    assert calls.get(step, 0) > 0
    assert resumed.to_json() == clean.to_json()
    assert _outputs(tmp_path / "out", stage.name) == _outputs(tmp_path / "clean", stage.name)


def test_steps_of_another_computation_are_not_trusted(tmp_path) -> None:
    inputs = _corpus(tmp_path)
    _, ctx = _run(ExactDedupStage(), inputs, tmp_path / "out", key="a")
    assert ctx.load_step("keys") is not None
    other = RunContext(out_uri=str(tmp_path / "out"), stage_name="dedup_exact", stage_key="b")
    assert other.load_step("keys") is None


def test_ray_runner_gives_the_in_process_output(tmp_path, ray_runner, monkeypatch) -> None:
    inputs = _corpus(tmp_path)
    monkeypatch.setattr(shuffle, "DEFAULT_TARGET_BYTES", 4096)  # module constant: read on the driver only
    stage = NearDedupStage(NearDedupConfig(num_perm=128, bands=32))
    _run(stage, inputs, tmp_path / "local")
    ctx = RunContext(out_uri=str(tmp_path / "ray"), stage_name=stage.name, runner=ray_runner, stage_key="k")
    stage.run(ctx, inputs)
    assert _outputs(tmp_path / "local", stage.name) == _outputs(tmp_path / "ray", stage.name)


def test_no_inputs_and_empty_parts(tmp_path) -> None:
    stats, _ = _run(ExactDedupStage(), [], tmp_path / "none")
    assert stats.in_records == 0
    empty = str(tmp_path / "empty.parquet")
    pq.write_table(docs_to_table([]), empty)
    inputs = [empty, *_corpus(tmp_path), empty]
    stats, ctx = _run(ExactDedupStage(), inputs, tmp_path / "out")
    assert stats.in_records == 38 and dict(stats.dropped) == {"exact_duplicate": 5}
    assert sorted(p.name for p in (tmp_path / "out" / "dedup_exact").glob("part-*.parquet")) == [f"part-0000{i}.parquet" for i in range(5)]
    assert [p.name for p in Path(ctx.scratch_uri).iterdir()] == ["ids"]  # earlier steps' files are gone


def test_on_an_object_store_the_output_matches_a_local_run(tmp_path, s3_server, monkeypatch) -> None:
    from corpus import storage

    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    storage.configure(None)
    monkeypatch.setattr(shuffle, "DEFAULT_TARGET_BYTES", 4096)
    inputs = _corpus(tmp_path)
    stage = NearDedupStage(NearDedupConfig(num_perm=128, bands=32))
    _run(stage, inputs, tmp_path / "local")
    remote = f"s3://{s3_server.bucket}/dedup-{tmp_path.name}"
    real = dedup.ids_task
    monkeypatch.setattr(dedup, "ids_task", lambda *a: (_ for _ in ()).throw(Killed("ids")))
    with pytest.raises(Killed):
        _run(stage, inputs, remote)  # type: ignore[arg-type]
    monkeypatch.setattr(dedup, "ids_task", real)
    _run(stage, inputs, remote)  # type: ignore[arg-type]
    try:
        local = _outputs(tmp_path / "local", stage.name)
        folder = storage.join(remote, stage.name)
        got = {}
        for name in local:
            rel = name.split("/", 1)[1]
            got[name] = storage.read_table(storage.join(folder, *rel.split("/"))).to_pylist()
        assert got == local
        assert not storage.listdir(storage.join(remote, "_tmp", stage.name, "keys"))  # consumed steps are deleted
    finally:
        storage.remove(remote, recursive=True)
        storage.configure(None)


def test_a_part_without_duplicates_is_copied_byte_for_byte(tmp_path) -> None:
    """apply copies a part it keeps whole (no decode/re-encode) and quarantines nothing beside it."""
    inputs = _corpus(tmp_path)
    extra = str(tmp_path / "in-3.parquet")  # documents found nowhere else
    pq.write_table(docs_to_table([Doc(source="s", domain="code", repo="r3", path=f"3/{i}", text=f"unique {i} " * 50) for i in range(5)]), extra)
    stats, ctx = _run(dedup.ExactDedupStage(dedup.ExactDedupConfig()), inputs + [extra], tmp_path / "out")
    out = tmp_path / "out" / "dedup_exact"
    assert (out / "part-00003.parquet").read_bytes() == Path(extra).read_bytes()
    assert pq.read_table(out / "_dropped" / "part-00003.parquet").num_rows == 0
    assert (out / "part-00002.parquet").read_bytes() != Path(inputs[2]).read_bytes()  # it lost its copies
    assert stats.in_records == sum(pq.read_metadata(u).num_rows for u in inputs + [extra])
