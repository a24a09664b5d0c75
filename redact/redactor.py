"""Find, merge and replace: one pass per document, counts by kind."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from redact.pii import emails, ip_addresses
from redact.secrets import PLUGINS, Finding, SecretScanner

# BigCode's placeholders (StarCoder's PII redaction): keys and tokens -> <KEY>, passwords -> <PASSWORD>,
# e-mail addresses -> <EMAIL>, IP addresses -> <IP_ADDRESS>. The kind is counted finer than the placeholder.
PLACEHOLDERS = {kind: "<KEY>" for kind in PLUGINS.values()} | {
    "keyword": "<PASSWORD>", "basic_auth": "<PASSWORD>", "email": "<EMAIL>", "ip_address": "<IP_ADDRESS>",
}
# When two findings overlap, the more specific kind names the span (a GitHub token inside a keyword line).
PRIORITY = ["private_key", "aws_key", "github_token", "slack_token", "stripe_key", "jwt", "basic_auth", "email", "ip_address",
            "keyword", "high_entropy_base64", "high_entropy_hex"]


@dataclass
class Redaction:
    text: str
    counts: Counter = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        return bool(self.counts)


class Redactor:
    """`secrets` and `pii` switch the two families; `kinds` (None: all) limits which kinds are replaced."""

    def __init__(self, secrets: bool = True, pii: bool = True, kinds: set[str] | None = None) -> None:
        self.scanner = SecretScanner() if secrets else None
        self.pii = pii
        self.kinds = kinds

    def find(self, text: str, path: str = "") -> list[Finding]:
        found: list[Finding] = []
        if self.scanner is not None:
            found += self.scanner.scan(text, path)
        if self.pii:
            if "@" in text:
                found += [Finding("email", s, e) for s, e in emails(text)]
            if "." in text or ":" in text:
                found += [Finding("ip_address", s, e) for s, e in ip_addresses(text)]
        if self.kinds is not None:
            found = [f for f in found if f.kind in self.kinds]
        return _merge(found)

    def redact(self, text: str, path: str = "") -> Redaction:
        spans = self.find(text, path)
        if not spans:
            return Redaction(text)
        out, pos, counts = [], 0, Counter()
        for f in spans:
            out += [text[pos : f.start], PLACEHOLDERS[f.kind]]
            pos = f.end
            counts[f.kind] += 1
        out.append(text[pos:])
        return Redaction("".join(out), counts)


def _merge(found: list[Finding]) -> list[Finding]:
    """Non-overlapping spans in order; overlapping findings become one span named by the most specific kind."""
    rank = {k: i for i, k in enumerate(PRIORITY)}
    merged: list[Finding] = []
    for f in sorted(found, key=lambda f: (f.start, -f.end)):
        if merged and f.start < merged[-1].end:
            last = merged[-1]
            kind = min(last.kind, f.kind, key=lambda k: rank[k])
            merged[-1] = Finding(kind, last.start, max(last.end, f.end))
        else:
            merged.append(f)
    return merged
