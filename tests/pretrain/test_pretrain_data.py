"""The training loader: a seeded permutation per epoch, ranks without overlap, exact resume, and batches
that mix documents (measured on real Python source packed the way the shards stage packs it)."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import torch

from pretrain.data import ShardError, ShardLoader, TrainLoader, read_manifest
from tests.pretrain.test_pretrain_train import pattern_rows, write_shards

SEQ = 257  # shard rows; windows of 65 ids -> 4 per row


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("loader") / "shards"
    return write_shards(root, pattern_rows(37, SEQ, 128), SEQ, 128, rows_per_shard=8, n_pad_last=0)


def all_units(loader: TrainLoader, batches: int) -> list[int]:
    return [u for _ in range(batches) for u in loader.next_units()]


def test_every_window_once_per_epoch_in_a_new_order(shards: Path) -> None:
    m = read_manifest(shards)
    loader = TrainLoader(m, batch_size=4, seq_len=65, seed=7)
    assert loader.units == 32 * 4  # 4 train shards of 8 rows (the 5th is eval), 4 windows each
    epoch0 = all_units(loader, 32)
    epoch1 = all_units(loader, 32)
    assert sorted(epoch0) == sorted(epoch1) == list(range(loader.units))
    assert epoch0 != epoch1 and loader.epoch == 1
    # Every target id of every train row is seen once per epoch: compare with the rows in file order.
    seen = torch.cat([torch.from_numpy(loader.window(u)[0][1:].astype(np.int64)) for u in sorted(epoch0)])
    rows = torch.cat([t.flatten() for _, t in ShardLoader(m, "train", batch_size=4, seq_len=65, loop=False)])
    assert torch.equal(seen, rows)
    assert TrainLoader(m, 4, 65, seed=7).order(0).tolist() == TrainLoader(m, 4, 65, seed=7).order(0).tolist()
    assert TrainLoader(m, 4, 65, seed=8).order(0).tolist() != epoch0


@pytest.mark.parametrize("world", [2, 3])
def test_ranks_never_share_a_window(shards: Path, world: int) -> None:
    m = read_manifest(shards)
    loaders = [TrainLoader(m, batch_size=2, seq_len=65, seed=1, rank=r, world_size=world) for r in range(world)]
    per_rank = [all_units(lo, lo.per_rank // 2) for lo in loaders]
    flat = [u for units in per_rank for u in units]
    assert len(flat) == len(set(flat)) == (128 // world) * world  # at most world-1 units wait an epoch
    # and the batches differ in content, not only in index
    first = [next(TrainLoader(m, 2, 65, seed=1, rank=r, world_size=world))[0] for r in range(world)]
    assert not torch.equal(first[0], first[1])


def test_resume_mid_epoch_and_across_epochs_is_exact(shards: Path) -> None:
    m = read_manifest(shards)
    a = TrainLoader(m, batch_size=5, seq_len=65, seed=3, rank=1, world_size=2)
    for _ in range(9):
        next(a)
    b = TrainLoader(m, batch_size=5, seq_len=65, seed=3, rank=1, world_size=2)
    b.load_state_dict(a.state_dict())
    for _ in range(20):  # 64 units per rank: crosses two epoch boundaries
        xa, ya = next(a)
        xb, yb = next(b)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert a.epoch >= 2
    with pytest.raises(ShardError, match="world_size"):
        TrainLoader(m, 5, 65, seed=3, rank=0, world_size=3).load_state_dict(a.state_dict())


def test_padding_windows_are_skipped_and_padding_ignored(tmp_path: Path) -> None:
    root = write_shards(tmp_path / "s", pattern_rows(5, SEQ, 128), SEQ, 128, rows_per_shard=5, eval_shards=0,
                        n_pad_last=200)  # the last row: 57 real ids -> window 0 partly padded, 1-3 all pad
    loader = TrainLoader(read_manifest(root), batch_size=17, seq_len=65, seed=0)
    assert loader.units == 20
    inputs, targets = next(loader)  # 17 usable windows = 4 rows x 4 + 1 partial
    assert inputs.shape == (17, 64)
    assert int((targets == -100).sum()) == 64 - 56  # 57 ids give 56 (input, target) pairs


def test_row_cache_is_memory_mapped_and_equal(shards: Path, tmp_path: Path) -> None:
    m = read_manifest(shards)
    plain = TrainLoader(m, 4, 65, seed=2)
    cached = TrainLoader(m, 4, 65, seed=2, cache_dir=tmp_path / "cache")
    again = TrainLoader(m, 4, 65, seed=2, cache_dir=tmp_path / "cache")  # reads the .npy files
    assert isinstance(again.rows[0], np.memmap) and len(list((tmp_path / "cache").glob("*.npy"))) == 8
    for _ in range(5):
        x, y = next(plain)
        for other in (cached, again):
            xo, yo = next(other)
            assert torch.equal(x, xo) and torch.equal(y, yo)


def test_batches_of_32_draw_from_many_documents(tmp_path: Path) -> None:
    """Real documents (the top-level `*.py` files of the standard library, UTF-8 bytes as ids so no tokenizer is
    trained here) packed back to back into 4097-id rows, as the shards stage packs, cut into the
    `tiny` preset's 129-id windows. The old loader (file order) drew a median of 1 document per
    32-window batch; the shuffled loader: median 26 here (Python 3.11: 168 files, 1146 rows; the
    misses are repeats of the largest files, which hold most windows, so more documents give more)."""
    import collections

    stdlib = Path(inspect.getfile(collections)).parent.parent
    files = sorted(stdlib.glob("*.py"))
    parts = [np.concatenate(([0], np.frombuffer(f.read_bytes(), np.uint8), [1])) for f in files]
    stream = np.concatenate(parts)
    doc_of = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
    seq = 4097
    n = len(stream) // seq
    rows = list(stream[:n * seq].reshape(n, seq))
    docs = doc_of[:n * seq].reshape(n, seq)
    root = write_shards(tmp_path / "docs", rows, seq, 261, rows_per_shard=max(1, n // 4), eval_shards=0)
    m = read_manifest(root)

    def distinct(units: list[int], windows: int) -> int:
        return len({int(x) for u in units for x in docs[u // windows, (u % windows) * 128:(u % windows) * 128 + 129]})

    shuffled = TrainLoader(m, batch_size=32, seq_len=129, seed=1234)
    new = [distinct(shuffled.next_units(), shuffled.windows) for _ in range(30)]
    old = [distinct(list(range(b * 32, b * 32 + 32)), shuffled.windows) for b in range(30)]  # file order
    print(f"documents per 32-window batch: shuffled median {np.median(new)}, file order median {np.median(old)}; "
          f"{len(parts)} documents, {n} rows")
    assert np.median(old) <= 2
    assert np.median(new) >= 20
