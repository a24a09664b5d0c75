"""Errors every layer may raise and the CLI turns into one line and an exit code."""


class PreflightError(RuntimeError):
    """A problem found before any work started (bad config, missing input, unreachable cluster)."""


class EmptyOutputError(RuntimeError):
    """A run that would produce nothing useful (an input with no documents, shards with no code): it
    fails loudly instead of exiting 0, unless the config says `allow_empty: true`."""
