"""`corpus decont` / `corpus benchmarks`: the decontamination library (top-level `decont`) run over inputs."""
