"""The recall stage: fastText classifiers that label web pages code / math / text (stage.py, DeepSeekMath's
loop) and recall repository files the code rules would drop (github.py); config.py holds the config,
common.py what both loops share."""

from corpus.stages.recall.config import GitHubRecallConfig, RecallConfig, SeedRule
from corpus.stages.recall.stage import RecallStage

__all__ = ["GitHubRecallConfig", "RecallConfig", "RecallStage", "SeedRule"]
