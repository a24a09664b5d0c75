"""Reader of the token shards (`OUT/shards/`, docs/contracts.md) and two resumable loaders.

`TrainLoader` (training): each epoch a seeded permutation of every window of every train row, dealt
to the data-parallel ranks without overlap. `ShardLoader` (eval): one shard at a time, in manifest
order. Both yield (inputs, targets) batches with the targets shifted by one. A shard row holds `seq_len` ids; with a shorter training `seq_len` L each row is
cut into (S-1)//(L-1) windows of L ids that overlap by one id, so every id is a target exactly once.
Targets on padding (the `n_pad` trailing ids of a row) are IGNORE. The cursor (epoch, shard, row,
window) is the position of the next window, which makes resuming exact.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

FORMAT = "coder-corpus-shards/2"
# /1 differs only in the eval files' names (eval-* instead of validation-*); shards are found through
# manifest paths, never by name, so older folders still train.
READABLE_FORMATS = (FORMAT, "coder-corpus-shards/1")
IGNORE = -100  # target id excluded from the loss (torch cross_entropy's default ignore_index)

log = logging.getLogger(__name__)


class ShardError(ValueError):
    """The manifest or the shards cannot be used for training."""


@dataclass
class ShardInfo:
    path: Path
    split: str
    rows: int


@dataclass
class Manifest:
    root: Path
    seq_len: int
    vocab_size: int
    special_tokens: dict[str, int]
    shards: list[ShardInfo]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def split(self, name: str) -> list[ShardInfo]:
        return [s for s in self.shards if s.split == name]


def read_manifest(shards_dir: str | Path) -> Manifest:
    """Parse and check `shards_dir/manifest.json`; raises ShardError with the reason when unusable."""
    root = Path(shards_dir)
    path = root / "manifest.json"
    if not path.is_file():
        raise ShardError(f"no manifest at {path} (run the corpus pipeline first, e.g. `make corpus`)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ShardError(f"cannot read {path}: {exc}") from exc
    if raw.get("format") not in READABLE_FORMATS:
        raise ShardError(f"{path}: format {raw.get('format')!r}, expected one of {READABLE_FORMATS!r}")
    try:
        seq_len, vocab = int(raw["seq_len"]), int(raw["vocab_size"])
        shards = [ShardInfo(root / s["path"], str(s.get("split", "train")), int(s.get("rows", 0)))
                  for s in raw["shards"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ShardError(f"{path}: missing or bad field ({exc})") from exc
    if seq_len < 2 or vocab < 1:
        raise ShardError(f"{path}: seq_len={seq_len} and vocab_size={vocab} cannot be trained on")
    specials = {k: int(v) for k, v in (raw.get("special_tokens") or {}).items()}
    return Manifest(root, seq_len, vocab, specials, shards, raw)


def load_shard(info: ShardInfo, seq_len: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows (n, seq_len) and n_pad (n,) of one shard; unusable rows are dropped with a warning.

    Rows keep the file's integer type (int32 per the contract) to halve the memory of a loaded shard."""
    empty = (np.zeros((0, seq_len), np.int32), np.zeros(0, np.int64))
    try:
        table = pq.read_table(info.path, columns=["input_ids", "n_pad"])
    except (OSError, ValueError, KeyError) as exc:  # missing file, not Parquet, missing column
        log.warning("skipping shard %s: %s", info.path, exc)
        return empty
    ids = table.column("input_ids")
    lengths = pc.fill_null(pc.list_value_length(ids), 0).to_numpy().astype(np.int64)
    values = pc.list_flatten(ids).to_numpy(zero_copy_only=False)
    n_pad = pc.fill_null(table.column("n_pad"), 0).to_numpy().astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    good = lengths == seq_len
    if not good.all():
        log.warning("shard %s: %d rows without exactly %d ids skipped", info.path, int((~good).sum()), seq_len)
    rows = values[starts[good, None] + np.arange(seq_len)] if good.any() else empty[0]
    n_pad = n_pad[good]
    in_vocab = ((rows >= 0) & (rows < vocab_size)).all(axis=1) & (n_pad >= 0) & (n_pad < seq_len)
    if not in_vocab.all():
        log.warning("shard %s: %d rows with ids outside [0, %d) or bad n_pad skipped",
                    info.path, int((~in_vocab).sum()), vocab_size)
    return rows[in_vocab], n_pad[in_vocab]


