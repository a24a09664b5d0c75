"""`corpus train export`: a trained checkpoint becomes a folder that transformers loads with
AutoModelForCausalLM / AutoTokenizer, with the same logits as the project's model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pretrain.config import TrainConfig, model_config_from_dict, preset
from pretrain.model import Transformer
from pretrain.train import CHECKPOINT, train
from tests.pretrain.test_pretrain_train import write_shards

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

SPECIALS = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜fim▁hole｜>", "<｜fim▁begin｜>", "<｜fim▁end｜>"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A few steps of `tiny` with MLA and YaRN on shards of real text with a real BPE (vocab 300 -> 320)."""
    import argparse  # noqa: E401
    import json as j
    import textwrap

    texts = [Path(m.__file__).read_text(encoding="utf-8") for m in (argparse, j.decoder, textwrap)]
    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    tok.train_from_iterator(texts, tokenizers.trainers.BpeTrainer(
        vocab_size=300, special_tokens=SPECIALS, initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet()))
    stream = [i for t in texts for i in [0, *tok.encode(t).ids, 1]]
    rows = [np.array(stream[i:i + 65]) for i in range(0, len(stream) - 65, 65)][:40]
    root = tmp_path_factory.mktemp("export") / "shards"
    write_shards(root, rows, 65, tok.get_vocab_size(), rows_per_shard=10)
    tok.save(str(root / "tokenizer.json"))
    out = root.parent / "train"
    cfg = TrainConfig(steps=4, batch_size=4, seq_len=65, lr=1e-2, warmup_steps=1, eval_every=0, log_every=1,
                      ckpt_every=0)
    model_cfg = preset("tiny", attention="mla", q_lora_rank=24, kv_lora_rank=16, qk_nope_head_dim=8,
                       qk_rope_head_dim=8, v_head_dim=8, yarn_factor=4.0, yarn_original_max_pos=16)
    train(root, out, model_cfg, cfg, log=lambda s: None)
    return root, out


def test_export_round_trip_with_transformers(run: tuple[Path, Path], tmp_path: Path) -> None:
    from corpus.cli import main

    shards, out = run
    hf_dir = tmp_path / "hf"
    assert main(["train", "export", str(out / CHECKPOINT), "--to", str(hf_dir)]) == 0
    assert {p.name for p in hf_dir.iterdir()} >= {"config.json", "model.safetensors", "generation_config.json",
                                                  "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}
    ckpt = torch.load(out / CHECKPOINT, weights_only=True)
    ours = Transformer(model_config_from_dict(ckpt["model_config"]))
    ours.load_state_dict(ckpt["model"])
    ours.eval()
    hf = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, attn_implementation="eager").eval()
    assert type(hf).__name__ == "DeepseekV2ForCausalLM" and hf.config.vocab_size == 320
    assert hf.config.rope_parameters["rope_type"] == "yarn"
    tok = transformers.AutoTokenizer.from_pretrained(hf_dir)
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (0, 1, 1)
    ids = torch.tensor([tok.encode("def main(argv):\n    parser = argparse.ArgumentParser()\n")[:40]])
    with torch.no_grad():
        ref = ours(ids)[0]
        got = hf(ids).logits
    torch.testing.assert_close(got[..., :300], ref[..., :300], rtol=1e-4, atol=1e-4)
    generation = json.loads((hf_dir / "generation_config.json").read_text())
    assert generation["suppress_tokens"] == list(range(300, 320))
    sample = hf.generate(ids[:, :8], max_new_tokens=12, do_sample=True, top_k=0, temperature=5.0)
    assert int(sample.max()) < 300  # the padded ids are never sampled


def test_default_preset_checkpoint_exports_and_matches_transformers(tmp_path: Path) -> None:
    """`corpus train` with no model flags (what `make train` runs) writes a checkpoint that exports and
    gives transformers' DeepseekV2 the same logits: the presets are MLA as V2-Lite."""
    from corpus.cli import main

    rows = [np.random.default_rng(i).integers(2, 90, 65) for i in range(16)]
    shards = tmp_path / "shards"
    write_shards(shards, rows, 65, 90, rows_per_shard=8)
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel({f"t{i}": i for i in range(90)}, unk_token="t2"))
    tok.save(str(shards / "tokenizer.json"))
    out = tmp_path / "train"
    assert main(["train", "--shards", str(shards), "--out", str(out), "--steps", "2", "--seq-len", "65",
                 "--batch-size", "2", "--eval-every", "0", "--log-every", "1"]) == 0
    ckpt = torch.load(out / CHECKPOINT, weights_only=True)
    assert ckpt["model_config"]["attention"] == "mla" and ckpt["model_config"]["q_lora_rank"] is None
    assert main(["train", "export", str(out / CHECKPOINT), "--to", str(tmp_path / "hf")]) == 0
    ours = Transformer(model_config_from_dict(ckpt["model_config"]))
    ours.load_state_dict(ckpt["model"])
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf", attn_implementation="eager").eval()
    ids = torch.tensor([rows[0][:48].tolist()])
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits[..., :90], ours.eval()(ids)[0][..., :90], rtol=1e-4, atol=1e-4)


def test_export_refuses_what_deepseek_v2_cannot_express(tmp_path: Path) -> None:
    from pretrain.export import export

    ckpt = tmp_path / "c.pt"
    model = Transformer(preset("tiny", vocab_size=64, attention="mha"))
    torch.save({"model": model.state_dict(), "model_config": model.cfg.__dict__}, ckpt)
    with pytest.raises(ValueError, match="--attention mla"):
        export(ckpt, tmp_path / "hf")
