"""Dedup building blocks: keys, collisions, clusters. The end-to-end test runs them on Ray."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq

from corpus.records import Doc, docs_to_table
from corpus.stages.dedup import collide_bucket, duplicates_from_edges, exact_keys, minhash_band_keys


def _write(tmp_path, name, table):
    path = tmp_path / name
    pq.write_table(table.drop_columns(["bucket"]), path)
    return str(path)


def test_exact_duplicates_keep_the_first_in_part_row_order(tmp_path) -> None:
    a = docs_to_table([Doc(source="s", domain="code", repo="r", path=p, text=t) for p, t in [("1", "same"), ("2", "other"), ("3", "same")]])
    b = docs_to_table([Doc(source="s", domain="code", repo="q", path="4", text="same")])
    files = [_write(tmp_path, "a.parquet", exact_keys(a, 0, 1)), _write(tmp_path, "b.parquet", exact_keys(b, 1, 1))]
    dups = duplicates_from_edges(collide_bucket(files))
    assert dups == {2: 0, (1 << 32) | 0: 0}


def test_union_find_joins_chains_into_one_cluster() -> None:
    edges = np.array([[5, 9], [1, 5], [20, 30]], dtype=np.int64)
    assert duplicates_from_edges(edges) == {5: 1, 9: 1, 30: 20}


def _near_table(texts):
    return docs_to_table([Doc(source="s", domain="code", repo=None, path=str(i), text=t) for i, t in enumerate(texts)])


def test_minhash_lsh_finds_near_duplicates_not_distinct_files(tmp_path) -> None:
    words = [f"token{i}" for i in range(400)]
    base = " ".join(words)
    near = " ".join(words[:390] + ["changed"] * 10)  # ~95% Jaccard on 5-grams
    other = " ".join(reversed(words))
    table = _near_table([base, near, other])
    files = [_write(tmp_path, "k.parquet", minhash_band_keys(table, 0, 1, num_perm=256, bands=32, ngram=5, seed=1))]
    assert duplicates_from_edges(collide_bucket(files)) == {1: 0}


def test_keys_do_not_depend_on_bucket_count() -> None:
    table = _near_table(["alpha beta gamma delta epsilon zeta eta theta"] * 2)
    k1 = minhash_band_keys(table, 3, 1, 64, 8, 3, 7).column("key").to_pylist()
    k4 = minhash_band_keys(table, 3, 4, 64, 8, 3, 7).column("key").to_pylist()
    assert k1 == k4
