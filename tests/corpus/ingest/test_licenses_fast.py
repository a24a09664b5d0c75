"""Ingest's ScanCode licence detection with `RulePrefilter` in front of ScanCode's candidate ranking: the same
detections as ScanCode as shipped, for much less work. Licence texts are the real ones installed distributions
ship (in their .dist-info/)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from corpus.ingest import licenses as lic


def _dist_licence(dist: str, name: str) -> str:
    for f in metadata.files(dist) or []:
        if f.name == name and ".dist-info" in str(f):
            return Path(metadata.distribution(dist).locate_file(f)).read_text()[:lic.MAX_LICENSE_CHARS]
    raise AssertionError(f"{dist} ships no {name}")


@pytest.fixture(scope="module")
def match_set():
    lic._index()
    from licensedcode import match_set  # deferred: ScanCode is heavy (loaded by lic._index above)

    return match_set


def _shipped(text: str) -> tuple[str, ...]:
    with lic.without_prefilter():
        return lic.scan(text)


def _count_calls(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[int]:
    calls = [0]
    inner = getattr(owner, name)

    def counted(*args, **kwargs):
        calls[0] += 1
        return inner(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_ingest_detection_ranks_candidates_through_the_prefilter(match_set) -> None:
    assert isinstance(match_set.compute_candidates.__self__, lic.RulePrefilter)
    with lic.without_prefilter():
        assert not hasattr(match_set.compute_candidates, "__self__")  # ScanCode's own function
    assert isinstance(match_set.compute_candidates.__self__, lic.RulePrefilter)


def test_exact_licence_text_is_answered_before_any_candidate_ranking(match_set, monkeypatch) -> None:
    """An exact known licence (requests' Apache-2.0 LICENSE) matches by hash: approximate matching, the part
    the prefilter cuts, never runs, and the answer is ScanCode's."""
    text = _dist_licence("requests", "LICENSE")
    ranked = _count_calls(monkeypatch, match_set.compute_candidates.__self__, "passing")
    assert lic.scan(text) == _shipped(text) == ("Apache-2.0",)
    assert ranked == [0]


def test_licence_with_extra_text_same_detections_far_fewer_rules_compared(match_set, monkeypatch) -> None:
    """sympy's LICENSE: BSD-3-Clause, then the licences of patches taken from other projects. Approximate
    matching runs; ScanCode compares the query with far fewer rules and detects the same licences."""
    text = _dist_licence("sympy", "LICENSE")
    compared = _count_calls(monkeypatch, match_set, "compare_token_sets")
    shipped = _shipped(text)
    shipped_compared, compared[0] = compared[0], 0
    fast = lic.scan(text)
    assert fast == shipped
    assert fast[0] == "BSD-3-Clause"
    assert 0 < compared[0] < shipped_compared / 10


def test_modified_bsd3_still_gets_approximate_detection_same_answer(match_set, monkeypatch) -> None:
    """jinja2's BSD-3-Clause with its names changed is no known text: it goes through approximate matching
    (through the prefilter) and gets ScanCode's answer."""
    text = _dist_licence("jinja2", "LICENSE.txt").replace("Pallets", "Example Widgets Ltd").replace(
        "the copyright holder", "Example Widgets Ltd")
    ranked = _count_calls(monkeypatch, match_set.compute_candidates.__self__, "passing")
    fast = lic.scan(text)
    assert ranked[0] > 0
    assert fast == _shipped(text)
    assert lic.detect_text(text, first_only=True) == fast[0] == "BSD-3-Clause"


@pytest.mark.parametrize("dist,name", [("sympy", "LICENSE"), ("numpy", "LICENSE.txt")])
def test_prefiltered_candidates_are_scancodes_candidates(match_set, dist: str, name: str) -> None:
    """The ranked candidates themselves (scores, rule ids, order), for the whole text and each query run, in
    both of ScanCode's modes (near duplicates only, and all)."""
    from licensedcode import query  # deferred: ScanCode is heavy

    idx = lic._index()
    prefilter = match_set.compute_candidates.__self__
    qry = query.build_query(query_string=_dist_licence(dist, name), idx=idx)
    runs = [qry.whole_query_run(), *qry.query_runs]
    compared, cut = 0, 0
    for run in runs:
        qset, _ = match_set.build_set_and_mset(run.matchable_tokens())
        if qset:  # the ranking cut (rules that cannot be in ScanCode's 700 best) is exercised here
            cut += len(prefilter.passing(qset, idx.approx_matchable_rids)) - \
                len(prefilter.passing(qset, idx.approx_matchable_rids, best=700))
        for top, high in ((10, True), (70, False)):
            kwargs = {"matchable_rids": idx.approx_matchable_rids, "top": top, "high_resemblance": high}
            with lic.without_prefilter():
                shipped = match_set.compute_candidates(query_run=run, idx=idx, **kwargs)
            fast = prefilter.compute_candidates(query_run=run, idx=idx, **kwargs)
            assert [(s, rid, r.identifier) for s, rid, r, _ in fast] == [(s, rid, r.identifier) for s, rid, r, _ in shipped]
            assert [h for *_, h in fast] == [h for *_, h in shipped]
            compared += len(shipped)
    assert compared > 0 and cut > 0
