"""The token never leaves the client whatever the server answers (tests/github_server.py echoing every
request back), and repository names from the API are checked before a request is built from them."""

from __future__ import annotations

import logging
import os

import pytest

from corpus.engine.executor import Executor
from corpus.ingest import github as gh
from corpus.ingest.github_api import GitHubClient, GitHubError, scrub, valid_full_name
from corpus.ingest.limits import Limits
from tests.corpus.ingest.test_github_ingest import TOKEN, _drops, _repos, _stage
from tests.github_server import FakeGitHub


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("CORPUS_GH_TEST_TOKEN", TOKEN)


def _files_holding(root: str, needle: str) -> list[str]:
    found = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                if needle.encode() in f.read():
                    found.append(os.path.join(dirpath, name))
    return found


@pytest.mark.parametrize("echo", ["json", "text"])
def test_an_echoed_token_is_in_no_drop_detail_log_or_file(tmp_path, token, caplog, echo):
    out = str(tmp_path / "out")
    caplog.set_level(logging.DEBUG)
    with FakeGitHub(_repos(), token=TOKEN) as server:
        stage = _stage(server)
        stage.bind_output(out, False)
        stage.plan()
        del server.repos["carol/tool"]  # 404 at download, the answer echoing the request with its header
        server.echo = echo
        Executor(out, seed=1, resume=True).run([stage])
    detail = [d["detail"] for d in _drops(out) if d["reason"] == "download_failed"]
    assert len(detail) == 1 and "404" in detail[0]
    assert "<REDACTED>" in detail[0]  # the echo reached the client: the scrub, not luck, kept the token out
    assert TOKEN not in caplog.text
    assert _files_holding(out, TOKEN) == []


def test_an_exhausted_retry_with_an_echo_raises_without_the_token(token, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeGitHub(_repos(), token=TOKEN) as server:
        server.echo = "json"
        server.faults = {n: (503, {}) for n in range(1, 20)}
        client = GitHubClient(server.api_url, TOKEN, backoff_s=0.001, max_retries=2)
        with pytest.raises(GitHubError) as exc:
            client.get("search/repositories", {"q": "x"})
    assert "503" in str(exc.value) and TOKEN not in str(exc.value) and "<REDACTED>" in str(exc.value)
    assert TOKEN not in caplog.text


def test_corpus_run_failing_on_an_echoing_graphql_leaks_nothing(tmp_path, token, capfd):
    from corpus.cli import main

    with FakeGitHub(_repos(), token=TOKEN) as server:
        server.echo = "graphql"
        cfg = tmp_path / "gh.yaml"
        cfg.write_text(f"""
seed: 1
run: [ingest]
inputs:
  - {{name: github, kind: github, api_url: "{server.api_url}", token_env: CORPUS_GH_TEST_TOKEN,
      created_after: 2021-01-01, created_before: 2021-06-01}}
""")
        out = tmp_path / "out"
        code = main(["run", str(cfg), "--output", str(out), "--in-process"])
    captured = capfd.readouterr()
    assert code != 0
    assert "GraphQL" in captured.err + (out / "logs" / "run.log").read_text()
    assert TOKEN not in captured.out + captured.err
    assert _files_holding(str(out), TOKEN) == []


def test_scrub_removes_the_token_in_every_form_and_any_authorization_value():
    GitHubClient("http://127.0.0.1:1", "tok_A1b2C3d4E5f6")
    import base64

    basic = base64.b64encode(b"x-access-token:tok_A1b2C3d4E5f6").decode()
    text = scrub(f'{{"Authorization": "Bearer other-token-xyz"}} tok_A1b2C3d4E5f6 tok_A1b2C3d4E5f6 {basic} authorization: token zzz')
    assert "tok_A1b2C3d4E5f6" not in text and basic not in text and "other-token-xyz" not in text and "zzz" not in text
    assert repr(GitHubClient("http://127.0.0.1:1", "tok_A1b2C3d4E5f6")).count("tok_") == 0


@pytest.mark.parametrize("name", ["alice/..", "alice/.", "../etc", "alice/lib?x=1", "alice/lib#frag", "alice/a/b", "al ice/lib",
                                  "alice/lib%2f..", "-alice/lib", "alice/", "/lib", "a" * 40 + "/lib", 7])
def test_invalid_full_names_are_refused(name):
    assert not valid_full_name(name)


@pytest.mark.parametrize("name", ["alice/lib", "a-b/c.d_e-f", "A1/.github", "x/" + "y" * 100])
def test_valid_full_names_pass(name):
    assert valid_full_name(name)


def test_a_hostile_name_from_the_api_is_a_drop_and_no_request(token):
    with FakeGitHub(_repos(), token=TOKEN) as server:
        client = GitHubClient(server.api_url, TOKEN)
        rows = [{"full_name": "alice/../../user", "commit_sha": "a" * 40}, {"full_name": "alice/lib", "commit_sha": "x?y=1"}]
        items = [i for row in rows for i in gh.read_repo(client, row, source="github", domain="code", max_bytes=1000, limits=Limits())]
        assert server.api_requests == 0
    assert [d.reason for d in items] == ["invalid_repository_name"] * 2
