"""Every repository's licence (SPDX) from its own files, the allow/deny lists on every input kind, and the
opt-out list at ingest. Licence texts are the real ones installed distributions ship."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest

from corpus import storage
from corpus.engine.executor import Executor
from corpus.ingest import licenses as lic
from corpus.ingest.kinds import make_input
from corpus.ingest.optout import OptOut
from corpus.stages.ingest import (
    IngestConfig,
    IngestStage,
    LicensesConfig,
    OptOutConfig,
)


def _dist_file(dist: str, name: str) -> str:
    for f in metadata.files(dist) or []:
        if f.name == name and "licenses" in str(f):
            return Path(metadata.distribution(dist).locate_file(f)).read_text()
    raise AssertionError(f"{dist} ships no {name}")


@pytest.fixture(scope="module")
def repos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("repos")
    files = {
        "mitlib": {"LICENSE": _dist_file("rich", "LICENSE"), "lib.py": "def f():\n    return 1\n"},
        "bsdlib": {"COPYING.txt": _dist_file("jinja2", "LICENSE.txt"), "src/a.c": "int a(void) { return 0; }\n"},
        "crate": {"Cargo.toml": '[package]\nname = "x"\nlicense = "MIT OR Apache-2.0"\n', "src/lib.rs": "pub fn f() {}\n"},
        "kernelish": {"drv.c": "// SPDX-License-Identifier: GPL-2.0-only\nint x;\n", "drv.h": "/* SPDX-License-Identifier: GPL-2.0-only */\n"},
        "nolicense": {"main.py": "print('hi')\n", "docs/LICENSE": _dist_file("rich", "LICENSE")},  # not at the root: not its licence
        "npm": {"package.json": json.dumps({"name": "p", "license": "ISC"}), "LICENSE": _dist_file("rich", "LICENSE"), "i.js": "x()\n"},
    }
    for repo, tree in files.items():
        for path, text in tree.items():
            (root / repo / path).parent.mkdir(parents=True, exist_ok=True)
            (root / repo / path).write_text(text)
    return root


def _run(tmp_path: Path, repos: Path, **cfg) -> tuple[dict, list[dict], list[dict]]:
    spec = make_input(name="code", kind="repos", paths=[str(repos)], each_subdir=True)
    web = make_input(name="web", kind="warc", domain="text", paths=["pkg:corpus/samples/web_sample.warc.gz"])
    out = str(tmp_path / "out")
    results = Executor(out, seed=1).run([IngestStage(IngestConfig(inputs=[spec, web], allow_empty=True, **cfg))])
    done = storage.read_json(storage.join(out, "ingest", "_SUCCESS.json"))
    docs = [r for p in done["parts"] for r in storage.read_table(storage.join(out, "ingest", p)).to_pylist()]
    drops = [r for p in done["parts"] for r in storage.read_table(storage.join(out, "ingest", "_dropped", p)).to_pylist()]
    return results["ingest"], docs, drops


def test_each_repository_gets_its_licence_from_its_own_files(tmp_path, repos):
    _stats, docs, _drops = _run(tmp_path, repos)
    by_repo = {}
    for d in docs:
        by_repo.setdefault(d["repo"], set()).add(d["license"])
    assert by_repo["mitlib"] == {"MIT"}
    assert by_repo["bsdlib"] == {"BSD-3-Clause"}
    assert by_repo["crate"] == {"MIT OR Apache-2.0"}
    assert by_repo["kernelish"] == {"GPL-2.0-only"}
    assert by_repo["nolicense"] == {None}
    assert by_repo["npm"] == {"ISC"}  # the package's declaration outranks the file
    assert by_repo[None] == {None}  # web pages
    npm = json.loads(next(d["meta"] for d in docs if d["repo"] == "npm"))["license"]
    assert npm["source"] == "metadata" and npm["disagree"] == {"metadata": "ISC", "files": "MIT"}
    mit = json.loads(next(d["meta"] for d in docs if d["repo"] == "mitlib"))["license"]
    assert mit == {"source": "files"}


def test_allow_and_deny_apply_to_every_repository_and_spare_web_pages(tmp_path, repos):
    stats, docs, drops = _run(tmp_path, repos, licenses=LicensesConfig(allow=["MIT", "BSD-3-Clause", "GPL-2.0-only", None],
                                                                        deny=["GPL-2.0-only"]))
    kept = {d["repo"] for d in docs}
    assert kept == {"mitlib", "bsdlib", "nolicense", None}
    reasons = {(d["repo"], d["reason"]) for d in drops if d["reason"].startswith("license")}
    assert reasons == {("crate", "license_not_allowed"), ("kernelish", "license_denied"), ("npm", "license_not_allowed")}
    assert stats.dropped["license_denied"] == 2 and stats.dropped["license_not_allowed"] == 5
    assert stats.in_records == stats.kept + sum(stats.dropped.values())


def test_opt_out_list_drops_listed_repositories_and_hosts_at_ingest(tmp_path, repos):
    _stats, before, _ = _run(tmp_path / "a", repos)
    hosts = sorted({OptOut.parse("")._host_of(d["path"]) for d in before if d["repo"] is None})
    listed = tmp_path / "optout.txt"
    assert hosts == ["example.org"]  # the shipped web sample is one host's pages
    listed.write_text("# withdrawn\nMITLIB\ncrate  # case does not matter\nhttps://www.example.org/some/page\n")
    stats, docs, drops = _run(tmp_path / "b", repos, optout=OptOutConfig(list=str(listed)))
    assert {d["repo"] for d in docs} == {"bsdlib", "kernelish", "nolicense", "npm"}
    opted = [d for d in drops if d["reason"] == "opted_out"]
    assert {d["repo"] for d in opted if d["repo"]} == {"mitlib", "crate"}
    web_out = [d for d in opted if d["repo"] is None]
    assert web_out and all(hosts[0] in d["path"] for d in web_out)
    assert len(web_out) == len([d for d in before if d["repo"] is None]) == 8
    assert stats.dropped["opted_out"] == len(opted) == 2 + len(web_out)  # one drop per repository, nothing read
    assert stats.in_records == stats.kept + sum(stats.dropped.values())


def test_opt_out_entries():
    o = OptOut.parse("alice/*\nbob/lib\nexample.com\n")
    assert o.repo_entry("Alice/anything") == "alice/*" and o.repo_entry("bob/lib") == "bob/lib"
    assert o.repo_entry("bob/lib2") is None and o.repo_entry("alice") is None
    assert o.host_entry("https://docs.example.com/x") == "example.com" and o.host_entry("https://notexample.com/") is None


def test_licence_roles_and_metadata():
    assert lic.role("LICENSE") == lic.role("COPYING.md") == lic.role("LICENSES/MIT.txt") == "license_file"
    assert lic.role("numpy-2.0.dist-info/licenses/LICENSE.txt") == "license_file"
    assert lic.role("vendor/x/LICENSE") is None and lic.role("licenses.py") is None and lic.role("src/license.c") is None
    assert lic.from_metadata("pyproject.toml", '[project]\nlicense = "Apache-2.0"\n') == "Apache-2.0"
    assert lic.from_metadata("setup.cfg", "[metadata]\nclassifiers =\n  License :: OSI Approved :: MIT License\n") == "MIT"
    assert lic.from_metadata("x.dist-info/METADATA", "Metadata-Version: 2.4\nLicense-Expression: BSD-3-Clause\n\nbody") == "BSD-3-Clause"


def test_installed_distributions_get_the_licence_their_dist_info_declares(tmp_path):
    """The default run's input kind: the .dist-info folder is not ingested as documents but is the evidence."""
    spec = make_input(name="code", kind="python_dists", distributions=["rich", "jinja2"])
    out = str(tmp_path / "out")
    Executor(out, seed=1).run([IngestStage(IngestConfig(inputs=[spec]))])
    done = storage.read_json(storage.join(out, "ingest", "_SUCCESS.json"))
    rows = [r for p in done["parts"] for r in storage.read_table(storage.join(out, "ingest", p), columns=["repo", "license"]).to_pylist()]
    assert {(r["repo"], r["license"]) for r in rows} == {("pypi/rich", "MIT"), ("pypi/jinja2", "BSD-3-Clause")}


