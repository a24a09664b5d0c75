"""fastText recall of code- and math-related pages (DeepSeekMath §2.1, DeepSeek-Coder-V2 §2).

A plain library: no Ray, no imports of corpus/, tokenizer/ or lang_registry/. The corpus stage
`corpus.stages.recall` drives it over Parquet parts on Ray.
"""

from classifiers.iterate import (
    InMemoryPages,
    IterationConfig,
    PageSet,
    RecallResult,
    run_iterations,
    score_texts,
    select_recalled,
)
from classifiers.model import OTHER, RecallDataError, RecallModel, RecallParams, TrainInfo, train_recall_model
from classifiers.seeds import SeedLoad, load_seeds
from classifiers.text import fasttext_line, regex_pretokenize
from classifiers.urls import Expansion, base_url, discover_domains, domain_shares, expand_seeds, path_prefixes

__all__ = [
    "OTHER",
    "Expansion",
    "InMemoryPages",
    "IterationConfig",
    "PageSet",
    "RecallDataError",
    "RecallModel",
    "RecallParams",
    "RecallResult",
    "SeedLoad",
    "TrainInfo",
    "base_url",
    "discover_domains",
    "domain_shares",
    "expand_seeds",
    "fasttext_line",
    "load_seeds",
    "path_prefixes",
    "regex_pretokenize",
    "run_iterations",
    "score_texts",
    "select_recalled",
    "train_recall_model",
]
