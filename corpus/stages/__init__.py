"""Stage implementations, one module per pipeline step. pipelines/ decides their order and config."""
