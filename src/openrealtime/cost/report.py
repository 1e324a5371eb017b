"""Plain-text tables for ``openrealtime cost``: minutes of talk, or recorded sessions."""

from __future__ import annotations

from collections.abc import Sequence

from .estimate import (
    ConversationModel,
    Tokens,
    hosted_cost_usd,
    local_cost_usd,
    tokens_from_usages,
)
from .price import LOCAL, PriceError, PriceTable
from .recording import Recording

HEADER = ("$ by token kind", "text in", "cached", "audio in", "cached", "text out", "audio out",
          "total $", "$/min")


def selected(table: PriceTable, preset: str | None) -> list[str]:
    """Hosted preset names to show (none when only ``local`` was asked for)."""
    if preset is None:
        return list(table.hosted)
    if preset == LOCAL:
        return []
    if preset not in table.hosted:
        raise PriceError(f"unknown preset {preset!r} (known: "
                         f"{', '.join([*table.hosted, LOCAL])})")
    return [preset]


def _usd(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    # Sub-tenth-of-a-cent amounts (short recordings, cached tokens) keep 3 digits.
    return f"{value:.6f}" if value < 0.001 else f"{value:.4f}" if value < 100 else f"{value:,.2f}"


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def _cost_rows(table: PriceTable, presets: list[str], tokens: Tokens,
               minutes: float | None) -> list[tuple[str, ...]]:
    """One row per hosted preset, each token kind priced ($), then total and $/min."""
    rows: list[tuple[str, ...]] = []
    for name in presets:
        p = table.hosted[name]
        parts = [tokens.text_in * p.text_in, tokens.text_in_cached * p.text_in_cached,
                 tokens.audio_in * p.audio_in, tokens.audio_in_cached * p.audio_in_cached,
                 tokens.text_out * p.text_out, tokens.audio_out * p.audio_out]
        total = hosted_cost_usd(tokens, p)
        rows.append((name, *(_usd(x / 1_000_000) for x in parts), _usd(total),
                     _usd(total / minutes) if minutes else "-"))
    return rows


def _local_row(cost: float | None, minutes: float | None, how: str) -> tuple[str, ...]:
    per_min = _usd(cost / minutes) if cost is not None and minutes else "-"
    return (f"{LOCAL} ({how})", "", "", "", "", "", "", _usd(cost), per_min)


def _token_line(tokens: Tokens) -> str:
    return (f"tokens: text in {tokens.text_in:,} (+{tokens.text_in_cached:,} cached), "
            f"audio in {tokens.audio_in:,} (+{tokens.audio_in_cached:,} cached), "
            f"text out {tokens.text_out:,}, audio out {tokens.audio_out:,}")


def minutes_report(minutes: float, table: PriceTable, preset: str | None = None,
                   model: ConversationModel | None = None) -> str:
    """Compare hosted presets with local compute for ``minutes`` of conversation."""
    model = model or ConversationModel()
    tokens = model.tokens(minutes)
    turns = model.turns(minutes)
    local = table.local
    rows: list[tuple[str, ...]] = [HEADER]
    rows += _cost_rows(table, selected(table, preset), tokens, minutes)
    if preset in (None, LOCAL):
        cost = local_cost_usd(local, wall_s=minutes * 60)
        how = f"{local.cores:g} cores x ${local.cpu_hour_usd:g}/CPU-h"
        rows.append(_local_row(cost, minutes, how))
    return "\n".join([
        f"{minutes:g} min of conversation: {turns} turns of {model.turn_s:g} s; the user "
        f"speaks {model.user_share:.0%} of each turn, the assistant {model.assistant_share:.0%};"
        f" {model.instructions_tokens} tokens of instructions.\nEvery turn re-sends the "
        "conversation so far as input (cached after its first time).",
        _token_line(tokens), "", _table(rows)])


def recordings_report(recordings: Sequence[Recording], table: PriceTable,
                      preset: str | None = None) -> str:
    """Sum the ``response.done`` usage of recordings and price it every way."""
    tokens = tokens_from_usages(u for r in recordings for u in r.usages)
    responses = sum(len(r.usages) for r in recordings)
    walls = [r.duration_s for r in recordings]
    wall_s = sum(w for w in walls if w is not None) if any(w is not None for w in walls) else None
    minutes = wall_s / 60 if wall_s else None
    rows: list[tuple[str, ...]] = [HEADER]
    rows += _cost_rows(table, selected(table, preset), tokens, minutes)
    if preset in (None, LOCAL):
        rows.append(_local_row(*_recorded_local(recordings, table)))
    models = sorted({r.model for r in recordings if r.model})
    duration = f"{wall_s:.1f} s" if wall_s is not None else "unknown duration"
    return "\n".join([
        f"{len(recordings)} recording(s), {responses} responses, {duration}"
        + (f", model {', '.join(models)}" if models else ""),
        _token_line(tokens), "", _table(rows)])


def _recorded_local(recordings: Sequence[Recording], table: PriceTable
                    ) -> tuple[float | None, float | None, str]:
    """Local cost summed over recordings: CPU-seconds where recorded, else cores x wall."""
    local = table.local
    total, cpu_s, wall_s, known, estimated = 0.0, 0.0, 0.0, False, False
    for r in recordings:
        cost = local_cost_usd(local, cpu_s=r.cpu_s, wall_s=r.duration_s)
        if cost is not None:
            total, known = total + cost, True
            cpu_s += r.cpu_s if r.cpu_s is not None else local.cores * (r.duration_s or 0.0)
            estimated = estimated or r.cpu_s is None
        wall_s += r.duration_s or 0.0
    how = (f"{cpu_s:.1f} CPU-s{' (partly cores x wall time)' if estimated else ''}"
           f" x ${local.cpu_hour_usd:g}/CPU-h")
    return (total if known else None), (wall_s / 60 if wall_s else None), how
