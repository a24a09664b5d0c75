"""A repository's licence as an SPDX expression, from the files that can hold one.

Evidence, strongest first (the first that gives an expression decides; every other one is kept for the
record, and a disagreement is written down):

1. `github`: the licence GitHub's API reports (`meta["github"]["license"]`, its own detector) when it is an
   SPDX id (not null, not `NOASSERTION`);
2. `metadata`: what the package declares: `package.json` `license(s)`, `Cargo.toml` `package.license`,
   `pyproject.toml` `project.license` / classifiers / `tool.poetry.license`, `setup.cfg` `metadata.license` /
   classifiers, `PKG-INFO` / `METADATA` `License-Expression`, `License`, classifiers;
3. `files`: ScanCode's licence detection (the detector The Stack used) on the repository's licence files
   (`LICENSE*`, `LICENCE*`, `COPYING*`, `NOTICE*`, `UNLICENSE`, `COPYRIGHT*`, `*.license`, `LICENSES/*`) at its
   root (or in a wheel's `.dist-info/` and `.dist-info/licenses/`): the first detection of each file (the
   licence of the project; later ones are usually the bundled third-party texts), joined with AND;
4. `spdx_header`: the most common `SPDX-License-Identifier:` expression in the first 4 KB of its files.

Only those files are scanned (ScanCode costs ~1 ms per KB and ~1.4 GB for its index, loaded once per
process); a licence file is read up to its first 64 KB, where the project's own licence is.
"""

from __future__ import annotations

import configparser
import contextlib
import functools
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import HeaderParser
from typing import Any

import numpy as np
import tomllib

LICENSE_FILE = re.compile(r"(?i)^(?:un)?licen[cs]e(?:[._-].*)?$|^copying(?:[._-].*)?$|^notice(?:[._-].*)?$|^copyright(?:[._-].*)?$|.\.licen[cs]e$")
METADATA_FILES = {"package.json", "cargo.toml", "pyproject.toml", "setup.cfg", "pkg-info", "metadata"}
SPDX_HEADER = re.compile(r"SPDX-License-Identifier:\s*([A-Za-z0-9.+\-() ]+?)\s*(?:\*/|-->|\"|'|$)", re.MULTILINE)
MAX_LICENSE_CHARS = 16384  # the project's own licence opens the file (Apache-2.0 is 11 KB; a cut GPL text still matches)
HEADER_CHARS = 4096
NOT_A_LICENSE = {None, "", "NOASSERTION", "NONE", "OTHER", "UNKNOWN"}


def _root_folder(folder: str) -> bool:
    """Where a repository keeps its own licence: its root, REUSE's LICENSES/, a wheel's .dist-info(/licenses)."""
    low = folder.lower()
    return low in ("", "licenses") or low.endswith((".dist-info", ".dist-info/licenses", ".egg-info")) and low.count("/") <= 1


def role(path: str) -> str | None:
    """`license_file`, `metadata` or None for a path inside a repository."""
    folder, _, base = path.rpartition("/")
    if not _root_folder(folder):
        return None
    if base.lower() in METADATA_FILES:
        return "metadata"
    if LICENSE_FILE.match(base) or folder.lower() == "licenses":  # REUSE: every file in LICENSES/ is a licence text
        return "license_file"
    return None


@functools.lru_cache(maxsize=1)
def _spdx():
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


@functools.lru_cache(maxsize=1)
def _index():
    """ScanCode's licence index (loaded from its cache: ~5 s and ~1.4 GB, once per process), with its candidate
    ranking prefiltered (`RulePrefilter`: the same answers for ~7x less CPU on real licence files)."""
    from licensedcode import match_set  # deferred: ScanCode is heavy
    from licensedcode.cache import get_index

    idx = get_index()
    global _SCANCODE_CANDIDATES
    if _SCANCODE_CANDIDATES is None:
        _SCANCODE_CANDIDATES = match_set.compute_candidates
        match_set.compute_candidates = RulePrefilter(idx).compute_candidates
    return idx


_SCANCODE_CANDIDATES = None  # ScanCode's own match_set.compute_candidates, before RulePrefilter wraps it


