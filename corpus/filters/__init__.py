"""Quality filtering: signals (what a file measures) kept apart from thresholds (what a language allows)."""
