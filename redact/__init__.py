"""Secrets and personal data in source files: find them and replace each with a typed placeholder.

A plain library (no Ray, no corpus imports): `Redactor().redact(text, path)` returns the new text and the
count of each kind replaced. The pipeline's `redact` stage (corpus/stages/redact.py) runs it on every
document before dedup and tokenization. See docs/safety.md for the placeholders and the rules.
"""

from redact.redactor import PLACEHOLDERS, Finding, Redaction, Redactor

__all__ = ["PLACEHOLDERS", "Finding", "Redaction", "Redactor"]
