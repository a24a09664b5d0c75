"""Fill-in-the-middle at document level, before packing (DeepSeek-Coder-V2 §3.1: PSM, rate 0.5).

Split points are drawn at *character* level (Python code points, never inside a UTF-8 sequence): two
positions uniform in [0, len(text)], sorted (Bavarian et al. 2022). The pieces are tokenized separately and
joined with sentinel *ids*, never by tokenizing sentinel strings, so text can't fake a sentinel.

PSM: <｜fim▁begin｜> prefix <｜fim▁hole｜> suffix <｜fim▁end｜> middle <｜end▁of▁sentence｜>
SPM: <｜fim▁begin｜> <｜fim▁hole｜> suffix <｜fim▁end｜> prefix middle <｜end▁of▁sentence｜>
(SPM is the "SPM" variant of Bavarian et al. with DeepSeek's sentinels; DeepSeek itself uses only PSM.)
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .bpe import EOS, FIM_BEGIN, FIM_END, FIM_HOLE, SpecialIds

FimMode = Literal["psm", "spm"]


@dataclass(frozen=True)
class FimConfig:
    """The FIM settings of a ShardConfig (`cfg.fim`; validated there): what `materialize` draws and the
    manifest's `fim` section."""

    rate: float = 0.5
    mode: FimMode = "psm"
    # With mode "psm": share of FIM documents that use SPM instead (0 = DeepSeek). Mode "spm": all SPM.
    spm_rate: float = 0.0
    domains: tuple[str, ...] = ("code",)

    def manifest(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "mode": self.mode,
            "spm_rate": 1.0 if self.mode == "spm" else self.spm_rate,
            "domains": list(self.domains),
            "split": "character",
        }


@dataclass(frozen=True)
class FimResult:
    """A document cut into prefix/middle/suffix. When not applied, the whole text is in `prefix`."""

    mode: FimMode | None
    prefix: str
    middle: str
    suffix: str

    @property
    def applied(self) -> bool:
        return self.mode is not None

    def to_text(self) -> str:
        """The training string with sentinel strings (for docs and tests; training uses ids)."""
        if self.mode == "psm":
            return f"{FIM_BEGIN}{self.prefix}{FIM_HOLE}{self.suffix}{FIM_END}{self.middle}{EOS}"
        if self.mode == "spm":
            return f"{FIM_BEGIN}{FIM_HOLE}{self.suffix}{FIM_END}{self.prefix}{self.middle}{EOS}"
        return self.prefix + EOS


class _Rng(Protocol):
    def random(self) -> float: ...


def _uniform_int(rng: Any, high: int) -> int:
    """Uniform integer in [0, high] for random.Random or numpy Generator."""
    if hasattr(rng, "integers"):
        return int(rng.integers(0, high + 1))
    return rng.randint(0, high)


def apply_fim(text: str, rng: _Rng, rate: float = 0.5, mode: FimMode = "psm", spm_rate: float = 0.0) -> FimResult:
    """With probability `rate`, cut `text` at two uniform character positions."""
    if not text or rng.random() >= rate:
        return FimResult(None, text, "", "")
    n = len(text)
    a, b = sorted((_uniform_int(rng, n), _uniform_int(rng, n)))
    chosen: FimMode = mode
    if mode == "psm" and spm_rate > 0.0 and rng.random() < spm_rate:
        chosen = "spm"
    return FimResult(chosen, text[:a], text[a:b], text[b:])


def undo_fim(result: FimResult) -> str:
    return result.prefix + result.middle + result.suffix


def doc_rng(seed: int, doc_id: str, rep: int = 0, purpose: str = "fim") -> random.Random:
    """An RNG owned by one document copy: decisions never depend on batching or worker count."""
    digest = hashlib.blake2b(f"{seed}\0{purpose}\0{doc_id}\0{rep}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "little"))


def fim_ids(result: FimResult, pieces: Sequence[Sequence[int]], specials: SpecialIds) -> list[int]:
    """Assemble ids from the encoded pieces: [text] if not applied, else [prefix, middle, suffix]."""
    if result.mode is None:
        return [*pieces[0], specials.eos]
    pre, mid, suf = pieces
    if result.mode == "psm":
        return [specials.fim_begin, *pre, specials.fim_hole, *suf, specials.fim_end, *mid, specials.eos]
    return [specials.fim_begin, specials.fim_hole, *suf, specials.fim_end, *pre, *mid, specials.eos]


def undo_fim_ids(ids: Sequence[int], specials: SpecialIds, decode: Callable[[list[int]], str]) -> str:
    """Recover the original document text from one document's ids (optionally starting with BOS)."""
    ids = list(ids)
    if ids and ids[0] == specials.bos:
        ids = ids[1:]
    if not ids or ids[-1] != specials.eos:
        raise ValueError("document ids must end with EOS")
    ids = ids[:-1]
    if not ids or ids[0] != specials.fim_begin:
        return decode(ids)
    hole = ids.index(specials.fim_hole)
    end = ids.index(specials.fim_end)
    if hole == 1:  # SPM: begin, hole, suffix, end, prefix+middle
        return decode(ids[end + 1 :]) + decode(ids[hole + 1 : end])
    return decode(ids[1:hole]) + decode(ids[end + 1 :]) + decode(ids[hole + 1 : end])
