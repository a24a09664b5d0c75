"""E-mail addresses and public IP addresses (BigCode's StarCoder PII rules, written here).

Kept on purpose: documentation domains (example.com/.org/.net, *.example, *.test, *.invalid, localhost),
`git@host` SSH remotes, file names like `icon@2x.png`; private, loopback, link-local, multicast, reserved and
documentation IP ranges (Python's `ipaddress.is_global` is false for them), a few public resolvers that are
configuration, not personal data (8.8.8.8, 1.1.1.1, ...), and dotted numbers that are versions
(`version 1.2.3.4`, `==2.0.1.3`, `v1.2.3.4`, part of a longer dotted run).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

EMAIL = re.compile(r"(?<![\w.%+/-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])")
DOC_DOMAINS = ("example.com", "example.org", "example.net", "example.edu")
DOC_SUFFIXES = (".example", ".test", ".invalid", ".localhost", ".local")
FILE_TLDS = {"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "js", "ts", "py", "css", "html", "json", "md", "txt"}
GIT_HOSTS = {"github.com", "gitlab.com", "bitbucket.org", "ssh.dev.azure.com", "vs-ssh.visualstudio.com"}
EMAIL_PLACEHOLDER_LOCALS = {"user", "username", "your", "you", "name", "someone", "email", "foo", "me", "noreply", "no-reply"}

IPV4 = re.compile(r"(?<![\w.])(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(?![\w.]\d|\w)")
HEXCOLON = re.compile(r"[0-9a-fA-F]:[0-9a-fA-F:]")
HEX_COLON = frozenset("0123456789abcdefABCDEF:")
# Section numbers (`section 4.2.3.2`, `[3.3.2.4^1]`, RFC/standard clauses) look like addresses too.
SECTION_CONTEXT = re.compile(r"(?i)(?:section|sect?\.|§|rfc\s*\d*|chapter|clause|step|item|paragraph|\[)\s*$")
# (`@` is not among them: `deploy@45.33.32.156` is a login on a host; npm's `pkg@1.2.3` has three parts.)
VERSION_CONTEXT = re.compile(r"(?i)(?:(?<![a-z])(?:version|release|revision)\w*|\bver|\brev|\bv|==|>=|<=|~=|!=)\s*[:=]?\s*[\"']?$")
# A build or pre-release suffix after four numbers (`Guile 3.0.3.45-5a1e7`, `1.2.10.4-rc1`) makes a version.
VERSION_SUFFIX = re.compile(r"-(?:[0-9a-f]*[a-f][0-9a-f]*\b|(?:rc|alpha|beta|dev|post|pre|git|r)\d*\b)", re.IGNORECASE)
# A name, then four small numbers, in running text (`Hyperspec 2.4.8.19`, `Guile 3.0.3`): a version or a
# section, not a host; quoted or after `=`/`:` it stays an address (`UPSTREAM = "3.5.140.2"`).
PROSE_NAME = re.compile(r"[A-Za-z][\w-]*[A-Za-z] $")
NETWORK_WORD = re.compile(r"(?i)(?:host|server|mirror|addr\w*|ip|ping|connect\w*|at|to|from|via|proxy|dns|gateway|peer|node) $")
PUBLIC_RESOLVERS = {"8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112", "208.67.222.222", "208.67.220.220",
                    "2001:4860:4860::8888", "2001:4860:4860::8844", "2606:4700:4700::1111"}


LOCAL_TAIL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}$")
IPV4_FAST = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")


def _email_matches(text: str) -> Iterator[re.Match]:
    """EMAIL at each '@' (found with str.find): a regex scan from every position is far slower on code."""
    at = text.find("@")
    while at >= 0:
        local = LOCAL_TAIL.search(text, max(0, at - 64), at)
        if local:
            # The longest valid local part ends at '@'; EMAIL itself checks the boundaries.
            for start in range(local.start(), at):
                m = EMAIL.match(text, start)
                if m and m.end() > at:
                    yield m
                    break
        at = text.find("@", at + 1)


def emails(text: str) -> Iterator[tuple[int, int]]:
    for m in _email_matches(text):
        if m.start() and text[m.start() - 1] == ":" and text[max(0, m.start() - 7) : m.start()].lower() != "mailto:":
            continue  # the user:password@host of a URL, not an address
        local, _, domain = m.group().partition("@")
        domain_l = domain.lower()
        if domain_l in DOC_DOMAINS or domain_l.endswith(DOC_SUFFIXES) or domain_l.rsplit(".", 1)[-1] in FILE_TLDS:
            continue
        if any(domain_l == d or domain_l.endswith("." + d) for d in DOC_DOMAINS):
            continue
        if local.lower() == "git" and domain_l in GIT_HOSTS:
            continue
        yield m.start(), m.end()


def _is_personal(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_global and not ip.is_multicast and str(ip) not in PUBLIC_RESOLVERS


def ip_addresses(text: str) -> Iterator[tuple[int, int]]:
    for fast in IPV4_FAST.finditer(text):
        m = IPV4.match(text, fast.start())
        if not m or (fast.start() and (text[fast.start() - 1].isalnum() or text[fast.start() - 1] in "._")):
            continue
        before = text[max(0, m.start() - 24) : m.start()]
        if VERSION_CONTEXT.search(before) or SECTION_CONTEXT.search(before) or not _is_personal(m.group()):
            continue
        octets = m.group().split(".")
        if all(len(octet) == 1 for octet in octets):
            continue  # 3.3.2.4, 1.2.3.4: section numbers and the stock example, far likelier than a host in code
        if VERSION_SUFFIX.match(text, m.end()):
            continue
        if len(octets[0]) == len(octets[1]) == 1 and PROSE_NAME.search(before) and not NETWORK_WORD.search(before):
            continue
        yield m.start(), m.end()
    # IPv6: candidates are runs of hex digits and colons around a `h:h` pair (cheap to find), checked whole.
    last = -1
    for m in HEXCOLON.finditer(text):
        if m.start() < last:
            continue
        s, e = m.start(), m.end()
        while s > 0 and text[s - 1] in HEX_COLON:
            s -= 1
        while e < len(text) and text[e] in HEX_COLON:
            e += 1
        last = e
        cand = text[s:e].strip(":") if text[s:e].startswith(":::") else text[s:e]
        if (s and (text[s - 1].isalnum() or text[s - 1] in "_.")) or (e < len(text) and (text[e].isalnum() or text[e] == "_")):
            continue
        groups = [g for g in cand.split(":") if g]
        # `a[::2]`, `std::vector`, times: an address has several groups, and a hex letter or all eight groups.
        if len(groups) >= 3 and (len(groups) == 8 or re.search(r"[A-Fa-f]", cand)) and _is_personal(cand):
            yield s, e
