"""The recall stage's config: web recall (DeepSeekMath's loop) and GitHub recall."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from classifiers import RecallParams
from corpus.ops.fanin import DEFAULT_FAN_IN, MAX_FAN_IN


class SeedRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_prose_words: int = Field(40, ge=1, description="prose words in comments and docstrings (classifiers.code_prose)")
    min_prose_share: float = Field(0.2, ge=0, le=1, description="their share of the file's words")
    min_stars: int | None = Field(None, ge=0, description="files of repositories with at least this many stars (meta.github.stars) are seeds too")


class GitHubRecallConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(False, description="recall repository files the code rules would drop (recipe §1.4)")
    iterations: int = Field(2, ge=1, description="DeepSeek-Coder-V2: 2 for GitHub")
    seeds: list[str] = Field(default_factory=list, description="JSONL {text, label: code|other} files added to the rule's seeds")
    seed_rule: SeedRule = SeedRule()
    threshold: float = Field(0.5, ge=0, le=1, description="min P(code) of a recalled file")
    negatives_per_positive: float = Field(1.0, gt=0)
    max_negatives: int = Field(100_000, ge=1, description="random repository files kept as negative candidates")
    code_rules: str | None = Field(None, description="the filter's threshold table, when it is not corpus/filters/code_rules.yaml (keep equal to stages.filter.code_rules)")


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
    min_code_tokens: float = Field(0.01, ge=0, le=1, description="the code gate: a page is recalled as code only when at least this "
                                   "share of its tokens is written as code (classifiers/code_signal.py); 0 = no gate")
    min_code_probability: float = Field(0.6, ge=0, le=1, description="the code gate's second threshold: a page is recalled as code "
                                        "only when P(code) is at least this (and at least `threshold`)")
    min_math_words: float = Field(0.015, ge=0, le=1, description="code or math: a page whose share of mathematical words "
                                  "(classifiers/math_signal.py) reaches this is math, not code, and a math page needs it; 0 = off")
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
    fasttext: RecallParams = Field(default_factory=RecallParams, description="fastText hyper-parameters (classifiers.RecallParams)")
    github: GitHubRecallConfig = Field(GitHubRecallConfig(), description="GitHub recall of repository files the code rules would drop (off by default)")
    math_text_modules: list[str] = Field(
        default_factory=lambda: ["sympy.functions", "sympy.ntheory", "sympy.integrals", "sympy.series", "sympy.calculus",
                                 "sympy.combinatorics", "sympy.concrete", "sympy.sets", "sympy.solvers", "sympy.matrices",
                                 "sympy.polys", "sympy.geometry", "sympy.discrete", "sympy.holonomic"],
        description="installed modules whose docstrings are math seeds (corpus/stages/recall/math_seeds.py); [] = none")
    max_math_text_seeds: int = Field(1000, ge=0, description="math docstring seeds at most (files parsed in hash order until reached)")
    page_eval: bool = Field(True, description="score the labelled real pages of corpus/stages/recall/page_eval.py with the final model "
                            "(precision/recall per class in recall.json -> page_eval); sources not installed are listed as missing")
    page_eval_warcs: list[str] = Field(default_factory=list, description="WARC files whose pages join the evaluation as `other` "
                                       "(e.g. the shared dolma/iana samples); none by default")
    fan_in: int = Field(DEFAULT_FAN_IN, ge=2, le=MAX_FAN_IN, description="files one task reads where a step needs every part "
                        "(training sets, code-text seeds, domain counts, budget cutoffs): more parts go through a tree of merge tasks")

    def evidence(self) -> dict[str, float]:
        """The text evidence's settings (classifiers.evidence.apply_evidence's keywords)."""
        return {"min_code_tokens": self.min_code_tokens, "min_code_probability": self.min_code_probability,
                "min_math_words": self.min_math_words}
