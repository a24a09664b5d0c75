"""The storage layer on a local folder and on a real S3 server (SeaweedFS), and the engine on both."""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa
import pytest

from corpus import storage


@pytest.fixture(params=["local", "s3"])
def root(request, tmp_path, monkeypatch):
    """An output location: a local folder, or a fresh bucket on the test S3 server."""
    if request.param == "local":
        yield str(tmp_path / "out")
        return
    server = request.getfixturevalue("s3_server")
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    storage.configure(None)  # drop cached filesystems made under another environment
    yield f"s3://{server.bucket}/" + hashlib.sha1(request.node.name.encode()).hexdigest()[:12]
    storage.configure(None)


def test_write_read_list_remove(root: str) -> None:
    storage.write_json(storage.join(root, "a", "x.json"), {"k": [1, 2]})
    storage.write_table(storage.join(root, "a", "t.parquet"), pa.table({"n": [1, 2, 3]}))
    assert storage.read_json(storage.join(root, "a", "x.json")) == {"k": [1, 2]}
    assert storage.read_table(storage.join(root, "a", "t.parquet")).column("n").to_pylist() == [1, 2, 3]
    sizes = storage.list_sizes(storage.join(root, "a"))
    assert sorted(sizes) == ["t.parquet", "x.json"] and all(v > 0 for v in sizes.values())
    assert storage.list_sizes(storage.join(root, "missing")) == {}
    assert storage.find(root) == ["a/t.parquet", "a/x.json"]
    storage.remove(storage.join(root, "a"), recursive=True)
    assert not storage.exists(storage.join(root, "a", "x.json"))
    assert storage.find(root) == []


def test_failed_writer_leaves_nothing(root: str) -> None:
    uri = storage.join(root, "b", "part-00000.parquet")
    schema = pa.schema([("n", pa.int64())])
    with pytest.raises(RuntimeError):
        with storage.PartWriter(uri, schema) as w:
            w.write(pa.table({"n": [1]}))
            raise RuntimeError("killed mid-part")
    assert not storage.exists(uri)
    assert storage.listdir(storage.join(root, "b")) == []  # no temporary left behind either
    with storage.PartWriter(uri, schema) as w:
        w.write(pa.table({"n": [7, 8]}))
    assert [b.num_rows for b in storage.iter_batches(uri, 10)] == [2]


def _small_config(tmp_path):
    from pipelines.config import PipelineConfig

    repo = tmp_path / "repos" / "alpha"
    repo.mkdir(parents=True)
    for i in range(5):
        (repo / f"m{i}.py").write_text("\n".join(f"def f_{i}_{j}(x):\n    return x * {j} + {i}\n" for j in range(10)))
    (repo / "copy.py").write_text((repo / "m0.py").read_text())
    (repo / "blob.bin").write_bytes(b"\0\1\2" * 50)
    return PipelineConfig.model_validate({
        "inputs": [
            {"name": "github", "kind": "repos", "paths": [str(tmp_path / "repos")], "each_subdir": True},
            {"name": "web", "kind": "warc", "domain": "text", "paths": ["pkg:corpus/samples/web_sample.warc.gz"]},
        ],
        "run": ["ingest", "langid", "dedup_exact", "filter"],
    })


def _rows(root: str, stage: str) -> list[dict]:
    done = storage.read_json(storage.join(root, stage, "_SUCCESS.json"))
    table = storage.read_tables([storage.join(root, stage, p) for p in done["parts"]])
    return sorted(json.dumps(r, sort_keys=True) for r in table.to_pylist())


