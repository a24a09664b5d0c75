"""Secrets and personal data are replaced before dedup and tokenization; look-alikes survive; the files are
kept and the counts reach meta, the stage's stats, explain and the report summary."""

from __future__ import annotations

import json
import random
from importlib import metadata
from pathlib import Path

import pytest

from corpus import storage
from corpus.engine.executor import Executor
from corpus.ingest.kinds import make_input
from corpus.stages.ingest import IngestConfig, IngestStage
from corpus.stages.langid import LangIdStage
from corpus.stages.redact import RedactStage
from redact import PLACEHOLDERS, Redactor
from redact.labelled import build, measure, negatives, positives


def _real_files(n: int) -> list[tuple[str, str]]:
    files = [f for f in metadata.files("rich") or [] if str(f).endswith(".py")][:n]
    return [(str(f), Path(metadata.distribution("rich").locate_file(f)).read_text()) for f in files]


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


@pytest.mark.parametrize("k", range(13))
def test_each_planted_kind_is_replaced_by_its_placeholder(redactor, k):
    kind, value, line = positives(random.Random(k))[k]
    text = f"import os\n\n{line}\n\ndef f():\n    return 1\n"
    out = redactor.redact(text, "settings.py")
    assert value not in out.text
    assert out.counts[kind] >= 1, out.counts
    assert PLACEHOLDERS[kind] in out.text
    assert "def f():\n    return 1" in out.text  # the rest of the file is untouched


@pytest.mark.parametrize("k", range(17))
def test_look_alikes_survive(redactor, k):
    kind, _value, line = negatives(random.Random(k))[k]
    text = f"import os\n\n{line}\n"
    out = redactor.redact(text, "settings.py")
    assert out.text == text, (kind, out.counts)


def test_labelled_set_from_real_files_every_kind_found_no_look_alike_touched(redactor):
    samples = build(_real_files(40), seed=3, per_file=2)
    m = measure(redactor, samples)
    assert set(m["recall"]) == {"aws_key", "github_token", "slack_token", "stripe_key", "private_key", "jwt", "basic_auth",
                                "keyword", "high_entropy_base64", "email", "ip_address"}
    assert min(m["recall"].values()) == 1.0
    assert min(m["lookalikes_kept"].values()) == 1.0
    assert m["precision_all"] >= 0.9


def test_a_private_key_block_goes_whole(redactor):
    _kind, _value, line = positives(random.Random(1))[5]
    out = redactor.redact(line + "\nx = 1\n", "k.py")
    assert "PRIVATE KEY" not in out.text and out.text.count("<KEY>") == 1 and out.text.endswith("x = 1\n")


def _pipeline(tmp_path: Path, repo: Path):
    spec = make_input(name="code", kind="repos", paths=[str(repo)])
    out = str(tmp_path / "out")
    results = Executor(out, seed=1).run([IngestStage(IngestConfig(inputs=[spec])), LangIdStage(), RedactStage()])
    return out, results


def test_redact_stage_keeps_every_file_and_no_planted_value_reaches_its_output(tmp_path):
    repo = tmp_path / "app"
    samples = build(_real_files(12), seed=5, per_file=2)
    for s in samples:
        (repo / s.path).parent.mkdir(parents=True, exist_ok=True)
        (repo / s.path).write_text(s.text)
    out, results = _pipeline(tmp_path, repo)
    st = results["redact"]
    assert st.in_records == st.kept == len(samples) and not st.dropped
    done = storage.read_json(storage.join(out, "redact", "_SUCCESS.json"))
    rows = [r for p in done["parts"] for r in storage.read_table(storage.join(out, "redact", p)).to_pylist()]
    texts = "\n".join(r["text"] for r in rows)
    for s in samples:
        for _kind, value in s.planted:
            assert value not in texts
        for _kind, value in s.negatives:
            assert value in texts
    per_doc = [json.loads(r["meta"]).get("redacted", {}) for r in rows]
    assert sum(sum(c.values()) for c in per_doc) == sum(v for k, v in st.counts.items() if k != "files_redacted")
    assert st.counts["files_redacted"] == sum(1 for c in per_doc if c) >= len(samples)
    assert all(r["size"] == len(r["text"].encode()) for r in rows)
    assert done["stats"]["counts"]["files_redacted"] == st.counts["files_redacted"]


def test_explain_reports_what_was_redacted(tmp_path):
    from corpus.commands.explain import Explainer, load_stage_configs

    f = tmp_path / "conf.py"
    _kind, _value, line = positives(random.Random(0))[2]
    f.write_text(f"import os\n\n{line}\n\n\ndef main():\n    return os.getcwd()\n")
    [row] = list(Explainer(load_stage_configs()).explain_paths([str(f)], root=str(tmp_path)))
    assert row["redacted"] == {"github_token": 1}


@pytest.mark.parametrize("line", [
    "# that is not a comment line [3.3.2.4^1], see the standard",  # section numbers (numpy f2py)
    "    # Section 4.2.3.2 of RFC 5891",
    "connect('1.2.3.4', port=22)  # the stock example address",
    "NFCISO15693ReadMultipleBlocksConfiguration = 'NFCISO15693ReadMultipleBlocksConfiguration'",  # pygments' cocoa table
    "ICON = 'R0lGODlhMAAiAPcAMf/////37//35//n1v97Off///f/9/f37/fexvfOvfeE'",  # a GIF in nltk
    "s3://user:password@host/bucket",  # the word 'password' as a password in docs
    "fs = AzureFileSystem(account_name='fake-account', account_key='fakeaccountkey')",
    "assert np.char.isalnum(['01234ABCDE6789'])",
    "# using Guile 3.0.3.45-5a1e7.",  # a version with a build suffix (pygments' scheme builtins)
    "(r'#\\|', Comment.Multiline, '#push'),  # (cf. Hyperspec 2.4.8.19)",  # a standard's section (pygments' lisp lexer)
])
def test_look_alikes_seen_in_the_default_run_survive(redactor, line):
    assert redactor.redact(line, "x.py").text == line


@pytest.mark.parametrize("line", [
    "# the mirror at 3.5.140.2 answers slowly",  # AWS's 3.x range, in prose
    'UPSTREAM = "3.5.140.2"',
    "ssh deploy@45.33.32.156 -p 22",
    "ping 93.184.216.34-based hosts",
])
def test_public_addresses_next_to_version_rules_are_still_found(redactor, line):
    assert "<IP_ADDRESS>" in redactor.redact(line, "x.py").text


def test_run_report_summary_and_page_show_redaction_and_licences(tmp_path):
    from corpus.engine.executor import write_stats_report
    from corpus.runreport.render import render_report
    from corpus.runreport.summary import build_summary

    repo = tmp_path / "app"
    for s in build(_real_files(4), seed=9, per_file=2):
        (repo / s.path).parent.mkdir(parents=True, exist_ok=True)
        (repo / s.path).write_text(s.text)
    (repo / "LICENSE").write_text(Path(metadata.distribution("rich").locate_file(
        next(f for f in metadata.files("rich") if f.name == "LICENSE"))).read_text())
    out, results = _pipeline(tmp_path, repo)
    write_stats_report(Path(out), results)
    summary = build_summary(out)
    assert summary["redaction"] == dict(results["redact"].counts) and summary["redaction"]["files_redacted"] >= 4
    assert summary["licenses"]["files"] == {"MIT": results["redact"].kept}
    page = render_report(summary)
    assert 'id="safety"' in page and "files_redacted" in page
