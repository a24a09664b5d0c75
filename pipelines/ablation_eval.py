"""What `corpus ablate` measures on a trained model: held-out loss on a fixed evaluation set, per
language, and benchmark loss (mean per-token loss of the reference solution given the prompt).

Every variant is scored on the same texts. Losses per token depend on the tokenizer, so each result
also carries bits per byte (summed nats / UTF-8 bytes / ln 2), which compares variants whose
vocabularies differ.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from corpus import storage
from corpus.layout import MANIFEST
from decont.benchmarks import BenchmarkError, load_benchmark, parse_benchmark_specs
from pipelines.contaminate import HOST_PREFIX, PROMPT_SOLUTION, Problem
from pretrain.config import model_config_from_dict
from pretrain.model import Transformer
from tokenizer.chunks import eval_group, group_rank

EVAL_SALT = "ablation-eval"
WINDOW_BATCH = 16


# ------------------------------------------------------------------------------ the evaluation set


def _rank(seed: int, group: str) -> int:
    return group_rank(seed, f"{EVAL_SALT}\0{group}")


def draw_eval_groups(part_uris: list[str], fraction: float, seed: int) -> list[str]:
    """Whole repositories (web hosts), in a seeded hash order, until they hold `fraction` of the bytes
    (at least one). The ablation's planted host repositories are never drawn."""
    sizes: Counter = Counter()
    for uri in part_uris:
        t = storage.read_table(uri, columns=["source", "repo", "path", "size"])
        for s, r, p, n in zip(*(t.column(c).to_pylist() for c in ("source", "repo", "path", "size"))):
            if not (r or "").startswith(HOST_PREFIX):
                sizes[eval_group(s, r, p)] += n or 0
    total, held, out = sum(sizes.values()), 0, []
    for group in sorted(sizes, key=lambda g: (_rank(seed, g), g)):
        if out and held >= fraction * total:
            break
        if len(out) + 1 == len(sizes):
            break  # keep at least one group to train on
        out.append(group)
        held += sizes[group]
    return out


def collect_eval_docs(part_uris: list[str], groups: list[str], per_language: int) -> list[dict[str, Any]]:
    """The files of the held-out groups: per language the `per_language` of smallest id."""
    wanted = set(groups)
    by_lang: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for uri in part_uris:
        t = storage.read_table(uri, columns=["id", "source", "repo", "path", "language", "text"])
        for row in t.to_pylist():
            if eval_group(row["source"], row["repo"], row["path"]) in wanted and row["text"]:
                by_lang[row["language"] or "unknown"].append(row)
    out = []
    for lang in sorted(by_lang):
        for row in sorted(by_lang[lang], key=lambda r: r["id"])[:per_language]:
            out.append({"id": row["id"], "language": lang, "repo": row["repo"], "path": row["path"], "text": row["text"]})
    return out


def load_problems(spec: str, max_problems: int) -> dict[str, list[Problem]]:
    """Prompt / reference solution pairs of every configured benchmark (first `max_problems`)."""
    out: dict[str, list[Problem]] = {}
    for s in parse_benchmark_specs(spec):
        if s.name not in PROMPT_SOLUTION:
            raise ValueError(f"benchmark {s.name!r}: benchmark loss knows {sorted(PROMPT_SOLUTION)}")
        prompt_f, solution_f = PROMPT_SOLUTION[s.name]
        try:
            bench = load_benchmark(s.name, s.source, (prompt_f, solution_f))
        except BenchmarkError as exc:
            raise ValueError(f"benchmark {s.name}: {exc}") from exc
        items = [i for i in bench.items if prompt_f in i.fields and solution_f in i.fields][:max_problems]
        out[s.name] = [Problem(i.id, i.fields[prompt_f][0], i.fields[solution_f][0]) for i in items]
    return out


# ------------------------------------------------------------------------------------- scoring