class RulePrefilter:
    """ScanCode's approximate matching (most of detection's CPU) starts with `match_set.compute_candidates`,
    which compares the query's token set with each of ~37,000 rules' in a Python loop. In its first step it
    drops every rule whose intersection with the query has (a) no legalese ("high") token, (b) fewer high
    tokens than the rule's `min_high_matched_length_unique`, (c) fewer tokens than its
    `min_matched_length_unique`, (d) a containment below its `minimum_containment` or, for near duplicates
    only, (e) a resemblance below the threshold; then it ranks the rest and keeps the `top * 10` best. Here
    the token counts are made for every rule at once (numpy over a token -> rules index built once per
    process), the rules that fail (a)-(e) or cannot rank in the `top * 10` are left out, and ScanCode's own
    function runs on the others. A rule left out is one ScanCode drops in that step itself, so its candidates,
    and every match and detection made from them, stay the same (pinned by
    tests/corpus/ingest/test_licenses_fast.py; `pipelines/bench_licenses_fast.py`: 0 changed answers on the
    venv's 694 licence files). Float comparisons keep 1e-9 (1e-6 of a tenth in the ranking) of slack, always
    on the side that keeps more rules, so a last-bit difference between numpy and Python cannot drop one."""

    def __init__(self, idx: Any) -> None:
        self.idx = idx
        n_rules = len(idx.rules_by_rid)
        rids = [rid for rid in range(n_rules) if idx.sets_by_rid[rid] is not None]
        tids = [np.asarray(idx.sets_by_rid[rid].tolist(), dtype=np.int64) for rid in rids]
        flat_tids = np.concatenate(tids) if tids else np.zeros(0, dtype=np.int64)
        flat_rids = np.repeat(np.asarray(rids, dtype=np.int64), [len(t) for t in tids])
        order = np.argsort(flat_tids, kind="stable")
        self.rules_of = flat_rids[order].astype(np.int32)  # token id -> rules holding it: rules_of[starts[t]:starts[t + 1]]
        self.starts = np.searchsorted(flat_tids[order], np.arange(len(idx.dictionary) + 1))
        self.n_tokens = len(idx.dictionary)
        self.n_rules = n_rules
        self.len_legalese = idx.len_legalese
        indexed = set(rids)  # a rule without a token set can never pass: its minimums are out of reach
        never = len(idx.dictionary) + 1
        self.min_matched = np.array([idx.rules_by_rid[r].get_min_matched_length(True) if r in indexed else never
                                     for r in range(n_rules)], dtype=np.int64)
        self.min_high = np.array([max(1, idx.rules_by_rid[r].get_min_high_matched_length(True)) if r in indexed else never
                                  for r in range(n_rules)], dtype=np.int64)
        self.length = np.array([max(1, r.get_length(True)) for r in idx.rules_by_rid], dtype=np.float64)
        # ScanCode drops `matched / length < minimum_containment` when the minimum is set (not 0).
        self.min_containment = np.array([r._minimum_containment or 0.0 for r in idx.rules_by_rid], dtype=np.float64)

    def _counts(self, tids: np.ndarray) -> np.ndarray:
        """Per rule: how many of these (distinct) token ids it holds."""
        if not len(tids):
            return np.zeros(self.n_rules, dtype=np.int64)
        postings = np.concatenate([self.rules_of[self.starts[t]:self.starts[t + 1]] for t in tids.tolist()])
        return np.bincount(postings, minlength=self.n_rules)

    def passing(self, qset: Any, matchable_rids: Any, threshold: float = 0.8, near_duplicates: bool = False,
                best: int | None = None) -> list[int]:
        """The rules (ids, ascending) that can pass ScanCode's first-step filters for a query's token set (with
        `near_duplicates`, also a resemblance of at least `threshold`) and, with `best`, that can be among the
        `best` it keeps after ranking them (see `_can_rank_in`)."""
        tids = np.asarray(qset.tolist(), dtype=np.int64)
        tids = tids[tids < self.n_tokens]
        matched = self._counts(tids)
        keep = (self._counts(tids[tids < self.len_legalese]) >= self.min_high) & (matched >= self.min_matched) & \
            (matched / self.length >= self.min_containment - 1e-9)
        if near_duplicates:  # ScanCode's resemblance: |q & r| / |q | r|
            keep &= matched / (len(qset) + self.length - matched) >= threshold - 1e-9
        rids = np.asarray([rid for rid in np.flatnonzero(keep).tolist() if rid in matchable_rids], dtype=np.int64)
        if best is not None and len(rids) > best:
            rids = rids[self._can_rank_in(rids, matched[rids], len(qset), best, threshold)]
        return rids.tolist()

    def _can_rank_in(self, rids: np.ndarray, matched: np.ndarray, qset_len: int, best: int, threshold: float) -> np.ndarray:
        """Which of these rules can be among the `best` ScanCode keeps of them. It sorts them (descending) on
        (round(resemblance, 1) >= threshold, round(containment, 1), round(resemblance ** 2, 1), round(matched / 20, 1)),
        then on the unrounded values, then on rule id. Each rounded value is bounded here from below and above
        (lo/hi: the tenth below/above, with slack), and the tuple packed in an int that sorts like it. When
        `best` rules certainly pass and have lo >= T, a rule with hi < T ranks strictly after all of them on the
        rounded tuple alone: it cannot be among the `best`, and dropping it leaves ScanCode's list the same."""
        length = self.length[rids]
        resemblance = matched / (qset_len + length - matched)
        containment = matched / length

        def packed(tenths) -> np.ndarray:
            return (((tenths(resemblance) / 10 >= threshold) * 11 + tenths(containment)) * 11 + tenths(resemblance * resemblance)) * 10**6 \
                + tenths(matched / 20)

        lo = packed(lambda x: np.ceil(x * 10 - 0.5 - 1e-6).astype(np.int64))
        hi = packed(lambda x: np.floor(x * 10 + 0.5 + 1e-6).astype(np.int64))
        minimum = self.min_containment[rids]
        certain = lo[(minimum == 0) | (containment >= minimum + 1e-9)]
        if len(certain) < best:
            return np.ones(len(rids), dtype=bool)
        return hi >= np.partition(certain, len(certain) - best)[len(certain) - best]

    def compute_candidates(self, query_run: Any, idx: Any, matchable_rids: Any, top: int = 50, high_resemblance: bool = False,
                           high_resemblance_threshold: float = 0.8, _use_bigrams: bool = False) -> list:
        """`match_set.compute_candidates`, on the rules that can pass its first step and rank in its `top * 10`."""
        from licensedcode import match_set  # deferred: ScanCode is heavy

        if idx is not self.idx or _use_bigrams:
            return _SCANCODE_CANDIDATES(query_run, idx, matchable_rids, top=top, high_resemblance=high_resemblance,
                                        high_resemblance_threshold=high_resemblance_threshold, _use_bigrams=_use_bigrams)
        qset, _ = match_set.build_set_and_mset(query_run.matchable_tokens())
        # Near-duplicate mode also drops rules on resemblance after ranking: only the filter is applied there.
        rids = self.passing(qset, matchable_rids, high_resemblance_threshold, near_duplicates=high_resemblance,
                            best=None if high_resemblance else top * 10)
        found = _SCANCODE_CANDIDATES(query_run, _RuleSubset(idx, rids), set(range(len(rids))), top=top,
                                     high_resemblance=high_resemblance, high_resemblance_threshold=high_resemblance_threshold)
        return [(scores, rids[rid], rule, high) for scores, rid, rule, high in found]


