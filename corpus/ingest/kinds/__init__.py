"""Input kinds: one module per kind, each a config section that plans and reads its own units (base.py
says what a kind implements). To add a kind: write its module and add its class to KINDS below
(docs/extending.md)."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from corpus.ingest.kinds.base import InputKind, PlanContext, ReadContext, Unit
from corpus.ingest.kinds.github import GitHubInput
from corpus.ingest.kinds.python_dists import PythonDistsInput
from corpus.ingest.kinds.repos import ReposInput
from corpus.ingest.kinds.stack_parquet import StackParquetInput
from corpus.ingest.kinds.warc import WarcInput, WetInput

KINDS: tuple[type[InputKind], ...] = (ReposInput, PythonDistsInput, WarcInput, WetInput, StackParquetInput, GitHubInput)

# One entry of the pipeline's `inputs`: pydantic picks the kind's class by its `kind` field.
InputSpec = Annotated[Union[KINDS], Field(discriminator="kind")]  # noqa: UP007 - a Union built from the tuple
_ADAPTER: TypeAdapter[Any] = TypeAdapter(InputSpec)


def make_input(**fields: Any) -> InputKind:
    """An input from its config fields, e.g. make_input(name="web", kind="warc", paths=[...])."""
    return _ADAPTER.validate_python(fields)


__all__ = ["KINDS", "InputKind", "InputSpec", "PlanContext", "ReadContext", "Unit", "make_input"]
