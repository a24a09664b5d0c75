"""Errors every layer may raise and the CLI turns into one line and an exit code."""


class PreflightError(RuntimeError):
    """A problem found before any work started (bad config, missing input, unreachable cluster)."""
