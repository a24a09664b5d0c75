"""Language registry for the 338 DeepSeek-Coder-V2 languages: data, detection, tree-sitter signals.

Plain library: no Ray, no imports from corpus/, tokenizer/ or classifiers/.
"""

from lang_registry.detect import Detection, detect
from lang_registry.registry import LanguageEntry, Registry, load_registry
from lang_registry.ts_score import parse_error_ratio

__all__ = ["Detection", "LanguageEntry", "Registry", "detect", "load_registry", "parse_error_ratio"]
