"""The file shuffle: one file per map task, buckets from the data size, the same groups at any bucket count."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus.engine.context import RunContext
from corpus.engine.runner import InProcessRunner
from corpus.ops import shuffle as sh


def _inputs(tmp_path, n_parts: int, rows: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    uris = []
    for p in range(n_parts):
        keys = rng.integers(0, 500, size=rows)
        uri = str(tmp_path / f"in-{p}.parquet")
        pq.write_table(pa.table({"key": keys, "row": np.arange(rows), "part": np.full(rows, p)}), uri)
        uris.append(uri)
    return uris


def _route_by_key(table: pa.Table, part: int) -> pa.Table:
    return table.append_column(sh.ROUTE, pa.array(sh.hash_route(table.column("key").to_numpy())))


def _groups(shuffled: sh.Shuffled) -> tuple[dict[int, list[tuple[int, int]]], int]:
    """{key: [(part, row)...]} gathered bucket by bucket, and the number of buckets a key was seen in."""
    seen: dict[int, int] = {}
    out: dict[int, list[tuple[int, int]]] = {}
    for b in range(shuffled.n_buckets):
        t = sh.read_bucket(shuffled.bucket(b))
        assert sh.ROUTE not in t.column_names
        for k in set(t.column("key").to_pylist()):
            seen[k] = seen.get(k, 0) + 1
        for k, p, r in zip(*(t.column(c).to_pylist() for c in ("key", "part", "row"))):
            out.setdefault(k, []).append((p, r))
    return out, max(seen.values())


@pytest.mark.parametrize("target", [1 << 40, 40_000, 3_000])
def test_every_row_lands_once_in_its_keys_bucket_whatever_the_bucket_count(tmp_path, target) -> None:
    inputs = _inputs(tmp_path, 5, 4000)
    ctx = RunContext(out_uri=str(tmp_path / "out"), stage_name="t", runner=InProcessRunner())
    shuffled = sh.shuffle(ctx, inputs, _route_by_key, None, "s", target_bytes=target)
    # one file per map task, never parts x buckets
    assert sorted(os.listdir(ctx.scratch("s"))) == [f"map-{i:05d}.parquet" for i in range(5)]
    assert shuffled.n_buckets == (1 if target > 1e9 else 2 ** int(np.ceil(np.log2(shuffled.bytes / target))))
    groups, buckets_per_key = _groups(shuffled)
    assert buckets_per_key == 1
    expected: dict[int, list[tuple[int, int]]] = {}
    for p, uri in enumerate(inputs):
        for k, r in zip(*(pq.read_table(uri).column(c).to_pylist() for c in ("key", "row"))):
            expected.setdefault(k, []).append((p, r))
    # same groups, and rows of a group in (map, row) order
    assert groups == expected
    assert shuffled.rows == 5 * 4000


def test_map_files_are_cut_into_slot_row_groups_and_buckets_read_only_theirs(tmp_path) -> None:
    n = 200_000
    route = sh.hash_route(np.arange(n))
    table = pa.table({"v": np.arange(n), sh.ROUTE: route})
    uri = str(tmp_path / "map-00000.parquet")
    stats = sh.write_map_file(table, uri)
    pf = pq.ParquetFile(uri)
    bits = int(np.log2(stats["bytes"] / sh.MIN_SLOT_BYTES))
    assert pf.metadata.num_row_groups == 2**bits  # uniform routes fill every slot
    shuffled = sh.Shuffled(str(tmp_path), 1, n, stats["bytes"], bits + 2)  # buckets finer than the file's slots
    total = 0
    for b in range(shuffled.n_buckets):
        got = sh.read_bucket(shuffled.bucket(b)).column("v").to_numpy()
        assert np.all((route[got] >> np.uint64(64 - shuffled.bits)) == b)
        total += len(got)
    assert total == n


def test_part_routes_give_each_part_its_own_range(tmp_path) -> None:
    n_parts = 7
    refs = np.array([(p << 32) | r for p in range(n_parts) for r in range(50)], dtype=np.int64)
    rng = np.random.default_rng(1)
    refs = refs[rng.permutation(len(refs))]
    for i, chunk in enumerate(np.array_split(refs, 3)):
        sh.write_map_file(pa.table({"ref": chunk, sh.ROUTE: sh.part_route(chunk, n_parts)}), sh.map_file(str(tmp_path), i))
    shuffled = sh.Shuffled(str(tmp_path), 3, len(refs), 0, 0)
    for p in range(n_parts):
        got = sh.read_bucket(shuffled.part(p, n_parts)).column("ref").to_numpy()
        assert sorted((got & 0xFFFFFFFF).tolist()) == list(range(50)) and set((got >> 32).tolist()) == {p}


def test_a_map_written_before_a_crash_is_not_recomputed(tmp_path, monkeypatch) -> None:
    inputs = _inputs(tmp_path, 3, 100)
    ctx = RunContext(out_uri=str(tmp_path / "out"), stage_name="t", runner=InProcessRunner())
    first = sh.shuffle(ctx, inputs, _route_by_key, None, "s")
    calls = []

    def counting(table: pa.Table, part: int) -> pa.Table:
        calls.append(part)
        return _route_by_key(table, part)

    os.unlink(sh.map_file(ctx.scratch("s"), 1))
    again = sh.shuffle(ctx, inputs, counting, None, "s")
    assert calls == [1] and again == first


def test_empty_maps_and_plain_file_lists(tmp_path) -> None:
    ctx = RunContext(out_uri=str(tmp_path / "out"), stage_name="t", runner=InProcessRunner())
    uri = str(tmp_path / "e.parquet")
    pq.write_table(pa.table({"key": pa.array([], pa.int64())}), uri)
    shuffled = sh.shuffle(ctx, [uri], _route_by_key, None, "s")
    assert shuffled.n_buckets == 1 and sh.read_bucket(shuffled.bucket(0)).column_names == ["key"]
    assert sh.read_bucket([uri, uri]).num_rows == 0


@pytest.mark.parametrize("target", [1 << 40, 20_000])
def test_combined_map_files_give_the_same_buckets_in_the_same_order(tmp_path, monkeypatch, target) -> None:
    """Past COMBINE_MIN_MAPS map files, reducers read combined files: every bucket and every part range
    holds exactly the rows, in exactly the order, the map files themselves give."""
    monkeypatch.setattr(sh, "COMBINE_MIN_MAPS", 4)
    monkeypatch.setattr(sh, "COMBINE_MAX_MAPS", 3)
    inputs = _inputs(tmp_path, 11, 700, seed=3)
    ctx = RunContext(out_uri=str(tmp_path / "out"), stage_name="t", runner=InProcessRunner())
    combined = sh.shuffle(ctx, inputs, _route_by_key, None, "s", target_bytes=target)
    assert combined.kind == "comb" and combined.n_maps == 4  # 11 maps in groups of <= 3
    assert sorted(f for f in os.listdir(ctx.scratch("s")) if f.startswith("comb-")) == [f"comb-{i:05d}.parquet" for i in range(4)]
    plain = sh.Shuffled(combined.folder, 11, combined.rows, combined.bytes, combined.bits)  # the map files themselves
    for b in range(combined.n_buckets):
        assert sh.read_bucket(combined.bucket(b)).equals(sh.read_bucket(plain.bucket(b)))
        assert sh.read_bucket(combined.bucket(b), ["row", "key"]).equals(sh.read_bucket(plain.bucket(b), ["row", "key"]))
    for part in range(3):
        assert sh.read_bucket(combined.part(part, 3)).equals(sh.read_bucket(plain.part(part, 3)))
    assert sh.Shuffled.from_json(combined.to_json()) == combined


def test_combine_groups_respect_bytes_and_counts() -> None:
    assert sh.combine_groups([5, 5, 5, 5, 5], max_bytes=10, max_maps=10) == [(0, 2), (2, 4), (4, 5)]
    assert sh.combine_groups([1] * 7, max_bytes=100, max_maps=3) == [(0, 3), (3, 6), (6, 7)]
    assert sh.combine_groups([50, 1], max_bytes=10, max_maps=10) == [(0, 1), (1, 2)]  # one big map alone
    assert sh.combine_groups([]) == []


def test_combine_repeats_until_no_task_reads_more_than_its_share(tmp_path, monkeypatch) -> None:
    """11 maps, at most 2 files per combine task and per reducer: levels comb (6 files), comb1 (3),
    comb2 (2); every bucket and part range still holds the map files' rows in their order."""
    monkeypatch.setattr(sh, "COMBINE_MIN_MAPS", 2)
    monkeypatch.setattr(sh, "COMBINE_MAX_MAPS", 2)
    inputs = _inputs(tmp_path, 11, 700, seed=4)
    runner = InProcessRunner()
    ctx = RunContext(out_uri=str(tmp_path / "out"), stage_name="t", runner=runner)
    combined = sh.shuffle(ctx, inputs, _route_by_key, None, "s", target_bytes=20_000)
    assert (combined.kind, combined.n_maps) == ("comb2", 2)
    assert [runner.requests_by_step[f"t:s:combine{s}"]["tasks"] for s in ("", "-1", "-2")] == [6, 3, 2]
    assert max(runner.requests_by_step[f"t:s:combine{s}"]["by_kind"]["opens"] / runner.requests_by_step[f"t:s:combine{s}"]["tasks"]
               for s in ("", "-1", "-2")) <= 2
    plain = sh.Shuffled(combined.folder, 11, combined.rows, combined.bytes, combined.bits)
    for b in range(combined.n_buckets):
        assert sh.read_bucket(combined.bucket(b)).equals(sh.read_bucket(plain.bucket(b)))
    for part in range(3):
        assert sh.read_bucket(combined.part(part, 3)).equals(sh.read_bucket(plain.part(part, 3)))
