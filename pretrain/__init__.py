"""Minimal DeepSeekMoE pretraining loop on the corpus' packed token shards.

Reads only the shard format of docs/contracts.md (manifest.json + Parquet shards); depends on torch,
pyarrow, numpy, safetensors (export) and the standard library. Start reading at `config.py`, then
`model.py`, `data.py`, `train.py`, `export.py`.
"""
