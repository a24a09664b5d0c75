"""Stage graphs and their configs: the only place that knows which stages run in which order."""
