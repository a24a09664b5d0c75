"""recall: label web pages code / math / text with the iteratively retrained fastText recall of
DeepSeekMath §2.1 and DeepSeek-Coder-V2 §2 (the loop itself is `classifiers.run_iterations`).

An annotator: every record comes out (unless `drop_unrecalled`), web pages (repo is null) get
`domain` = code / math / text and `recall_label`, `recall_score`, `recall_via`, `recall_probs` in `meta`; files of
repositories pass through unchanged. Ray work: one task per part to index pages and collect
code-text seeds, one per part per iteration to score, one per part to write. Training runs in a
fresh subprocess of the driver (single-threaded for reproducibility; its data is capped per label).

Outputs: `OUT/recall/part-*.parquet`, `OUT/recall/model.bin` (the final model, for new data) and
`OUT/reports/recall.json` (per-iteration report).
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import random
import re
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from corpus.errors import PreflightError
from corpus.parts import write_filtered_part
from corpus.parts import part_name
from corpus.storage import write_json as write_json_atomic
from corpus.stage import GlobalStage
from corpus.stats import StageStats

log = logging.getLogger("corpus")

DOMAIN_OF_LABEL = {"code": "code", "math": "math", "other": "text"}
WORD = re.compile(r"\w+")


class FastTextSection(BaseModel):
    """DeepSeekMath's hyper-parameters; bucket and thread are this project's (see docs/recall.md)."""

    model_config = ConfigDict(extra="forbid")

    dim: int = Field(256, gt=0)
    lr: float = Field(0.1, gt=0)
    word_ngrams: int = Field(3, gt=0)
    min_count: int = Field(3, gt=0)
    epoch: int = Field(3, gt=0)
    bucket: int = Field(100_000, gt=0, description="hashed n-gram rows; model size ~ bucket x dim x 4 bytes")
    thread: int = Field(1, gt=0, description="1 = the same model on every rerun")
    max_tokens: int = Field(4096, gt=0, description="tokens of a page given to fastText")
    min_count_fallback: bool = Field(True, description="retrain with min_count 1 when no token reaches min_count")
    max_examples_per_label: int = Field(500_000, gt=0)
    max_repeat: int = Field(10, ge=1, description="max copies of a minority label's examples when balancing")


class RecallConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seeds: list[str] = Field(
        default_factory=lambda: ["pkg:classifiers/seed_data/math.jsonl", "pkg:classifiers/seed_data/other.jsonl"],
        description="JSONL seed files {text, label: code|math|other, url?}; pkg: = shipped with the project",
    )
    code_text_seeds: bool = Field(True, description="code-related text of the repositories in the input as code positives")
    code_text_languages: list[str] = Field(default_factory=lambda: ["Markdown", "reStructuredText", "AsciiDoc", "RDoc", "Org", "Text"])
    docstrings: bool = Field(True, description="also Python docstrings of the repositories' files as code positives")
    min_seed_words: int = Field(20, ge=1, description="shorter code-text seeds are ignored")
    max_code_text_seeds: int = Field(20_000, ge=0)
    tokenizer: str | None = Field(None, description="tokenizer.json (BPE) to pretokenize for fastText; none = regex splitter")
    iterations: int = Field(3, ge=1, description="DeepSeek-Coder-V2: 3 for web pages")
    threshold: float = Field(0.5, ge=0, le=1, description="min probability of a page's best label")
    budget_tokens: dict[str, int] | None = Field(None, description="per label, keep the top-scored pages up to this many tokens")
    negatives_per_positive: float = Field(1.0, gt=0)
    folds: int = Field(2, ge=1, description="cross-fitting: a page is never scored by a model that used it as a negative")
    min_share: float = Field(0.10, ge=0, le=1, description="domain rule: over this share of a domain's pages recalled")
    min_domain_pages: int = Field(5, ge=1)
    min_prefix_share: float = Field(0.5, ge=0, le=1)
    min_prefix_pages: int = Field(3, ge=1)
    max_prefix_depth: int = Field(2, ge=1)
    drop_unrecalled: bool = Field(False, description="drop web pages not recalled (reason not_recalled)")
    recall_domains: list[str] = Field(
        default_factory=lambda: ["text"],
        description="only web pages whose input domain is one of these are classified (an input declared math stays math)",
    )
    fasttext: FastTextSection = FastTextSection()


# ------------------------------------------------------------------------------------ pretokenize


class BPEPretokenize:
    """Token strings of a `tokenizers` tokenizer.json (DeepSeek used its DeepSeek-V2 BPE). Picklable:
    the tokenizer is loaded lazily in each worker."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._tok = None

    def __getstate__(self) -> dict:
        return {"path": self.path, "_tok": None}

    def __call__(self, text: str) -> list[str]:
        if self._tok is None:
            from tokenizers import Tokenizer

            self._tok = Tokenizer.from_file(self.path)
        return self._tok.encode(text, add_special_tokens=False).tokens


