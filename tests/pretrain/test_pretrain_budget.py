"""GPU-hour arithmetic of pretrain.budget: tokens x FLOPs per token / (peak x MFU), and the MFU read from
`make gpu-check`'s summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pretrain.budget import active_params, gpu_hours, measured_mfu, proxy_1b, tokens_per_gpu_hour


def test_proxy_is_a_dense_1_3b_model_and_hours_follow_the_formula() -> None:
    cfg = proxy_1b()
    n = active_params(cfg)
    assert 1.2e9 < n < 1.4e9
    per_token = 6 * n + 6 * 24 * 4096 * 16 * 256
    assert gpu_hours(cfg, 1e12, 4096, 989.0, 0.25) == pytest.approx(1e12 * per_token / (989e12 * 0.25) / 3600)
    assert tokens_per_gpu_hour(cfg, 4096, 989.0, 0.5) == pytest.approx(2 * tokens_per_gpu_hour(cfg, 4096, 989.0, 0.25))


def test_measured_mfu_comes_from_the_gpu_check_summary(tmp_path: Path) -> None:
    path = tmp_path / "gpu_check.json"
    path.write_text(json.dumps({"torch": "2.x", "runs": {"1gpu": {"mfu": 0.31}, "8gpu": {"mfu": 0.27}}}))
    assert measured_mfu(path) == 0.31
    path.write_text(json.dumps({"runs": {"cpu": {"mfu": None}}}))
    assert measured_mfu(path) is None
    assert measured_mfu(tmp_path / "missing.json") is None
