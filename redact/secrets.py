"""Secrets with detect-secrets' own plugins and heuristic filters, plus the look-alike rules a corpus needs.

detect-secrets scans line by line and every plugin runs on every line; on a corpus that is slow (most lines
hold nothing). One regex over the whole text first finds the lines that could hold what any plugin looks
for (its cue: `AKIA`, `ghp_`, `xoxb-`, `sk_live_`, `PRIVATE KEY`, `eyJ`, `://user:pass@`, a keyword of the
keyword plugin's list, a quoted run long enough for the entropy limits); only those lines go to the plugins.
The cue regex is a superset of the plugins' own patterns (tests check each kind is still found).

On top of detect-secrets' filters (UUIDs, sequential strings, id strings, templates `{x}` `<x>` `${x}`, `$VAR`,
indirect references `os.environ[...]`, lock files, non-alphanumeric values):
- placeholders: `YOUR_API_KEY`, `<your-token>`, `xxxxxxxx`, `changeme`, `password`, `dummy`/`example`/`test`
  values, ALL_CAPS_IDENTIFIERS for keyword and entropy findings;
- hashes in context: a hex string whose line names a hash (sha, md5, checksum, digest, hash, commit, rev,
  revision, etag, integrity, fingerprint, git, oid) or that is exactly a digest length (32, 40, 64, 128 hex
  characters) is a checksum, not a key;
- a private key finding takes the whole `-----BEGIN ... PRIVATE KEY-----` block up to its END line.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

# detect-secrets' plugin class -> our kind (counts, placeholders).
PLUGINS = {
    "AWSKeyDetector": "aws_key",
    "GitHubTokenDetector": "github_token",
    "SlackDetector": "slack_token",
    "StripeDetector": "stripe_key",
    "PrivateKeyDetector": "private_key",
    "JwtTokenDetector": "jwt",
    "BasicAuthDetector": "basic_auth",
    "KeywordDetector": "keyword",
    "Base64HighEntropyString": "high_entropy_base64",
    "HexHighEntropyString": "high_entropy_hex",
}
KEYWORDS = (r"api_?key|auth_?key|service_?key|account_?key|db_?key|database_?key|priv_?key|private_?key|client_?key|db_?pass|"
            r"database_?pass|key_?pass|password|passwd|pwd|secret|contrase")
# Cues, found with str.find on the lower-cased text (one C scan per cue: much faster than one regex alternation).
_PREFIXES = ("api", "auth", "service", "account", "db", "database", "priv", "private", "client")
CUE_LITERALS = tuple(dict.fromkeys(
    ["akia", "asia", "abia", "acca", "a3t", "aws", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "xox", "hooks.slack.com", "k_live_",
     "private key", "eyj", "password", "passwd", "pwd", "secret", "contrase"]
    + [p + sep + "key" for p in _PREFIXES for sep in ("", "_")]
    + [p + sep + "pass" for p in ("db", "database", "key") for sep in ("", "_")]
))
CUE_REGEX = re.compile(r"[\"'](?:[0-9a-fA-F]{9,}|[A-Za-z0-9+/=_-]{23,})|://[^\s/@]+:[^\s/@]+@")


def cue_positions(text: str) -> list[int]:
    """Offsets where a plugin could find something (a superset of the plugins' own patterns)."""
    low = text.lower()
    found = [m.start() for m in CUE_REGEX.finditer(text)]
    for lit in CUE_LITERALS:
        pos = low.find(lit)
        while pos >= 0:
            found.append(pos)
            pos = low.find(lit, pos + 1)
    return sorted(set(found))


HASH_CONTEXT = re.compile(r"(?i)sha|md5|check_?sum|digest|hash|commit|\brev|revision|etag|integrity|fingerprint|\bgit\b|oid|crc|blake")
DIGEST_LENGTHS = {32, 40, 56, 64, 96, 128}
PLACEHOLDER = re.compile(
    r"(?i)^(?:[<{\[(]?\s*)?(?:your|my|the|insert|enter|put|replace|fill|add|example|sample|dummy|fake|test|testing|mock|placeholder|"
    r"changeme|change_me|secret|password|passw0rd|pass|token|api_?key|xxx+|\*+|\.\.\.+|todo|tbd|none|null|redacted|hidden|"
    r"foo|bar|baz|abc|123|qwerty|admin|root|user|username)(?:[\s_-].*|\d*)?(?:\s*[>}\])])?$"
)
# Charset tables and test strings (`0123456789`, `01234ABCDE6789`), not keys.
ALPHABET = re.compile(r"(?i)abcdef|ijklmnop|qrstuvwx|01234|12345|23456|34567|45678|56789|fedcba98")
# Base64 of a file (GIF, PNG, JPEG, XML, ZIP, PDF) embedded in code is data, not a key.
FILE_MAGIC = ("R0lGOD", "iVBORw0KGgo", "/9j/", "PD94bWwg", "UEsDB", "JVBERi0", "AAABAA")
CAMEL_WORDS = re.compile(r"[A-Z][a-z]{2,}")


def _identifier(secret: str) -> bool:
    """Mostly CamelCase words (random base64 has some, never covering most of the string)."""
    return bool(re.fullmatch(r"[A-Za-z0-9_]+", secret)) and sum(map(len, CAMEL_WORDS.findall(secret))) >= 0.6 * len(secret)
# Values that announce themselves as stand-ins: fakeaccountkey, your-token-here, example_secret, dummy123.
PLACEHOLDER_PREFIX = re.compile(r"(?i)^[<{\[(]?\s*(?:your|example|sample|dummy|fake|mock|placeholder|changeme|insert|enter|replace)")
CONSTANT = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")  # YOUR_API_KEY, SECRET_KEY_HERE
PEM_BEGIN = re.compile(r"-----BEGIN[A-Z ]*PRIVATE KEY(?: BLOCK)?-----")
PEM_END = re.compile(r"-----END[A-Z ]*PRIVATE KEY(?: BLOCK)?-----")
JWT_TAIL = re.compile(r"[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]+(?:\.[A-Za-z0-9_.+/=-]*)?")
MAX_LINE = 4000  # longer lines (minified code, data) are scanned in windows of this size


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int


class SecretScanner:
    """detect-secrets' plugins and filters, set up once per process."""

    def __init__(self) -> None:
        from detect_secrets.filters import heuristic
        from detect_secrets.plugins.aws import AWSKeyDetector
        from detect_secrets.plugins.basic_auth import BasicAuthDetector
        from detect_secrets.plugins.github_token import GitHubTokenDetector
        from detect_secrets.plugins.high_entropy_strings import (
            Base64HighEntropyString,
            HexHighEntropyString,
        )
        from detect_secrets.plugins.jwt import JwtTokenDetector
        from detect_secrets.plugins.keyword import KeywordDetector
        from detect_secrets.plugins.private_key import PrivateKeyDetector
        from detect_secrets.plugins.slack import SlackDetector
        from detect_secrets.plugins.stripe import StripeDetector

        # Entropy limits are detect-secrets' defaults (base64 4.5, hex 3.0).
        self.plugins = [AWSKeyDetector(), GitHubTokenDetector(), SlackDetector(), StripeDetector(), PrivateKeyDetector(),
                        JwtTokenDetector(), BasicAuthDetector(), KeywordDetector(), Base64HighEntropyString(), HexHighEntropyString()]
        self.h = heuristic

    def _filtered(self, secret: str, line: str, plugin: object, path: str, kind: str) -> bool:
        h = self.h
        if (h.is_sequential_string(secret) or h.is_potential_uuid(secret) or h.is_likely_id_string(secret, line, plugin)
                or h.is_templated_secret(secret) or h.is_prefixed_with_dollar_sign(secret) or h.is_lock_file(path)
                or h.is_not_alphanumeric_string(secret) or h.is_swagger_file(path)):
            return True
        if kind in ("keyword", "basic_auth", "high_entropy_base64", "high_entropy_hex"):
            if kind == "keyword" and h.is_indirect_reference(line):
                return True
            if PLACEHOLDER.match(secret) or PLACEHOLDER_PREFIX.match(secret) or CONSTANT.match(secret) or len(set(secret)) <= 3 or ALPHABET.search(secret):
                return True
        if kind == "high_entropy_base64" and (secret.startswith(FILE_MAGIC) or _identifier(secret)):
            return True  # embedded file data, or a CamelCase identifier (NFCISO15693ReadMultipleBlocksConfiguration)
        hexadecimal = kind == "high_entropy_hex" or (kind == "high_entropy_base64" and re.fullmatch(r"[0-9a-fA-F]+", secret))
        return bool(hexadecimal and (len(secret) in DIGEST_LENGTHS or HASH_CONTEXT.search(line)))

    def scan(self, text: str, path: str) -> Iterator[Finding]:
        """Findings with character offsets in `text`."""
        cues = cue_positions(text)
        if not cues:
            return
        starts = [0] + [m.end() for m in re.finditer("\n", text)]
        done = -1  # text before this offset is scanned
        for cue in cues:
            if cue < done:
                continue
            n = bisect.bisect_right(starts, cue) - 1
            lo = starts[n]
            hi = starts[n + 1] - 1 if n + 1 < len(starts) else len(text)
            if hi - lo > MAX_LINE:
                # A long line (minified code, data tables) in windows that never overlap: the plugins' regexes
                # and entropy on a megabyte line per cue would be quadratic.
                lo, hi = max(lo, cue - 256), min(hi, max(lo, cue - 256) + MAX_LINE)
            done = hi
            yield from self._scan_line(text, lo, hi, path)

    def _scan_line(self, text: str, lo: int, hi: int, path: str) -> Iterator[Finding]:
        line = text[lo:hi]
        for plugin in self.plugins:
            kind = PLUGINS[type(plugin).__name__]
            for found in plugin.analyze_line(filename=path, line=line, line_number=0):
                secret = found.secret_value or ""
                if not secret or self._filtered(secret, line, plugin, path, kind):
                    continue
                if kind == "private_key":
                    end = PEM_END.search(text, lo)
                    begin = PEM_BEGIN.search(text, lo, hi)
                    if begin:
                        yield Finding(kind, begin.start(), end.end() if end else hi)
                    continue
                if kind == "jwt":  # the plugin's lazy pattern stops before the signature: take the whole token
                    secret = JWT_TAIL.match(line, max(0, line.find(secret))).group()
                pos = line.find(secret)
                while pos >= 0:
                    yield Finding(kind, lo + pos, lo + pos + len(secret))
                    pos = line.find(secret, pos + len(secret))
