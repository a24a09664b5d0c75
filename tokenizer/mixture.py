"""Corpus mixture: sample domains to target token shares (DeepSeek-Coder-V2: 60% code, 10% math, 30% text).

Each domain gets a rate r = wanted tokens / available tokens. A document of that domain is kept
floor(r) times plus once more with probability frac(r), decided by a hash of (seed, doc id), so the choice
is per document, reproducible and independent of partitioning. Rates are capped at `max_repeat`.

Two policies (`keep_shares`):
- False (default): never discard data. The total is the smallest one at which no domain needs a rate
  below 1 (the dominant domain sets it); scarce domains are up-sampled towards their share, at most
  `max_repeat` times, and fall short of it when the cap binds (reported, and warned by the caller).
  Domains in the data but absent from the target are kept once and reported as `untargeted`.
- "strict" (or True): hold the shares; the total shrinks so capped domains still get their share, which
  down-samples the dominant domain. Untargeted domains are dropped.
Targeted domains without data are reported as `missing` and the other targets renormalised.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEEPSEEK_CODER_V2_MIXTURE: dict[str, float] = {"code": 0.6, "math": 0.1, "text": 0.3}


@dataclass
class MixturePlan:
    target: dict[str, float]
    available: dict[str, int]
    rates: dict[str, float]
    total_tokens: float
    missing: list[str] = field(default_factory=list)
    untargeted: list[str] = field(default_factory=list)
    capped: list[str] = field(default_factory=list)

    def copies(self, seed: int, doc_id: str, domain: str) -> int:
        """How many times this document goes into the train stream (0 = dropped)."""
        rate = self.rates.get(domain, 0.0)
        whole = math.floor(rate)
        frac = rate - whole
        if frac > 0.0:
            digest = hashlib.blake2b(f"{seed}\0mix\0{doc_id}".encode(), digest_size=8).digest()
            if int.from_bytes(digest, "little") / 2.0**64 < frac:
                whole += 1
        return whole

    def report(self, achieved_tokens: Mapping[str, int]) -> dict[str, Any]:
        total = sum(achieved_tokens.values())
        achieved = {d: (round(achieved_tokens.get(d, 0) / total, 6) if total else 0.0) for d in self.target}
        for d, n in sorted(achieved_tokens.items()):
            if d not in achieved and n:
                achieved[d] = round(n / total, 6)
        return {
            "target": dict(self.target),
            "achieved": achieved,
            # Sorted keys: the report must not depend on the order partitions were counted in.
            "available_tokens": dict(sorted(self.available.items())),
            "achieved_tokens": dict(sorted(achieved_tokens.items())),
            "rates": {d: round(r, 6) for d, r in sorted(self.rates.items())},
            "missing": list(self.missing),
            "untargeted": list(self.untargeted),
            "capped": list(self.capped),
        }


def plan_mixture(
    available: Mapping[str, int],
    target: Mapping[str, float] = DEEPSEEK_CODER_V2_MIXTURE,
    *,
    total_tokens: int | None = None,
    max_repeat: float = 4.0,
    keep_shares: bool | str = False,
) -> MixturePlan:
    """Rates per domain. `total_tokens` (strict only) defaults to the available tokens of the targeted
    domains."""
    if any(s < 0 for s in target.values()) or sum(target.values()) <= 0:
        raise ValueError(f"target shares must be non-negative with a positive sum: {dict(target)}")
    present = {d: s for d, s in target.items() if available.get(d, 0) > 0 and s > 0}
    missing = sorted(d for d, s in target.items() if s > 0 and available.get(d, 0) <= 0)
    untargeted = sorted(d for d, n in available.items() if n > 0 and d not in target)
    plan = MixturePlan(dict(target), {d: int(n) for d, n in available.items()}, {}, 0.0, missing, untargeted)
    if not present:
        return plan
    norm = sum(present.values())
    shares = {d: s / norm for d, s in present.items()}
    strict = keep_shares is True or keep_shares == "strict"
    limit = {d: available[d] * max_repeat / shares[d] for d in shares}
    if strict:
        total = float(total_tokens if total_tokens is not None else sum(available[d] for d in present))
    else:
        # Everything once: the total at which the most plentiful domain (relative to its share) has rate 1.
        total = max(available[d] / shares[d] for d in shares)
    capped = sorted(d for d in shares if limit[d] < total * (1 - 1e-12))
    if strict and capped:
        total = min(limit.values())
    plan.total_tokens = total
    plan.capped = capped
    plan.rates = {d: min(shares[d] * total / available[d], max_repeat) for d in shares}
    if not strict:
        plan.rates = {d: max(1.0, r) for d, r in plan.rates.items()}  # float noise must not drop a document
        plan.rates.update({d: 1.0 for d in untargeted})
    return plan


def share_warnings(report: Mapping[str, Any], tolerance: float = 0.05) -> list[str]:
    """One message per targeted domain whose achieved share is more than `tolerance` off its target."""
    out = []
    for domain, target in sorted(report.get("target", {}).items()):
        got = report.get("achieved", {}).get(domain, 0.0)
        if abs(got - target) > tolerance:
            out.append(f"mixture: {domain} is {got:.1%} of the train tokens, target {target:.1%}"
                       + (" (no data)" if domain in report.get("missing", []) else "")
                       + (" (capped at max_repeat)" if domain in report.get("capped", []) else ""))
    return out
