"""The shards stage at many parts: every task's storage requests stay bounded by the fan-in whatever the
part count (pack ranges read through a gather tree, the tokenizer sample and the summaries through fan-in
trees), the driver's step records do not grow with parts, big parts are encoded by several tasks, and
none of it changes a byte of the output."""

from __future__ import annotations

import hashlib
import json
import sysconfig
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus import storage
from corpus.engine.context import RunContext
from corpus.records import Doc, docs_to_table
from corpus.stages import shards as shards_mod
from corpus.stages.shards import ShardsConfig, ShardsStage, slice_rows
from corpus.stages.shards_gather import RangeGather, range_gather

CFG = {"vocab_size": 600, "seq_len": 257, "rows_per_shard": 16, "range_tokens": 12_000, "eval_fraction": 0.05}
REQUESTS = ("parquet_file", "read_table", "open_read", "exists", "list_sizes", "atomic_write")


def _docs(n: int = 96) -> list[Doc]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(stdlib.glob("*.py"))[:n]
    return [Doc(source="github", domain="code", repo=f.stem, path=f.name, text=f.read_text()[:3000], language="Python")
            for f in files if f.read_text()[:3000].strip()]


def _inputs(folder: Path, docs: list[Doc], parts: int, weights: list[int] | None = None) -> list[str]:
    """docs spread over `parts` files (round robin, or in consecutive runs of the given weights)."""
    folder.mkdir(parents=True, exist_ok=True)
    if weights is None:
        groups = [docs[i::parts] for i in range(parts)]
    else:
        cut = [sum(weights[:i]) * len(docs) // sum(weights) for i in range(parts + 1)]
        groups = [docs[cut[i] : cut[i + 1]] for i in range(parts)]
    out = []
    for i, group in enumerate(groups):
        path = folder / f"in-{i:03d}.parquet"
        pq.write_table(docs_to_table(group), path)
        out.append(str(path))
    return out


class Requests:
    """Counts storage requests per task of the functions it wraps (tasks run in this process)."""

    def __init__(self, monkeypatch) -> None:
        self.current: str | None = None
        self.per_task: dict[str, list[Counter]] = {}
        for name in REQUESTS:
            real = getattr(storage, name)
            monkeypatch.setattr(storage, name, self._spy(name, real))

    def _spy(self, name, real):
        def call(*args, **kwargs):
            if self.current is not None:
                self.per_task[self.current][-1][name] += 1
            return real(*args, **kwargs)
        return call

    def wrap(self, monkeypatch, module, fn_name: str) -> None:
        real = getattr(module, fn_name)

        def task(*args):
            self.current = fn_name
            self.per_task.setdefault(fn_name, []).append(Counter())
            try:
                return real(*args)
            finally:
                self.current = None
        monkeypatch.setattr(module, fn_name, task)

    def max_per_task(self, fn_name: str) -> int:
        return max(sum(c.values()) for c in self.per_task[fn_name])


def _run(tmp: Path, inputs: list[str], **cfg) -> RunContext:
    ctx = RunContext(str(tmp / "out"), stage_name="shards", seed=11, stage_key="k")
    ShardsStage(ShardsConfig(**{**CFG, **cfg})).run(ctx, inputs).check("shards")
    return ctx


def _digest(ctx: RunContext) -> dict[str, str]:
    folder = ctx.stage_uri
    return {n: hashlib.sha256(storage.read_bytes(storage.join(folder, n))).hexdigest() for n in storage.listdir(folder)}


def _steps_size(ctx: RunContext) -> dict[str, int]:
    return {n: len(json.dumps(ctx.load_step(n))) for n in ("tokenizer", "encode", "mix", "pack")}


def test_pack_and_tree_tasks_make_requests_bounded_by_the_fan_in(tmp_path, monkeypatch) -> None:
    docs = _docs()
    reference = _run(tmp_path / "ref", _inputs(tmp_path / "ref_in", docs, 8))  # fan_in 256: no gather level
    runs = {}
    for parts in (8, 64):
        spy = Requests(monkeypatch)
        for name in ("pack_range", "gather_task", "merge_samples", "merge_summaries", "merge_pack_summaries",
                     "train_tokenizer", "write_manifest"):
            spy.wrap(monkeypatch, shards_mod, name)
        ctx = _run(tmp_path / f"p{parts}", _inputs(tmp_path / f"in{parts}", docs, parts), fan_in=4)
        monkeypatch.undo()
        runs[parts] = (ctx, spy)
    ranges = storage.read_json(storage.join(runs[8][0].stage_uri, "manifest.json"))["pack_ranges"]
    assert ranges["train"] >= 4  # several pack tasks
    for parts, (ctx, spy) in runs.items():
        assert _digest(ctx) == _digest(reference), parts  # the trees change no byte
        # A pack task opens its summary check, <= fan_in gathered files, the tokenizer, and writes shards
        # and its summary: the same bound at 8 and at 64 parts (it was one read per part).
        assert spy.per_task["gather_task"] and spy.per_task["merge_samples"] and spy.per_task["merge_summaries"]
        opens = [c["parquet_file"] for c in spy.per_task["pack_range"]]
        assert len(opens) == ranges["train"] + ranges["eval"] and max(opens) <= 4, (parts, opens)
        for fn in ("gather_task", "merge_samples", "merge_summaries", "merge_pack_summaries", "train_tokenizer", "write_manifest"):
            reads = [c["parquet_file"] + c["read_table"] + c["open_read"] for c in spy.per_task.get(fn, [])]
            assert not reads or max(reads) <= 4 + 2, (parts, fn, reads)  # <= fan_in inputs (+ tokenizer.json)
    # The gather tree ran at both counts (more levels at 64 parts); pack requests did not grow.
    gather = RangeGather("x", 64, ranges["train"] + ranges["eval"], 4)
    assert gather.levels == 2 and RangeGather("x", 8, 4, 4).levels == 1
    assert runs[64][1].max_per_task("pack_range") <= runs[8][1].max_per_task("pack_range") + 2
    # The driver's step records hold merged summaries and names of tree roots, not a row per part.
    small, large = _steps_size(runs[8][0]), _steps_size(runs[64][0])
    for step in small:
        assert large[step] <= small[step] * 1.1 + 64, (step, small[step], large[step])


def test_range_gather_covers_every_bucket_once() -> None:
    """Each level's intervals refine the previous ones, every task reads <= fan_in files, and the pack
    source of each bucket is inside the last level's interval holding it."""
    for maps, buckets, fan_in in ((1, 1, 2), (5, 3, 2), (64, 7, 4), (300, 1000, 16), (17, 2, 256)):
        g = RangeGather("root", maps, buckets, fan_in)
        for level in range(1, g.levels + 1):
            args = g.gather_args(level)
            assert len(args) == g.groups(level) * g.intervals(level)
            assert all(src.n_maps <= fan_in for src, _, _ in args)
            assert len({out for _, out, _ in args}) == len(args)  # distinct outputs
        covered = Counter()
        for level in range(g.levels + 1):
            covered.clear()
            for j in range(g.intervals(level)):
                lo, hi = g.interval_buckets(level, j)
                covered.update(range(lo, hi))
                assert all(g.interval_of(level, b) == j for b in range(lo, hi))
            assert covered == Counter(range(buckets))
        assert all(g.bucket_source(b).n_maps <= fan_in for b in range(buckets))


def test_big_parts_are_encoded_by_several_tasks_with_the_same_bytes(tmp_path, monkeypatch) -> None:
    docs = _docs(60)
    reference = _run(tmp_path / "one", _inputs(tmp_path / "one_in", docs, 1))
    calls = []
    real = shards_mod.encode_part
    monkeypatch.setattr(shards_mod, "encode_part", lambda *a: (calls.append(a), real(*a))[1])
    inputs = _inputs(tmp_path / "skew_in", docs, 4, weights=[12, 1, 1, 1])  # part 0 holds 80%
    ctx = _run(tmp_path / "skew", inputs)
    assert _digest(ctx) == _digest(reference)
    assert len(calls) > 4
    sizes = [storage.read_table(a[3]).slice(*_slice(a)).column("size").to_pylist() for a in calls]
    task_bytes = [sum(s) for s in sizes]
    assert max(task_bytes) <= 2 * sum(task_bytes) / len(task_bytes), task_bytes
    assert sum(len(s) for s in sizes) == len(docs)  # every row in exactly one slice


def _slice(args: tuple) -> tuple[int, int]:
    in_uri, index, n = args[3], args[4], args[5]
    first, end = slice_rows(storage.read_table(in_uri, columns=["size"]).column("size"), index, n)
    return first, end - first


@pytest.mark.parametrize("sizes,n", [([5, 5, 5, 5], 2), ([100, 1, 1, 1, 1], 3), ([0, 0, 0], 2), ([7], 4), ([], 2)])
def test_slices_partition_the_rows_in_order(sizes, n) -> None:
    bounds = [slice_rows(pa.array(sizes, pa.int64()), k, n) for k in range(n)]
    rows = [i for a, b in bounds for i in range(a, b)]
    assert rows == list(range(len(sizes)))


def test_small_runs_get_several_pack_ranges_from_the_tokens_alone() -> None:
    """min_ranges cuts a small split into several ranges of >= min_range_tokens (parallel pack tasks), from
    the token count and the config only; large splits keep range_tokens per range."""
    from tokenizer.shards import n_ranges_for

    assert n_ranges_for(10_600_000, 50_000_000, 16, 2_000_000) == 5  # the default run: 5 train pack tasks, not 1
    assert n_ranges_for(1_000_000, 50_000_000, 16, 2_000_000) == 1  # too small to cut
    assert n_ranges_for(10**9, 50_000_000, 16, 2_000_000) == 20  # range_tokens rules
    assert n_ranges_for(10**8, 50_000_000, 16, 2_000_000) == 16
    assert n_ranges_for(10_600_000, 50_000_000) == 1  # min_ranges 1: the rule before


def test_gather_only_when_files_or_pairs_are_many() -> None:
    """Few files and few ranges: pack reads the map files (the default run); many (file, range) pairs:
    one level of fan-in ~sqrt(files); more files than fan_in: always (the per-task bound)."""
    assert range_gather("r", 4, 6, 256).levels == 0
    g = range_gather("r", 52, 108, 256)
    assert (g.fan_in, g.levels, g.groups(1)) == (8, 1, 7)
    assert range_gather("r", 300, 2, 256).levels == 1
    assert range_gather("r", 940_000, 120_000, 256).levels == 2 and range_gather("r", 940_000, 120_000, 256).groups(2) == 15