class _RuleSubset:
    """The part of a licence index `match_set.compute_candidates` reads (it reads these four attributes and no
    other), cut to some rules, so that its loop walks those rules and not all ~37,000. Rule ids are renumbered
    0..n-1 in the same order, so every sort in it (on scores, then rule id) orders them as before; the caller
    maps them back."""

    def __init__(self, idx: Any, rids: list[int]) -> None:
        self.len_legalese = idx.len_legalese
        self.rules_by_rid = [idx.rules_by_rid[r] for r in rids]
        self.sets_by_rid = [idx.sets_by_rid[r] for r in rids]
        self.msets_by_rid = [idx.msets_by_rid[r] for r in rids]


def normalize(expression: str | None) -> str | None:
    """A valid SPDX expression in canonical form, or None."""
    if not expression or expression.strip().upper() in NOT_A_LICENSE:
        return None
    try:
        return str(_spdx().parse(expression.strip(), validate=True, strict=False).render())
    except Exception:  # noqa: BLE001 - license_expression raises several types for one meaning: not SPDX
        return None


DETECTION_CACHE = 4096  # texts per process (<= 64 MB): verbatim licence texts recur across repositories


@functools.lru_cache(maxsize=DETECTION_CACHE)
def _detections(text: str) -> tuple[str, ...]:
    """ScanCode's SPDX detections of a (cut) text, remembered: ScanCode's approximate matching costs ~0.5 CPU-s
    on a long licence, and the same text (an Apache-2.0 file, a dist-info copy of a source LICENSE) recurs."""
    return scan(text)


def scan(text: str) -> tuple[str, ...]:
    """ScanCode's SPDX detections of a text (not remembered: `_detections` is)."""
    from licensedcode.detection import detect_licenses  # deferred: ScanCode is heavy

    # ScanCode's "unknown-license-reference" marks a mention of some licence, not a licence: not evidence.
    return tuple(d.license_expression_spdx for d in detect_licenses(index=_index(), query_string=text)
                 if d.license_expression_spdx and "LicenseRef-scancode-unknown" not in d.license_expression_spdx)