def make_batch(windows: list[tuple[np.ndarray, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) int64 from (window ids, number of valid ids) pairs; padding targets are IGNORE."""
    ids = torch.from_numpy(np.stack([w for w, _ in windows]).astype(np.int64))
    inputs, targets = ids[:, :-1].clone(), ids[:, 1:].clone()
    for i, (_, valid) in enumerate(windows):
        targets[i, valid - 1:] = IGNORE  # target j is id j+1: padding from index valid-1 on
    return inputs, targets


def cached_shard(info: ShardInfo, seq_len: int, vocab_size: int, cache_dir: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """`load_shard`, kept as .npy files in `cache_dir` and memory-mapped, so random row access over
    all shards costs no Parquet decoding and no RAM beyond the page cache. The cache key covers the
    file's path, size and mtime; writes go through a temporary name, so concurrent ranks are safe."""
    if cache_dir is None:
        return load_shard(info, seq_len, vocab_size)
    try:
        st = info.path.stat()
    except OSError:
        return load_shard(info, seq_len, vocab_size)  # warns and returns no rows
    key = hashlib.sha1(f"{info.path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{seq_len}\0{vocab_size}".encode()).hexdigest()[:16]
    ids_path, pad_path = cache_dir / f"{info.path.stem}-{key}.ids.npy", cache_dir / f"{info.path.stem}-{key}.pad.npy"
    if not (ids_path.exists() and pad_path.exists()):
        rows, n_pad = load_shard(info, seq_len, vocab_size)
        cache_dir.mkdir(parents=True, exist_ok=True)
        for path, arr in ((pad_path, n_pad), (ids_path, rows)):  # ids last: its presence marks completion
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as fh:
                np.save(fh, arr)
            os.replace(tmp, path)
    return np.load(ids_path, mmap_mode="r"), np.load(pad_path)


class TrainLoader:
    """Shuffled, rank-sharded, resumable batches of (inputs, targets), each (B, L-1) int64.

    The units are the windows of all train rows (row r of the concatenated shards, window w). Epoch e
    visits them in the order `permutation(seed, e)`; rank k of W takes positions k, k+W, k+2W, ... so
    ranks never share a unit, and W ranks with batch B together consume exactly the units that one
    process with batch W*B would. Each rank stops an epoch after floor(units / W) positions (the
    remainder, < W units, waits for the next epoch's order). The state (epoch, position) resumes exactly.
    """

    def __init__(self, manifest: Manifest, batch_size: int, seq_len: int | None = None, seed: int = 0,
                 rank: int = 0, world_size: int = 1, cache_dir: str | Path | None = None,
                 split: str = "train") -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.manifest, self.batch_size, self.seed = manifest, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.seq_len = seq_len or manifest.seq_len
        if not 2 <= self.seq_len <= manifest.seq_len:
            raise ShardError(f"seq_len {self.seq_len} must be in 2..{manifest.seq_len} (the shards' seq_len)")
        self.windows = (manifest.seq_len - 1) // (self.seq_len - 1)
        infos = manifest.split(split)
        if not infos:
            raise ShardError(f"manifest in {manifest.root} lists no {split!r} shards")
        cache = Path(cache_dir) if cache_dir is not None else None
        loaded = [cached_shard(i, manifest.seq_len, manifest.vocab_size, cache) for i in infos]
        self.rows = [r for r, _ in loaded]
        self.n_pad = [p for _, p in loaded]
        counts = np.array([len(r) for r in self.rows], np.int64)
        self.row_starts = np.concatenate(([0], np.cumsum(counts)))  # global row -> (shard, row)
        self.units = int(counts.sum()) * self.windows
        self.per_rank = self.units // world_size
        if self.per_rank == 0:
            raise ShardError(f"{self.units} training windows in {manifest.root} cannot feed {world_size} ranks")
        self.epoch = self.pos = 0
        self._order: tuple[int, np.ndarray] | None = None

    def order(self, epoch: int) -> np.ndarray:
        """This rank's units of `epoch`, in visiting order (the permutation depends only on seed and epoch)."""
        if self._order is None or self._order[0] != epoch:
            perm = np.random.default_rng([self.seed, epoch]).permutation(self.units)
            self._order = (epoch, perm[self.rank:self.per_rank * self.world_size:self.world_size])
        return self._order[1]

    def window(self, unit: int) -> tuple[np.ndarray, int]:
        """Window ids of a unit and the number of valid (non-pad) ids among them."""
        row, w = divmod(int(unit), self.windows)
        shard = int(np.searchsorted(self.row_starts, row, side="right")) - 1
        r = row - int(self.row_starts[shard])
        start = w * (self.seq_len - 1)
        valid = self.manifest.seq_len - int(self.n_pad[shard][r]) - start
        return np.asarray(self.rows[shard][r, start:start + self.seq_len]), min(valid, self.seq_len)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "pos": self.pos, "seed": self.seed, "rank": self.rank,
                "world_size": self.world_size, "seq_len": self.seq_len, "units": self.units}

    def load_state_dict(self, state: dict[str, int]) -> None:
        for key in ("seq_len", "world_size", "units", "seed"):
            if key in state and int(state[key]) != getattr(self, key):
                raise ShardError(f"loader state has {key}={state[key]}, this run has {getattr(self, key)}: "
                                 "resume with the same shards, seq_len, seed and number of processes")
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self

    def next_units(self) -> list[int]:
        """The units of the next batch, advancing the position (windows of padding only are skipped)."""
        units: list[int] = []
        skipped = 0
        while len(units) < self.batch_size:
            if self.pos >= self.per_rank:
                self.epoch, self.pos = self.epoch + 1, 0
            unit = int(self.order(self.epoch)[self.pos])
            self.pos += 1
            if self.window(unit)[1] >= 2:  # at least one real (input, target) pair
                units.append(unit)
            elif (skipped := skipped + 1) > self.per_rank:
                raise ShardError(f"no usable windows in the train shards of {self.manifest.root}")
        return units

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        return make_batch([self.window(u) for u in self.next_units()])


class ShardLoader:
    """Batches of (inputs, targets), each (B, L-1) int64, from the shards of one split in manifest order
    (eval; training uses `TrainLoader`, whose batches mix documents).

    `loop=True` cycles over epochs forever (training); `loop=False` stops after one pass (eval), the
    last batch possibly smaller.
    """

    def __init__(self, manifest: Manifest, split: str, batch_size: int, seq_len: int | None = None,
                 loop: bool = True) -> None:
        self.manifest, self.split, self.batch_size, self.loop = manifest, split, batch_size, loop
        self.seq_len = seq_len or manifest.seq_len
        if not 2 <= self.seq_len <= manifest.seq_len:
            raise ShardError(f"seq_len {self.seq_len} must be in 2..{manifest.seq_len} (the shards' seq_len)")
        self.windows = (manifest.seq_len - 1) // (self.seq_len - 1)
        self.shards = manifest.split(split)
        if not self.shards:
            raise ShardError(f"manifest in {manifest.root} lists no {split!r} shards")
        self.epoch = self.shard = self.row = self.window = 0
        self._cache: tuple[int, np.ndarray, np.ndarray] | None = None

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "shard": self.shard, "row": self.row, "window": self.window,
                "seq_len": self.seq_len}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state.get("seq_len", self.seq_len) != self.seq_len:
            raise ShardError(f"cursor was saved with seq_len {state['seq_len']}, loader uses {self.seq_len}")
        self.epoch, self.shard, self.row, self.window = (int(state[k]) for k in ("epoch", "shard", "row", "window"))
        self._cache = None

    def _rows(self) -> tuple[np.ndarray, np.ndarray]:
        if self._cache is None or self._cache[0] != self.shard:
            rows, n_pad = load_shard(self.shards[self.shard], self.manifest.seq_len, self.manifest.vocab_size)
            self._cache = (self.shard, rows, n_pad)
        return self._cache[1], self._cache[2]

    def _next_window(self) -> tuple[np.ndarray, int] | None:
        """The next (window ids, number of valid ids in it), advancing the cursor; None at the end."""
        empty_passes = 0
        while True:
            if self.shard >= len(self.shards):
                if not self.loop:
                    return None
                self.epoch, self.shard, self.row, self.window = self.epoch + 1, 0, 0, 0
                empty_passes += 1
                if empty_passes > 1:
                    raise ShardError(f"no usable rows in the {self.split!r} shards of {self.manifest.root}")
            rows, n_pad = self._rows()
            if self.row >= len(rows):
                self.shard, self.row, self.window = self.shard + 1, 0, 0
                continue
            empty_passes = 0
            start = self.window * (self.seq_len - 1)
            ids = rows[self.row, start:start + self.seq_len]
            valid = self.manifest.seq_len - int(n_pad[self.row]) - start
            self.window += 1
            if self.window >= self.windows:
                self.row, self.window = self.row + 1, 0
            if valid >= 2:  # at least one real (input, target) pair
                return ids, min(valid, self.seq_len)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        windows = []
        while len(windows) < self.batch_size:
            item = self._next_window()
            if item is None:
                break
            windows.append(item)
        if not windows:
            raise StopIteration
        return make_batch(windows)
