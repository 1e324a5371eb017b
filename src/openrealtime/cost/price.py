"""Price tables: hosted presets in $ per 1M tokens, and the self-hosted ``local`` rate.

The hosted presets are the public list prices as recorded in the reference document
(``shared/realtime-protocol.md`` §7) and on OpenAI's public pricing pages at the time of
writing. They change; override any of them with a JSON/TOML file (:func:`load_price_file`)
or ``--price NAME.FIELD=USD`` on the command line rather than editing this module.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PER_TOKENS = 1_000_000  # every hosted price is in $ per this many tokens


class PriceError(ValueError):
    """A price file or override that cannot be used; the message is one line."""


@dataclass(frozen=True)
class Prices:
    """One hosted model's prices, $ per 1M tokens. Cached = input served from the cache."""

    audio_in: float
    audio_in_cached: float
    audio_out: float
    text_in: float
    text_in_cached: float
    text_out: float


@dataclass(frozen=True)
class LocalPrices:
    """Self-hosted compute: what one CPU core costs per hour, and how many a session uses.

    The default 0.04 $/vCPU-hour is an assumption (roughly an on-demand general-purpose
    cloud vCPU, or a laptop's power plus depreciation); set your own with
    ``--cpu-hour-usd``. ``cores`` is used only when a recording has no CPU time: the
    server runs each model on ``threads`` (default 2) cores, so a busy session holds ~2.
    """

    cpu_hour_usd: float = 0.04
    cores: float = 2.0


PRESETS: dict[str, Prices] = {
    # GA list price (Aug 2025).
    "gpt-realtime": Prices(audio_in=32.0, audio_in_cached=0.40, audio_out=64.0,
                           text_in=4.0, text_in_cached=0.40, text_out=16.0),
    "gpt-realtime-mini": Prices(audio_in=10.0, audio_in_cached=0.30, audio_out=20.0,
                                text_in=0.60, text_in_cached=0.06, text_out=2.40),
    # The beta launch price (Oct 2024), the figure most cost write-ups quote.
    "gpt-4o-realtime-preview": Prices(audio_in=100.0, audio_in_cached=20.0, audio_out=200.0,
                                      text_in=5.0, text_in_cached=2.50, text_out=20.0),
}
LOCAL = "local"
PRICE_FIELDS = tuple(f.name for f in dataclasses.fields(Prices))
LOCAL_FIELDS = tuple(f.name for f in dataclasses.fields(LocalPrices))


@dataclass(frozen=True)
class PriceTable:
    """All hosted presets plus the local rate; build variants with :meth:`override`."""

    hosted: dict[str, Prices] = dataclasses.field(default_factory=lambda: dict(PRESETS))
    local: LocalPrices = LocalPrices()

    def override(self, name: str, values: dict[str, Any]) -> PriceTable:
        """Return a table with ``name``'s fields replaced; a new name needs every field."""
        numbers = {key: _number(name, key, value) for key, value in values.items()}
        if name == LOCAL:
            _check_fields(name, numbers, LOCAL_FIELDS)
            return dataclasses.replace(self, local=dataclasses.replace(self.local, **numbers))
        _check_fields(name, numbers, PRICE_FIELDS)
        hosted = dict(self.hosted)
        if name in hosted:
            hosted[name] = dataclasses.replace(hosted[name], **numbers)
        else:
            missing = [f for f in PRICE_FIELDS if f not in numbers]
            if missing:
                raise PriceError(f"new preset {name!r} needs every price; missing "
                                 + ", ".join(missing))
            hosted[name] = Prices(**numbers)
        return dataclasses.replace(self, hosted=hosted)

    def with_file(self, path: Path) -> PriceTable:
        table = self
        for name, values in load_price_file(path).items():
            table = table.override(name, values)
        return table

    def with_flag(self, assignment: str) -> PriceTable:
        """Apply one ``NAME.FIELD=USD`` flag, e.g. ``gpt-realtime.audio_in=30``."""
        target, sep, value = assignment.partition("=")
        name, dot, key = target.rpartition(".")
        if not (sep and dot and name and key):
            raise PriceError(f"price override {assignment!r} is not NAME.FIELD=USD")
        return self.override(name, {key: value})


def load_price_file(path: Path) -> dict[str, dict[str, Any]]:
    """Read ``{preset: {field: usd}}`` from JSON, or TOML (``[preset]`` tables)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PriceError(f"cannot read price file {path}: {exc}") from None
    try:
        data: Any = (tomllib.loads(text) if path.suffix.lower() == ".toml"
                     else json.loads(text))
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise PriceError(f"price file {path} is not valid "
                         f"{'TOML' if path.suffix.lower() == '.toml' else 'JSON'}: "
                         f"{str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise PriceError(f"price file {path} must map preset names to {{field: usd}} tables")
    return data


def _number(name: str, key: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PriceError(f"price {name}.{key} is not a number: {value!r}") from None
    if number < 0 or number != number:  # NaN compares unequal to itself
        raise PriceError(f"price {name}.{key} must be a non-negative number, not {value!r}")
    return number


def _check_fields(name: str, values: dict[str, float], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise PriceError(f"unknown price field(s) for {name!r}: {', '.join(unknown)} "
                         f"(known: {', '.join(allowed)})")