@contextlib.contextmanager
def without_prefilter() -> Iterator[None]:
    """ScanCode's candidate ranking as shipped, unfiltered, for the duration (to measure `RulePrefilter`
    against; not thread-safe: it swaps a module attribute)."""
    from licensedcode import match_set  # deferred: ScanCode is heavy

    _index()
    filtered = match_set.compute_candidates
    match_set.compute_candidates = _SCANCODE_CANDIDATES
    try:
        yield
    finally:
        match_set.compute_candidates = filtered


def detect_text(text: str, first_only: bool) -> str | None:
    """ScanCode's detection on a text: the first detection (a licence file's own licence) or all joined with AND."""
    found = list(_detections(text[:MAX_LICENSE_CHARS]))
    if not found:
        return None
    return found[0] if first_only else join(found)


def join(expressions: list[str]) -> str | None:
    unique = list(dict.fromkeys(e for e in expressions if e))
    if not unique:
        return None
    if len(unique) == 1:
        return unique[0]
    return " AND ".join(f"({e})" if " " in e else e for e in unique)


def declared(value: str | None) -> str | None:
    """A declared licence string: an SPDX expression as is, else what ScanCode reads in it ("Apache License 2.0")."""
    if not value or not value.strip():
        return None
    return normalize(value) or (detect_text(value, first_only=False) if len(value) < 2000 else None)


def _classifiers(values: list[str]) -> str | None:
    found = [declared(c.split("::")[-1].strip()) for c in values if c.startswith("License ::") and "OSI Approved ::" in c + " ::"
             and c.strip() != "License :: OSI Approved"]
    return join([f for f in found if f])


def from_metadata(path: str, text: str) -> str | None:
    """The licence a package metadata file declares, as SPDX, or None."""
    base = path.rsplit("/", 1)[-1].lower()
    try:
        if base == "package.json":
            data = json.loads(text)
            lic = data.get("license") if isinstance(data, dict) else None
            if isinstance(lic, dict):
                lic = lic.get("type")
            if not lic and isinstance(data, dict) and isinstance(data.get("licenses"), list):
                lic = " OR ".join(str(x.get("type")) for x in data["licenses"] if isinstance(x, dict) and x.get("type"))
            return declared(lic) if isinstance(lic, str) else None
        if base == "cargo.toml":
            pkg = tomllib.loads(text).get("package") or {}
            return declared(pkg.get("license")) if isinstance(pkg.get("license"), str) else None
        if base == "pyproject.toml":
            data = tomllib.loads(text)
            project = data.get("project") or {}
            lic = project.get("license")
            if isinstance(lic, dict):
                lic = lic.get("text")
            poetry = ((data.get("tool") or {}).get("poetry") or {}).get("license")
            return (declared(lic) if isinstance(lic, str) else None) or _classifiers(project.get("classifiers") or []) or \
                (declared(poetry) if isinstance(poetry, str) else None)
        if base == "setup.cfg":
            cfg = configparser.ConfigParser(interpolation=None)
            cfg.read_string(text)
            if not cfg.has_section("metadata"):
                return None
            lic = cfg.get("metadata", "license", fallback=None)
            return (declared(lic) if lic and not lic.startswith("file:") else None) or \
                _classifiers(cfg.get("metadata", "classifiers", fallback="").splitlines())
        if base in ("pkg-info", "metadata"):
            msg = HeaderParser().parsestr(text.split("\n\n", 1)[0] + "\n")
            if msg.get("License-Expression"):
                return normalize(msg["License-Expression"]) or declared(msg["License-Expression"])
            lic = msg.get("License")
            return (declared(lic) if lic and len(lic) < 200 and lic.strip().upper() not in NOT_A_LICENSE else None) or \
                _classifiers(msg.get_all("Classifier") or [])
    except (ValueError, TypeError, configparser.Error, tomllib.TOMLDecodeError):
        return None
    return None


def distribution_evidence(dist_name: str) -> list[tuple[str, str]]:
    """An installed distribution's own licence files and METADATA (ingest does not make documents of its
    `.dist-info/` folder, but it is where a wheel keeps its licence)."""
    from importlib import metadata
    from pathlib import Path

    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        return []
    found = []
    for f in dist.files or []:
        rel = str(f)
        if ".dist-info" in rel and role(rel):
            try:
                found.append((rel, Path(dist.locate_file(f)).read_text(errors="replace")[:MAX_LICENSE_CHARS]))
            except OSError:
                continue
    return sorted(found)


def spdx_headers(text: str) -> list[str]:
    head = text[:HEADER_CHARS]
    if "SPDX-License-Identifier" not in head:
        return []
    return [e for e in (normalize(m.group(1)) for m in SPDX_HEADER.finditer(head)) if e]


