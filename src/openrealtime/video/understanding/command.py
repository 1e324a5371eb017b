"""``openrealtime video ...`` subcommands of this package (argparse only: imports stay light)."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register this package's ``openrealtime video`` subcommands on ``sub``."""
