"""Per-stage record accounting: every record that enters a stage is either kept or dropped for a reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


class StatsMismatch(RuntimeError):
    """A stage lost or invented records: in != kept + dropped."""


@dataclass
class StageStats:
    in_records: int = 0
    in_bytes: int = 0
    kept: int = 0
    kept_bytes: int = 0
    # Records written. Equals `kept` for 1:1 stages; differs for stages that group (repo samples) or pack.
    out_records: int = 0
    dropped: Counter = field(default_factory=Counter)
    dropped_bytes: Counter = field(default_factory=Counter)
    # Named counts a stage reports beside its accounting (the redact stage: findings replaced, by kind).
    counts: Counter = field(default_factory=Counter)

    def add_in(self, n: int, nbytes: int) -> None:
        self.in_records += n
        self.in_bytes += nbytes

    def add_kept(self, n: int, nbytes: int, out: int | None = None) -> None:
        self.kept += n
        self.kept_bytes += nbytes
        self.out_records += n if out is None else out

    def add_dropped(self, reason: str, n: int = 1, nbytes: int = 0) -> None:
        self.dropped[reason] += n
        self.dropped_bytes[reason] += nbytes

    def add_drop_rows(self, dropped: Any) -> None:
        """Count a table of records.DROP_SCHEMA rows, by reason."""
        if not dropped.num_rows:
            return
        for reason, size in zip(dropped.column("reason").to_pylist(), dropped.column("size").to_pylist()):
            self.add_dropped(reason, 1, size or 0)

    def merge(self, other: StageStats) -> StageStats:
        self.in_records += other.in_records
        self.in_bytes += other.in_bytes
        self.kept += other.kept
        self.kept_bytes += other.kept_bytes
        self.out_records += other.out_records
        self.dropped.update(other.dropped)
        self.dropped_bytes.update(other.dropped_bytes)
        self.counts.update(other.counts)
        return self

    def check(self, stage: str) -> None:
        dropped = sum(self.dropped.values())
        if self.in_records != self.kept + dropped:
            raise StatsMismatch(
                f"stage {stage!r}: in={self.in_records} but kept={self.kept} + dropped={dropped} "
                f"({dict(self.dropped)}) = {self.kept + dropped}"
            )

    def to_json(self) -> dict[str, Any]:
        return ({"counts": dict(sorted(self.counts.items()))} if self.counts else {}) | {
            "in": self.in_records,
            "kept": self.kept,
            "dropped": dict(sorted(self.dropped.items())),
            "out": self.out_records,
            "bytes": {
                "in": self.in_bytes,
                "kept": self.kept_bytes,
                "dropped": dict(sorted(self.dropped_bytes.items())),
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StageStats:
        b = data.get("bytes", {})
        return cls(
            in_records=data["in"],
            in_bytes=b.get("in", 0),
            kept=data["kept"],
            kept_bytes=b.get("kept", 0),
            out_records=data.get("out", data["kept"]),
            dropped=Counter(data.get("dropped", {})),
            dropped_bytes=Counter(b.get("dropped", {})),
            counts=Counter(data.get("counts", {})),
        )