@dataclass
class Evidence:
    """What one repository's files said about its licence, gathered while its files stream past."""

    github: str | None = None
    # Candidates by path, also those one folder down: a source tarball (`proj-1.0/LICENSE`) keeps its files
    # under one top folder, which is the repository's root when every file is under it (known at decide()).
    metadata_by_path: dict[str, str] = field(default_factory=dict)  # path -> declared SPDX
    files_by_path: dict[str, str] = field(default_factory=dict)  # path -> text cut to MAX_LICENSE_CHARS
    headers: Counter = field(default_factory=Counter)
    tops: set[str] = field(default_factory=set)  # first path components seen ("" for a file at the root)

    def see(self, path: str, text: str, meta: dict[str, Any] | None = None) -> None:
        if meta and self.github is None and isinstance(meta.get("github"), dict):
            self.github = meta["github"].get("license") or None
        head, sep, rest = path.partition("/")
        self.tops.add(head if sep else "")
        kind = role(path) or (role(rest) if sep else None)
        if kind == "metadata":
            found = from_metadata(path, text)
            if found:
                self.metadata_by_path[path] = found
        elif kind == "license_file":
            self.files_by_path[path] = text[:MAX_LICENSE_CHARS]
        for e in spdx_headers(text):
            self.headers[e] += 1

    def _root(self) -> str:
        return next(iter(self.tops)) + "/" if len(self.tops) == 1 and "" not in self.tops else ""

    def _at_root(self, path: str) -> bool:
        root = self._root()
        return path.startswith(root) and role(path[len(root):]) is not None

    @property
    def metadata(self) -> list[str]:
        return [v for p, v in sorted(self.metadata_by_path.items()) if self._at_root(p)]

    @property
    def files(self) -> list[tuple[str, str]]:
        return [(p, t) for p, t in sorted(self.files_by_path.items()) if self._at_root(p)]

    def files_expression(self) -> str | None:
        """ScanCode on the licence files: LICENSE/LICENCE/COPYING/UNLICENSE first; NOTICE and COPYRIGHT files
        (attributions, often of bundled code) only when those say nothing."""
        main = [t for p, t in sorted(self.files) if not re.match(r"(?i)(notice|copyright)", p.rpartition("/")[2])]
        rest = [t for p, t in sorted(self.files) if re.match(r"(?i)(notice|copyright)", p.rpartition("/")[2])]
        for group in (main, rest):
            found = join([d for d in (detect_text(t, first_only=True) for t in group) if d])
            if found:
                return found
        return None

    def decide(self, scan: str = "always") -> tuple[str | None, dict[str, Any]]:
        """(SPDX expression or None, the record for meta["license"]: the source that decided and, when
        sources disagree, what each said). `scan: fallback` runs ScanCode only when neither GitHub nor the
        package metadata named a licence (cheaper; disagreements with the files are then not recorded)."""
        github, declared_ = normalize(self.github), join(self.metadata)
        said: dict[str, str | None] = {
            "github": github,
            "metadata": declared_,
            "files": self.files_expression() if scan == "always" or not (github or declared_) else None,
            "spdx_header": self.headers.most_common(1)[0][0] if self.headers else None,
        }
        source = next((k for k, v in said.items() if v), None)
        record: dict[str, Any] = {"source": source}
        distinct = {symbols(v) for v in said.values() if v}
        if len(distinct) > 1:
            record["disagree"] = {k: v for k, v in said.items() if v}
        return (said[source] if source else None), record


def symbols(expression: str | None) -> frozenset[str]:
    """The licence keys of an expression (for agreement: `MIT AND BSD-3-Clause` == `BSD-3-Clause AND MIT`)."""
    if not expression:
        return frozenset()
    try:
        return frozenset(s.key for s in _spdx().license_symbols(expression))
    except Exception:  # noqa: BLE001
        return frozenset({expression})


def allowed(expression: str | None, allow: list[str] | None, deny: list[str]) -> str | None:
    """None when the licence passes, else the drop reason. `deny` refuses an expression naming any denied
    licence; `allow` keeps one whose every licence is allowed (`null` in allow keeps repositories without one)."""
    keys = symbols(expression)
    deny_keys = {d.lower() for d in deny}
    if keys and any(k.lower() in deny_keys for k in keys):
        return "license_denied"
    if allow is None:
        return None
    if not keys:
        return None if any(a is None or str(a).lower() in ("null", "none") for a in allow) else "license_not_allowed"
    allow_keys = {str(a).lower() for a in allow if a is not None}
    return None if all(k.lower() in allow_keys for k in keys) else "license_not_allowed"