def make_pretokenize(path: str | None):
    from classifiers import regex_pretokenize

    return BPEPretokenize(path) if path else regex_pretokenize


# ------------------------------------------------------------------------------------- per part


def docstrings(source: str) -> list[str]:
    """Module, class and function docstrings of a Python file ([] when it does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                out.append(doc)
    return out


def index_part(path: str, languages: list[str], use_docstrings: bool, min_words: int, want_code_text: bool, recall_domains: list[str]) -> dict[str, Any]:
    """Web rows to classify (row, url) and the code-related text of the part's repository files."""
    t = pq.read_table(path, columns=["repo", "path", "language", "domain"])
    repos, paths, langs, doms = (t.column(c).to_pylist() for c in ("repo", "path", "language", "domain"))
    web = [(i, p) for i, (r, p, d) in enumerate(zip(repos, paths, doms)) if r is None and d in recall_domains]
    texts: list[str] = []
    if want_code_text:
        wanted = [i for i, (r, lang) in enumerate(zip(repos, langs)) if r is not None and (lang in languages or (use_docstrings and lang == "Python"))]
        if wanted:
            col = pq.read_table(path, columns=["text"]).column("text")
            for i in wanted:
                text = col[i].as_py()
                pieces = docstrings(text) if langs[i] == "Python" else [text]
                texts.extend(p for p in pieces if len(WORD.findall(p)) >= min_words)
    return {"web_rows": [w[0] for w in web], "urls": [w[1] for w in web], "code_text": texts}


def score_part(path: str, rows: list[int], folds: list[int], model_paths: list[str], labels: list[str], pretok_path: str | None) -> tuple[np.ndarray, np.ndarray]:
    from classifiers import RecallModel, score_texts

    pretokenize = make_pretokenize(pretok_path)
    models = [RecallModel.load(p, pretokenize=pretokenize) for p in model_paths]
    col = pq.read_table(path, columns=["text"]).column("text")
    texts = [col[i].as_py() for i in rows]
    return score_texts(models, folds, texts, labels, pretokenize)


def apply_part(in_path: str, out_path: str, labels: dict[int, tuple[str, float, str | None, dict[str, float]]], drop_unrecalled: bool) -> dict:
    """Rewrite domain and meta of the part's web rows; optionally drop the pages not recalled."""
    table = pq.read_table(in_path)
    domains = table.column("domain").to_pylist()
    metas = table.column("meta").to_pylist()
    mask = [False] * table.num_rows
    for i, (label, score, via, probs) in labels.items():
        domains[i] = DOMAIN_OF_LABEL[label]
        try:
            meta = json.loads(metas[i])
        except (TypeError, ValueError):
            meta = None
        if not isinstance(meta, dict):
            meta = {"meta_unparsed": metas[i]}
        meta.update({"recall_label": label, "recall_score": round(float(score), 5), "recall_via": via, "recall_probs": probs})
        metas[i] = json.dumps(meta, sort_keys=True, ensure_ascii=False)
        mask[i] = drop_unrecalled and label == "other"
    table = table.set_column(table.schema.get_field_index("domain"), "domain", pa.array(domains, pa.string()))
    table = table.set_column(table.schema.get_field_index("meta"), "meta", pa.array(metas, pa.string()))
    reasons = ["not_recalled" if m else None for m in mask]
    details = [f"{table.column('path')[i].as_py()}: below the recall threshold in the last iteration" if m else "" for i, m in enumerate(mask)]
    return write_filtered_part(table, mask, reasons, details, out_path).to_json()


