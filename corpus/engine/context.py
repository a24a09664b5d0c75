"""What a stage sees of the run: where to write, the seed, and a runner to spread work over.

Stages use only this (and corpus.storage for bytes): no Ray, no engine. Every location is a storage URI
inside the run's output, so the same stage runs on a local folder and on `s3://`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from corpus import storage
from corpus.engine.runner import InProcessRunner, Runner, Shared, largest_first
from corpus.layout import REPORTS_DIR, SCRATCH_DIR, STEPS_DIR


@dataclass
class RunContext:
    out_uri: str
    stage_name: str = ""
    runner: Runner = field(default_factory=InProcessRunner)
    seed: int = 1234
    stage_key: str = ""  # identity of this stage's computation: saved steps are trusted only under it
    extras: dict[str, Any] = field(default_factory=dict)
    resume: bool = False  # --resume: work committed by a killed run may be reused (checked per part only then)
    # Bytes of the input parts as the stage before committed them (its _SUCCESS.json `part_bytes`):
    # part_sizes answers from here, without listing the input folder.
    known_sizes: dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------------------------ locations
    @property
    def stage_uri(self) -> str:
        """The stage's output folder: parts, `_dropped/`, `_SUCCESS.json`."""
        return storage.join(self.out_uri, self.stage_name)

    @property
    def scratch_uri(self) -> str:
        """Scratch data of this stage (`OUT/_tmp/<stage>`), deleted once the stage commits."""
        return storage.join(self.out_uri, SCRATCH_DIR, self.stage_name)

    @property
    def reports_uri(self) -> str:
        return storage.join(self.out_uri, REPORTS_DIR)

    def scratch(self, *names: str) -> str:
        return storage.join(self.scratch_uri, *names)

    # ------------------------------------------------------------------------------- running
    def map(self, fn: Callable[..., Any], arg_list: Iterable[tuple], *, num_cpus: float = 1.0,
            memory_mb: int | None = None, desc: str = "", costs: Sequence[float] | None = None,
            count: Callable[[Any], int] | None = None, sink: Callable[[int, Any], None] | None = None) -> list[Any]:
        """fn(*args) for every args as retry-safe tasks; results in input order. With `costs` (one per
        task, e.g. its input bytes: `part_sizes`) the costliest tasks start first. `desc` names the
        step (`stage:step`) in progress and the CPU profile; `count(result)`, the records a task
        stood for, adds records/s to the progress. `sink(i, result)`: results folded as they arrive,
        not kept (see Runner.map)."""
        order = largest_first(costs) if costs is not None else None
        return self.runner.map(fn, arg_list, num_cpus=num_cpus, memory_mb=memory_mb, desc=desc or self.stage_name,
                               order=order, count=count, sink=sink)

    def part_sizes(self, uris: Sequence[str]) -> list[int]:
        """Bytes of each file: from what the stage before committed when it names them all, else one
        listing per folder (not a request per file; -1 when missing)."""
        uris = list(uris)
        if uris and all(u in self.known_sizes for u in uris):
            return [self.known_sizes[u] for u in uris]
        return storage.sizes_of(uris)

    def share(self, obj: Any) -> Shared:
        """A handle to pass as a top-level task argument; the task receives obj (sent once)."""
        return self.runner.share(obj)

    # ---------------------------------------------------------------------------- step resume
    def _step_uri(self, name: str) -> str:
        return storage.join(self.stage_uri, STEPS_DIR, f"{name}.json")

    def load_step(self, name: str) -> Any | None:
        """What `save_step(name, ...)` recorded in an earlier (killed) run of this same computation, or
        None. A global stage calls it before each step and skips the step when it gets a value."""
        uri = self._step_uri(name)
        if not storage.exists(uri):
            return None
        record = storage.read_json(uri)
        return record["data"] if record.get("key") == self.stage_key else None

    def save_step(self, name: str, data: Any) -> None:
        """Commit a finished step (its outputs must already be written). `data` must be JSON and small:
        O(parts), never O(documents)."""
        storage.write_json(self._step_uri(name), {"key": self.stage_key, "data": data})
