"""The engine: executor, stage shapes, run context, runners, parts and their commit records, progress, the run lock."""