# ---------------------------------------------------------------------------------------- pages


class PartPages:
    """classifiers.PageSet over the web rows of Parquet parts; scoring runs as Ray tasks per part."""

    def __init__(self, ctx, inputs: list[str], where: list[tuple[int, int]], urls: list[str], pretok_path: str | None) -> None:
        self.ctx, self.inputs, self.where, self._urls, self.pretok_path = ctx, inputs, where, urls, pretok_path

    def urls(self) -> list[str]:
        return self._urls

    def _by_part(self, indices: Sequence[int]) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for k in indices:
            out.setdefault(self.where[k][0], []).append(k)
        return out

    def score(self, model_paths: list[str], fold_of: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
        groups = self._by_part(range(len(self._urls)))
        parts = sorted(groups)
        args = [
            (self.inputs[p], [self.where[k][1] for k in groups[p]], [int(fold_of[k]) for k in groups[p]], model_paths, labels, self.pretok_path)
            for p in parts
        ]
        probs = np.zeros((len(self._urls), len(labels)), dtype=np.float32)
        tokens = np.zeros(len(self._urls), dtype=np.int64)
        for p, (pr, tk) in zip(parts, self.ctx.run_tasks(score_part, args, desc=f"{self.ctx.stage_name}:score")):
            probs[groups[p]] = pr
            tokens[groups[p]] = tk
        return probs, tokens

    def texts(self, indices: Sequence[int]) -> list[str]:
        out: dict[int, str] = {}
        for p, ks in self._by_part(indices).items():
            col = pq.read_table(self.inputs[p], columns=["text"]).column("text")
            for k in ks:
                out[k] = col[self.where[k][1]].as_py()
        return [out[k] for k in indices]


# ---------------------------------------------------------------------------------------- stage


def _file_digest(path: str) -> str:
    from classifiers.seeds import _lines

    h = hashlib.sha256()
    for line in _lines(path):
        h.update(line.encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:16]


class RecallStage(GlobalStage):
    name = "recall"
    config: RecallConfig

    def __init__(self, config: RecallConfig | None = None) -> None:
        super().__init__(config or RecallConfig())

    def config_json(self) -> dict[str, Any]:
        # Seed files are inputs: a changed seed file must make --resume recompute the stage.
        data = super().config_json()
        data["seed_digests"] = {p: _file_digest(p) for p in self.config.seeds if _seed_readable(p)}
        return data

    def content_files(self) -> list[str]:
        return [self.config.tokenizer] if self.config.tokenizer else []

    def preflight(self) -> None:
        for p in self.config.seeds:
            if not _seed_readable(p):
                raise PreflightError(f"stages.recall.seeds: cannot read seed file {p!r}")
        if self.config.tokenizer and not Path(self.config.tokenizer).is_file():
            raise PreflightError(f"stages.recall.tokenizer: no tokenizer file at {self.config.tokenizer!r}")
        if self.config.budget_tokens:
            bad = set(self.config.budget_tokens) - {"code", "math"}
            if bad:
                raise PreflightError(f"stages.recall.budget_tokens: unknown label(s) {sorted(bad)}; use code, math")

    def run(self, ctx, inputs: list[str]) -> StageStats:
        from classifiers import IterationConfig, RecallDataError, RecallParams, load_seeds, run_iterations

        started = time.time()
        cfg = self.config
        report: dict[str, Any] = {"config": cfg.model_dump(mode="json")}
        idx_args = [(p, cfg.code_text_languages, cfg.docstrings, cfg.min_seed_words, cfg.code_text_seeds, cfg.recall_domains) for p in inputs]
        indexed = ctx.run_tasks(index_part, idx_args, desc=f"{self.name}:index")
        where = [(p, r) for p, ix in enumerate(indexed) for r in ix["web_rows"]]
        urls = [u for ix in indexed for u in ix["urls"]]
        seeds: list[tuple[str, str, str | None]] = []
        seed_report: dict[str, Any] = {"files": {}}
        for path in cfg.seeds:
            loaded = load_seeds(path, {"code", "math", "other"})
            seeds.extend(loaded.seeds)
            counts: dict[str, int] = {}
            for _, lab, _ in loaded.seeds:
                counts[lab] = counts.get(lab, 0) + 1
            seed_report["files"][path] = {"labels": counts, "skipped": loaded.skipped}
        code_text = [t for ix in indexed for t in ix["code_text"]]
        if len(code_text) > cfg.max_code_text_seeds:
            code_text = random.Random(f"{ctx.seed}/code_text").sample(code_text, cfg.max_code_text_seeds)
        seeds.extend((t, "code", None) for t in code_text)
        seed_report["code_text_from_input"] = len(code_text)
        report["seeds"] = seed_report
        report["web_pages"] = len(urls)
        labels: dict[int, dict[int, tuple[str, float, str | None, dict[str, float]]]] = {p: {} for p in range(len(inputs))}
        model_path = ctx.stage_dir / "model.bin"
        if not urls:
            report["skipped"] = "no web pages in the input"
        else:
            ft = cfg.fasttext
            params = RecallParams(
                dim=ft.dim, lr=ft.lr, word_ngrams=ft.word_ngrams, min_count=ft.min_count, epoch=ft.epoch, bucket=ft.bucket,
                thread=ft.thread, seed=ctx.seed, max_tokens=ft.max_tokens, min_count_fallback=ft.min_count_fallback,
                max_examples_per_label=ft.max_examples_per_label, max_repeat=ft.max_repeat,
            )
            it_cfg = IterationConfig(
                iterations=cfg.iterations, threshold=cfg.threshold, budget_tokens=cfg.budget_tokens,
                negatives_per_positive=cfg.negatives_per_positive, folds=cfg.folds, min_share=cfg.min_share,
                min_domain_pages=cfg.min_domain_pages, min_prefix_share=cfg.min_prefix_share,
                min_prefix_pages=cfg.min_prefix_pages, max_prefix_depth=cfg.max_prefix_depth, seed=ctx.seed,
            )
            pages = PartPages(ctx, inputs, where, urls, cfg.tokenizer)
            try:
                result = run_iterations(pages, seeds, params, it_cfg, ctx.tmp_dir, make_pretokenize(cfg.tokenizer))
            except (RecallDataError, ValueError) as exc:
                # Unusable seeds or pages: the run goes on with the records unchanged, and says why.
                log.warning("stage recall: skipped: %s", exc)
                report["skipped"] = str(exc)
            else:
                if result.model is not None:
                    result.model.save(model_path)
                    report["model"] = {"path": str(model_path), "bytes": model_path.stat().st_size, "train": result.model.info.to_json()}
                for k, (p, r) in enumerate(where):
                    probs = {lab: round(float(x), 5) for lab, x in zip(result.label_names, result.probs[k])}
                    labels[p][r] = (result.labels[k], float(result.scores[k]), result.via[k], probs)
                report["iterations"] = result.iterations
                final: dict[str, int] = {}
                for lab in result.labels:
                    final[DOMAIN_OF_LABEL[lab]] = final.get(DOMAIN_OF_LABEL[lab], 0) + 1
                report["final_domains"] = dict(sorted(final.items()))
        args = [(p, str(ctx.stage_dir / part_name(i)), labels[i], cfg.drop_unrecalled and "skipped" not in report) for i, p in enumerate(inputs)]
        total = StageStats()
        for s in ctx.run_tasks(apply_part, args, desc=f"{self.name}:apply"):
            total.merge(StageStats.from_json(s))
        report["seconds"] = round(time.time() - started, 2)
        write_json_atomic(ctx.reports_dir / "recall.json", report)
        return total


def _seed_readable(path: str) -> bool:
    if path.startswith("pkg:"):
        from importlib import resources

        package, _, rel = path[4:].partition("/")
        try:
            return resources.files(package).joinpath(rel).is_file()
        except (ModuleNotFoundError, ValueError):
            return False
    return Path(path).is_file()
