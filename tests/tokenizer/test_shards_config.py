"""`stages.shards` is the tokenizer library's ShardConfig: validated once, every library key settable from
YAML, unknown keys rejected, and handed to the library functions without being copied into another shape."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from corpus.errors import PreflightError
from corpus.stages.shards import ShardsConfig, ShardsStage
from pipelines.config import PipelineConfig, load_config
from tokenizer.config import ShardConfig

STAGE_KEYS = {"tokenizer", "vocab_size", "total_vocab_size", "train_bytes", "fast_encoder", "allow_empty", "fan_in"}
INPUTS = [{"name": "x", "kind": "repos", "paths": ["."]}]


def _shards(section: dict) -> ShardsConfig:
    return PipelineConfig.model_validate({"inputs": INPUTS, "stages": {"shards": section}}).stages.shards


def test_the_yaml_section_validates_into_the_library_config() -> None:
    cfg = load_config().stages.shards
    assert isinstance(cfg, ShardConfig)
    lib = {f.name for f in dataclasses.fields(ShardConfig)}
    stage = {f.name for f in dataclasses.fields(ShardsConfig)}
    assert lib <= stage and stage - lib == STAGE_KEYS  # the stage adds its own keys and repeats none


def test_every_library_key_is_settable_from_yaml() -> None:
    cfg = _shards({"row_group_rows": 8, "compression_level": 9, "batch_size": 32, "fim_spm_rate": 0.25,
                   "fim_mode": "spm", "chunk_tokens": 1000, "seq_len": 2049})
    assert (cfg.row_group_rows, cfg.compression_level, cfg.batch_size) == (8, 9, 32)
    assert cfg.fim.mode == "spm" and cfg.fim.spm_rate == 0.25 and cfg.chunk_len == 1000
    assert cfg.fim.manifest()["spm_rate"] == 1.0  # mode spm: every FIM example is SPM


@pytest.mark.parametrize(("section", "where"), [
    ({"seqlen": 10}, "stages.shards.seqlen"),
    ({"fim_mode": "mps"}, "stages.shards.fim_mode"),
    ({"seq_len": 100, "chunk_tokens": 200}, "chunk_tokens 200 exceeds seq_len 100"),
    ({"seq_len": 1 << 21, "rows_per_shard": 1024}, "rows_per_shard * seq_len"),
])
def test_bad_keys_and_values_are_rejected_when_the_config_loads(tmp_path, section: dict, where: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"inputs": INPUTS, "stages": {"shards": section}}))
    with pytest.raises(PreflightError, match=where.replace("*", r"\*")):
        load_config(str(path))


def test_a_library_key_changes_the_stage_key() -> None:
    base = ShardsStage(_shards({}))
    assert base.fingerprint() == ShardsStage(_shards({})).fingerprint()
    assert base.fingerprint() != ShardsStage(_shards({"row_group_rows": 8})).fingerprint()
    assert base.config_json()["row_group_rows"] == 64 and base.config_json()["fim_domains"] == ["code"]
