"""The one error type of the generation pipeline: a message a user can act on."""

from __future__ import annotations


class GenerationError(Exception):
    """A bad script, plan, asset or option. The CLI prints it as one line and exits non-zero."""