def test_scan_fallback_skips_the_detector_where_metadata_decides(tmp_path, repos, monkeypatch):
    calls = []
    real = lic.detect_text
    monkeypatch.setattr(lic, "detect_text", lambda text, first_only: calls.append(first_only) or real(text, first_only))
    _stats, docs, _ = _run(tmp_path, repos, licenses=LicensesConfig(scan="fallback"))
    npm = json.loads(next(d["meta"] for d in docs if d["repo"] == "npm"))["license"]
    assert npm == {"source": "metadata"}  # the MIT LICENSE file was not scanned: no disagreement recorded
    assert {d["license"] for d in docs if d["repo"] == "mitlib"} == {"MIT"}  # no metadata: the files decide
    assert calls.count(True) == 2  # mitlib's LICENSE and bsdlib's COPYING.txt only


def test_a_source_tarball_licence_under_its_top_folder_is_found(tmp_path):
    import tarfile

    tree = tmp_path / "proj-1.0"
    (tree / "src").mkdir(parents=True)
    (tree / "LICENSE").write_text(_dist_file("rich", "LICENSE"))
    (tree / "src" / "a.py").write_text("x = 1\n")
    (tree / "src" / "LICENSE").write_text(_dist_file("jinja2", "LICENSE.txt"))  # vendored: not the project's
    tar = tmp_path / "proj-1.0.tar.gz"
    with tarfile.open(tar, "w:gz") as t:
        t.add(tree, arcname="proj-1.0")
    spec = make_input(name="code", kind="repos", paths=[str(tar)])
    out = str(tmp_path / "out")
    Executor(out, seed=1).run([IngestStage(IngestConfig(inputs=[spec]))])
    done = storage.read_json(storage.join(out, "ingest", "_SUCCESS.json"))
    rows = [r for p in done["parts"] for r in storage.read_table(storage.join(out, "ingest", p), columns=["path", "license"]).to_pylist()]
    assert {r["license"] for r in rows} == {"MIT"} and len(rows) == 3


def test_a_licence_text_seen_before_is_not_scanned_again(monkeypatch):
    """ScanCode runs once per distinct (cut) text in a process; the answer is the same either way."""
    import licensedcode.detection

    lic._detections.cache_clear()
    calls = []
    real = licensedcode.detection.detect_licenses
    monkeypatch.setattr(licensedcode.detection, "detect_licenses", lambda **kw: calls.append(1) or real(**kw))
    mit = Path(metadata.distribution("pytest").locate_file("pytest-9.2.0.dist-info/licenses/LICENSE")).read_text()
    first = lic.detect_text(mit, first_only=True)
    assert first == "MIT" and lic.detect_text(mit, first_only=True) == first and len(calls) == 1
    assert lic.detect_text(mit + "\n", first_only=True) == "MIT" and len(calls) == 2  # another text: scanned
