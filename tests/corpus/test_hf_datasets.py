"""Hugging Face `datasets` reads a real run's output the ways docs/datasets.md shows: stage folders by glob,
the shards by folder (splits train + validation), and every stage through the run's dataset card."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # before datasets reads its config: never the Hub

import datasets  # noqa: E402

from corpus.engine.executor import Executor  # noqa: E402
from corpus.engine.runner import InProcessRunner  # noqa: E402
from corpus.hfcard import write_dataset_card  # noqa: E402
from pipelines.config import PipelineConfig  # noqa: E402
from pipelines.graph import STAGE_ORDER, build_stages  # noqa: E402


def _repos(root: Path) -> None:
    for r in range(4):
        pkg = root / "repos" / f"repo{r}" / "pkg"
        pkg.mkdir(parents=True)
        for i in range(4):
            body = "\n".join(f"def f_{r}_{i}_{j}(value):\n    return value * {j} + {i} - {r}\n" for j in range(10))
            (pkg / f"mod{i}.py").write_text(body)
        (pkg / "blob.bin").write_bytes(b"\0\1\2" * 50)  # dropped at ingest: the quarantine is not empty


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A whole pipeline run, in process, on four small repositories and the bundled WARC sample (~5 s)."""
    root = tmp_path_factory.mktemp("hf")
    _repos(root)
    cfg = PipelineConfig.model_validate({
        "inputs": [{"name": "github", "kind": "repos", "domain": "code", "paths": [str(root / "repos")], "each_subdir": True},
                   {"name": "web", "kind": "warc", "domain": "text", "paths": ["pkg:corpus/samples/web_sample.warc.gz"]}],
        "stages": {"ingest": {"units_per_part": 2}, "dedup_near": {"num_perm": 64, "bands": 16},
                   "shards": {"vocab_size": 600, "seq_len": 129, "rows_per_shard": 8, "keep_shares": False}},
    })
    out = root / "out"
    results = Executor(str(out), seed=cfg.seed, runner=InProcessRunner()).run(build_stages(cfg))
    return out, results


def _rows(files: list[Path]) -> int:
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def test_stage_folder_and_quarantine_load_with_the_documented_globs(run, tmp_path: Path) -> None:
    out, results = run
    cache = str(tmp_path / "hf-cache")
    langid = datasets.load_dataset("parquet", data_files={"train": f"{out}/langid/part-*.parquet"}, split="train", cache_dir=cache)
    assert langid.num_rows == results["langid"].out_records > 0
    assert {"id", "text", "language"} <= set(langid.column_names)
    dropped = datasets.load_dataset("parquet", data_files={"train": f"{out}/ingest/_dropped/part-*.parquet"},
                                    split="train", cache_dir=cache)
    assert dropped.num_rows == sum(results["ingest"].dropped.values()) > 0
    assert "reason" in dropped.column_names and "binary" in " ".join(dropped["reason"])
    # What the glob avoids: the folder as is makes datasets parse _SUCCESS.json as Parquet.
    assert (out / "langid" / "_SUCCESS.json").is_file()


def test_shards_folder_gives_train_and_validation(run, tmp_path: Path) -> None:
    out, _ = run
    manifest = json.loads((out / "shards" / "manifest.json").read_text())
    ds = datasets.load_dataset("parquet", data_dir=str(out / "shards"), cache_dir=str(tmp_path / "hf-cache"))
    assert set(ds) == {"train", "validation"}
    for split, held in (("train", "train"), ("validation", "eval")):
        assert ds[split].num_rows == sum(s["rows"] for s in manifest["shards"] if s["split"] == held) > 0
    assert {Path(s["path"]).name.split("-")[0] for s in manifest["shards"]} == {"train", "validation"}


def test_dataset_card_names_every_committed_stage(run, tmp_path: Path) -> None:
    out, results = run
    card = write_dataset_card(str(out), [*STAGE_ORDER, "not_a_stage"])
    assert card is not None and Path(card) == out / "README.md"
    cache = str(tmp_path / "hf-cache")
    for stage in ("ingest", "langid", "repo_samples"):
        assert datasets.load_dataset(str(out), stage, split="train", cache_dir=cache).num_rows == results[stage].out_records
    quarantine = datasets.load_dataset(str(out), "ingest_dropped", split="train", cache_dir=cache)
    assert quarantine.num_rows == _rows(sorted((out / "ingest" / "_dropped").glob("part-*.parquet")))
    shards = datasets.load_dataset(str(out), "shards", cache_dir=cache)
    assert set(shards) == {"train", "validation"} and sum(d.num_rows for d in shards.values()) == results["shards"].out_records
    names = datasets.get_dataset_config_names(str(out))
    assert set(STAGE_ORDER) <= set(names) and "not_a_stage" not in names
    # At the root, the card leaves each stage folder readable as a Parquet dataset by pyarrow.
    assert pq.read_table(out / "langid").num_rows == results["langid"].out_records
    assert write_dataset_card(str(tmp_path / "empty"), STAGE_ORDER) is None
