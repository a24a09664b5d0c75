"""Without an address the runner starts a local Ray instance of its own (`address="local"`): a bare
`ray.init()` joins any cluster a `ray start` left on the machine, whose workers may run other code."""

from __future__ import annotations

import pytest


class _Started(Exception):
    pass


def test_no_address_starts_a_local_instance_not_a_stray_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    from corpus.engine.ray_runner import RayRunner

    calls: list[dict] = []

    def init(*args, **kwargs):
        calls.append({"args": args, **kwargs})
        raise _Started

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    with pytest.raises(_Started):
        RayRunner(None, num_cpus=2)
    assert calls[0]["address"] == "local" and calls[0]["num_cpus"] == 2 and not calls[0]["args"]
