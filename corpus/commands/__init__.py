"""Sub-commands that use the pipeline's pieces directly: explain, decont."""