def test_engine_on_object_store_matches_local(root: str, tmp_path) -> None:
    """The same stages into a local folder and into `root` (local or s3://) give the same rows, and a
    rerun with --resume reuses every committed part."""
    from corpus.engine.executor import Executor
    from pipelines.graph import build_stages

    cfg = _small_config(tmp_path)
    reference = str(tmp_path / "reference")
    Executor(reference, seed=cfg.seed).run(build_stages(cfg))
    first = Executor(root, seed=cfg.seed).run(build_stages(cfg))
    for stage in ("ingest", "langid", "dedup_exact", "filter"):
        assert _rows(root, stage) == _rows(reference, stage), stage
    assert first["dedup_exact"].dropped["exact_duplicate"] == 2  # m0.py = copy.py, and the web sample's mirror page
    again = Executor(root, seed=cfg.seed, resume=True)
    again.run(build_stages(cfg))
    assert again.ran == []  # every stage finished earlier with the same key
    assert storage.find(storage.join(root, "_tmp")) == []  # scratch gone once committed
    assert "dedup_exact/_SUCCESS.json" in storage.find(root)


def test_object_store_inputs_read_like_local_ones(s3_server, tmp_path, monkeypatch) -> None:
    """WARC files and repository tarballs on S3 (globbed through the storage layer, endpoint from
    AWS_ENDPOINT_URL) give the same documents as the same files on disk."""
    import io
    import tarfile
    from importlib import resources

    from corpus.engine.executor import Executor
    from corpus.ingest.kinds import make_input
    from corpus.stages.ingest import IngestConfig, IngestStage

    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    storage.configure(None)
    local = tmp_path / "in"
    local.mkdir()
    warc = resources.files("corpus").joinpath("samples/web_sample.warc.gz").read_bytes()
    (local / "web.warc.gz").write_bytes(warc)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i in range(3):
            data = f"def f{i}(x):\n    return x * {i}\n".encode()
            info = tarfile.TarInfo(f"proj/m{i}.py")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (local / "proj.tar.gz").write_bytes(buf.getvalue())
    remote = f"s3://{s3_server.bucket}/inputs-{tmp_path.name}"
    for name in ("web.warc.gz", "proj.tar.gz"):
        storage.upload_file(local / name, f"{remote}/{name}")

    def docs(root: str, out: str) -> list[tuple]:
        inputs = [make_input(name="gh", kind="repos", paths=[f"{root}/*.tar.gz"]),
                  make_input(name="web", kind="warc", domain="text", paths=[f"{root}/*.warc.gz"])]
        Executor(out, seed=1).run([IngestStage(IngestConfig(inputs=inputs))])
        done = storage.read_json(storage.join(out, "ingest", "_SUCCESS.json"))
        table = storage.read_tables([storage.join(out, "ingest", p) for p in done["parts"]])
        return sorted(zip(table.column("path").to_pylist(), table.column("text").to_pylist()))

    from_s3, from_disk = docs(remote, str(tmp_path / "a")), docs(str(local), str(tmp_path / "b"))
    assert from_s3 == from_disk and len(from_s3) > 3
    storage.configure(None)


def test_copy_is_whole_across_local_and_object_stores(root: str, tmp_path) -> None:
    """storage.copy: local -> root, within root (server-side on S3), root -> local."""
    data = bytes(range(256)) * 12_000
    src = str(tmp_path / "a.bin")
    storage.write_bytes(src, data)
    storage.copy(src, storage.join(root, "c", "a.bin"))
    storage.copy(storage.join(root, "c", "a.bin"), storage.join(root, "c", "b.bin"))
    storage.copy(storage.join(root, "c", "b.bin"), str(tmp_path / "back.bin"))
    assert storage.read_bytes(str(tmp_path / "back.bin")) == data
    assert storage.list_sizes(storage.join(root, "c")) == {"a.bin": len(data), "b.bin": len(data)}


def test_upload_file_with_move_gives_the_file_away(root: str, tmp_path) -> None:
    local = tmp_path / "model.bin"
    local.write_bytes(b"m" * 100_000)
    storage.upload_file(local, storage.join(root, "m", "model.bin"), move=True)
    assert storage.read_bytes(storage.join(root, "m", "model.bin")) == b"m" * 100_000
    assert storage.list_sizes(storage.join(root, "m")) == {"model.bin": 100_000}