@dataclass
class Scorer:
    """A trained model and its variant's tokenizer: summed loss over chosen target tokens of a text."""

    model: Any
    tokenizer: Any
    bos: int | None
    device: torch.device

    @classmethod
    def load(cls, checkpoint: Path, shards: Path, device: str = "cpu") -> Scorer:
        from tokenizers import Tokenizer

        ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
        model = Transformer(model_config_from_dict(ckpt["model_config"]))
        model.load_state_dict(ckpt["model"])
        model.to(device).eval()
        manifest = json.loads((shards / MANIFEST).read_text(encoding="utf-8"))
        tok = Tokenizer.from_file(str(shards / (manifest.get("tokenizer") or {}).get("path", "tokenizer.json")))
        bos = (manifest.get("special_tokens") or {}).get("bos")
        add_bos = (manifest.get("document_format") or {}).get("add_bos", True)
        return cls(model, tok, int(bos) if bos is not None and add_bos else None, torch.device(device))

    def _ids(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        enc = self.tokenizer.encode(text, add_special_tokens=False)
        ids, offsets = list(enc.ids), list(enc.offsets)
        if self.bos is not None:
            ids, offsets = [self.bos] + ids, [(0, 0)] + offsets
        return ids, offsets

    @torch.no_grad()
    def token_losses(self, ids: list[int]) -> torch.Tensor:
        """Loss of every target ids[1:], each predicted inside windows of the model's context (the way
        the model was trained: windows overlapping by one id)."""
        ctx = self.model.cfg.max_seq_len
        windows = [ids[s:s + ctx + 1] for s in range(0, len(ids) - 1, ctx)]
        out = []
        for b in range(0, len(windows), WINDOW_BATCH):
            batch = windows[b:b + WINDOW_BATCH]
            width = max(len(w) for w in batch)
            x = torch.zeros(len(batch), width - 1, dtype=torch.long)
            y = torch.full((len(batch), width - 1), -100, dtype=torch.long)
            for i, w in enumerate(batch):
                x[i, :len(w) - 1] = torch.tensor(w[:-1])
                y[i, :len(w) - 1] = torch.tensor(w[1:])
            logits, _ = self.model(x.to(self.device))
            loss = F.cross_entropy(logits.float().flatten(0, 1), y.to(self.device).flatten(), reduction="none")
            loss = loss.view(len(batch), -1).cpu()
            out.extend(loss[i, :len(w) - 1] for i, w in enumerate(batch))
        return torch.cat(out) if out else torch.zeros(0)

    def document(self, text: str, max_tokens: int) -> tuple[float, int, int]:
        """(summed nats, tokens, bytes) over the first `max_tokens` tokens of a document."""
        ids, offsets = self._ids(text)
        ids, offsets = ids[:max_tokens + 1], offsets[:max_tokens + 1]
        losses = self.token_losses(ids)
        end = offsets[-1][1] if offsets else 0
        return float(losses.sum()), int(losses.numel()), len(text[:end].encode("utf-8"))

    def solution(self, prompt: str, solution: str) -> tuple[float, int, int]:
        """(summed nats, tokens, bytes) of the solution's tokens given the prompt: the tokens ending past
        the prompt (a token spanning the seam counts as the solution's)."""
        ids, offsets = self._ids(prompt + solution)
        losses = self.token_losses(ids)
        mask = torch.tensor([end > len(prompt) for _, end in offsets[1:]], dtype=torch.bool)
        return float(losses[mask].sum()), int(mask.sum()), len(solution.encode("utf-8"))


def _summary(nats: float, tokens: int, nbytes: int) -> dict[str, float | int]:
    return {"loss": nats / tokens if tokens else float("nan"), "tokens": tokens,
            "bits_per_byte": nats / nbytes / math.log(2) if nbytes else float("nan")}


def score_eval_set(scorer: Scorer, docs: Iterable[dict[str, Any]], max_tokens: int) -> dict[str, Any]:
    """Loss per token and bits per byte over all evaluation files, and per language."""
    by_lang: dict[str, list[float]] = defaultdict(lambda: [0.0, 0, 0])
    for doc in docs:
        nats, n, b = scorer.document(doc["text"], max_tokens)
        acc = by_lang[doc["language"]]
        acc[0] += nats
        acc[1] += n
        acc[2] += b
    total = [sum(v[i] for v in by_lang.values()) for i in range(3)]
    return {**_summary(*total), "by_language": {k: _summary(*v) for k, v in sorted(by_lang.items())}}


def score_benchmarks(scorer: Scorer, problems: dict[str, list[Problem]]) -> dict[str, Any]:
    """Per benchmark: the mean per-token loss of the reference solutions given their prompts."""
    out = {}
    for name, items in problems.items():
        total = [0.0, 0, 0]
        for p in items:
            for i, v in enumerate(scorer.solution(p.prompt, p.solution)):
                total[i] += v
        out[name] = {**_summary(*total), "problems": len(items)}
    return out
