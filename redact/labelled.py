"""A labelled set for redaction, built from real code: real-format fake secrets and addresses planted in real
files (the installed site-packages), and hard negatives (look-alikes that must survive) planted the same way.

Every planted value is generated here from a seed in the format its issuer uses (AWS `AKIA` + 16 of
[A-Z2-7], GitHub `ghp_` + 36 alphanumerics, Slack `xoxb-` digits and letters, Stripe `sk_live_` + 24, a PEM
private key block, a signed JWT, `https://user:password@host`, `password = "..."`, a random base64 string,
e-mail addresses, public IPv4/IPv6); none is a live credential. `measure()` gives precision and recall by kind.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid
from collections import Counter
from dataclasses import dataclass, field

ALNUM = string.ascii_letters + string.digits


@dataclass
class Sample:
    path: str
    text: str
    planted: list[tuple[str, str]] = field(default_factory=list)  # (kind, value) that must be gone
    negatives: list[tuple[str, str]] = field(default_factory=list)  # (kind, value) that must survive


def _r(rng: random.Random, chars: str, n: int) -> str:
    return "".join(rng.choice(chars) for _ in range(n))


def positives(rng: random.Random) -> list[tuple[str, str, str]]:
    """(kind, value, line holding it) for each kind, freshly generated."""
    aws = "AKIA" + _r(rng, string.ascii_uppercase + "234567", 16)
    aws_secret = _r(rng, ALNUM + "+/", 40)
    gh = "ghp_" + _r(rng, ALNUM, 36)
    slack = f"xoxb-{_r(rng, string.digits, 12)}-{_r(rng, string.digits, 13)}-{_r(rng, ALNUM, 24)}"
    stripe = "sk_live_" + _r(rng, ALNUM, 24)
    body = base64.b64encode(rng.randbytes(600)).decode()
    pem = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(body[i : i + 64] for i in range(0, len(body), 64)) + "\n-----END RSA PRIVATE KEY-----"
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()).decode().rstrip("=")
    claims = base64.urlsafe_b64encode(json.dumps({"sub": _r(rng, string.digits, 8), "name": "x", "iat": 1700000000}).encode()).decode().rstrip("=")
    sig = base64.urlsafe_b64encode(rng.randbytes(32)).decode().rstrip("=")
    jwt = f"{header}.{claims}.{sig}"
    pw = _r(rng, ALNUM, 6) + rng.choice("!#%&") + _r(rng, ALNUM, 5)
    basic_pw = _r(rng, ALNUM, 14)
    b64 = base64.b64encode(rng.randbytes(30)).decode()
    user = rng.choice(["jane.doe", "m.rossi", "wei.zhang", "a_kumar", "olga87"])
    email = f"{user}{rng.randint(1, 99)}@{rng.choice(['gmail.com', 'fastmail.fm', 'uni-heidelberg.de', 'corp.acme.io'])}"
    ip4 = f"{rng.choice([23, 45, 81, 93, 104, 151, 185, 203 + 0 * 1])}.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"
    ip6 = f"2a0{rng.randint(0, 9)}:{rng.randint(0x1000, 0xffff):x}:{rng.randint(0x1000, 0xffff):x}:{rng.randint(1, 0xfff):x}::{rng.randint(1, 0xfff):x}"
    if ip4.startswith("203."):
        ip4 = "45" + ip4[3:]
    return [
        ("aws_key", aws, f'AWS_ACCESS_KEY_ID = "{aws}"'),
        ("aws_key", aws_secret, f'aws_secret_access_key = "{aws_secret}"'),
        ("github_token", gh, f'GITHUB_TOKEN = "{gh}"'),
        ("slack_token", slack, f'slack_token = "{slack}"'),
        ("stripe_key", stripe, f'stripe.api_key = "{stripe}"'),
        ("private_key", body[:64], f'KEY = """{pem}"""'),
        ("jwt", jwt, f'headers = {{"Authorization": "Bearer {jwt}"}}'),
        ("basic_auth", basic_pw, f'DATABASE_URL = "postgres://admin:{basic_pw}@db.prod-cluster.net:5432/app"'),
        ("keyword", pw, f'password = "{pw}"'),
        ("high_entropy_base64", b64, f'signing_seed = "{b64}"'),
        ("email", email, f"# Maintainer: {user.title()} <{email}>"),
        ("ip_address", ip4, f'UPSTREAM = "{ip4}"'),
        ("ip_address", ip6, f'UPSTREAM6 = "{ip6}"'),
    ]


def negatives(rng: random.Random) -> list[tuple[str, str, str]]:
    """(kind of look-alike, value, line) that must come out unchanged."""
    u = str(uuid.UUID(int=rng.getrandbits(128)))
    sha = hashlib.sha1(rng.randbytes(8)).hexdigest()
    sha256 = hashlib.sha256(rng.randbytes(8)).hexdigest()
    md5 = hashlib.md5(rng.randbytes(8)).hexdigest()
    ver = f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 20)}.{rng.randint(1, 99)}"
    return [
        ("uuid", u, f'REQUEST_ID = "{u}"'),
        ("commit_sha", sha, f'commit = "{sha}"'),
        ("checksum", sha256, f'sha256 = "{sha256}"'),
        ("checksum", md5, f'expected_md5 = "{md5}"'),
        ("env_lookup", 'os.environ["API_KEY"]', 'api_key = os.environ["API_KEY"]'),
        ("env_lookup", 'os.getenv("DB_PASSWORD")', 'password = os.getenv("DB_PASSWORD")'),
        ("placeholder", "YOUR_API_KEY", 'API_KEY = "YOUR_API_KEY"'),
        ("placeholder", "<your-token-here>", 'token = "<your-token-here>"'),
        ("placeholder", "changeme", 'password = "changeme"'),
        ("private_ip", "192.168.1.20", 'HOST = "192.168.1.20"'),
        ("private_ip", "10.0.0.7", 'BIND = "10.0.0.7"'),
        ("loopback", "127.0.0.1", 'LOCAL = "127.0.0.1"'),
        ("doc_ip", "203.0.113.9", 'EXAMPLE_IP = "203.0.113.9"  # documentation range'),
        ("version", ver, f'__version__ = "{ver}"'),
        ("version", ver, f"requires = ['pkg=={ver}']"),
        ("doc_email", "someone@example.com", 'contact = "someone@example.com"'),
        ("git_remote", "git@github.com", 'url = "git@github.com:owner/repo.git"'),
    ]


def build(files: list[tuple[str, str]], seed: int = 0, per_file: int = 1) -> list[Sample]:
    """Each real file gets `per_file` positives and as many negatives, inserted at random line breaks;
    files are taken in order, cycling the kinds so that every kind is planted about equally often."""
    rng = random.Random(seed)
    samples = []
    k = 0
    for path, text in files:
        lines = text.split("\n")
        planted, negs = [], []
        for _ in range(per_file):
            pos = positives(rng)
            kind, value, line = pos[k % len(pos)]
            neg = negatives(rng)
            nkind, nvalue, nline = neg[k % len(neg)]
            k += 1
            lines.insert(rng.randint(0, len(lines)), line)
            lines.insert(rng.randint(0, len(lines)), nline)
            planted.append((kind, value))
            negs.append((nkind, nvalue))
        samples.append(Sample(path, "\n".join(lines), planted, negs))
    return samples


def measure(redactor, samples: list[Sample]) -> dict:
    """Recall by planted kind (the value is gone from the output), look-alikes kept by kind, and the
    findings on the real files' own text (everything replaced that was not planted: false positives
    unless the file really holds such a value, which the report lists for a reader to judge)."""
    planted, removed = Counter(), Counter()
    neg_total, neg_kept = Counter(), Counter()
    detected_by_kind, true_by_kind = Counter(), Counter()
    extra: list[dict] = []
    for s in samples:
        spans = redactor.find(s.text, s.path)
        out = redactor.redact(s.text, s.path).text
        for kind, value in s.planted:
            planted[kind] += 1
            removed[kind] += value not in out
        for kind, value in s.negatives:
            neg_total[kind] += 1
            neg_kept[kind] += value in out
        values = [v for _k, v in s.planted]
        for f in spans:
            span = s.text[f.start : f.end]
            detected_by_kind[f.kind] += 1
            if any(v in span or span in v for v in values):
                true_by_kind[f.kind] += 1
            else:
                extra.append({"path": s.path, "kind": f.kind, "text": span[:80]})
    kinds = sorted(set(planted) | set(detected_by_kind))
    return {
        "files": len(samples),
        "recall": {k: round(removed[k] / planted[k], 4) for k in sorted(planted)},
        "planted": dict(sorted(planted.items())),
        "precision": {k: round(true_by_kind[k] / detected_by_kind[k], 4) if detected_by_kind[k] else None for k in kinds},
        "detected": dict(sorted(detected_by_kind.items())),
        "lookalikes_kept": {k: round(neg_kept[k] / neg_total[k], 4) for k in sorted(neg_total)},
        "recall_all": round(sum(removed.values()) / max(1, sum(planted.values())), 4),
        "precision_all": round(sum(true_by_kind.values()) / max(1, sum(detected_by_kind.values())), 4),
        "unplanted_findings": extra[:40],
    }
