"""Turn pydantic validation errors into the reference's error codes and messages."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from .errors import ProtocolError, quote_list


def _path(prefix: str, loc: tuple[int | str, ...], data: Any) -> str:
    """The wire path of an error location, walking the input to drop union tags."""
    parts = [prefix] if prefix else []
    for piece in loc:
        if isinstance(piece, int) and isinstance(data, list):
            parts[-1 if parts else 0:] = [f"{parts[-1] if parts else ''}[{piece}]"]
            data = data[piece] if piece < len(data) else None
        elif isinstance(data, dict) and piece in data:
            parts.append(str(piece))
            data = data[piece]
        elif isinstance(data, dict) and isinstance(piece, str) and not piece.startswith(
                ("function-", "literal[")) and data.get("type") != piece and not piece[:1].isupper():
            parts.append(piece)  # a missing or extra key
            data = None
        # else: a union member tag, not a wire name
    return ".".join(parts)


def _expected_values(err: Any) -> list[str]:
    ctx = err.get("ctx") or {}
    # literal_error puts the choices in "expected"; union_tag_invalid in "expected_tags".
    expected = ctx.get("expected", ctx.get("expected_tags", ""))
    return [v.strip().strip("'") for v in str(expected).replace(" or ", ",").split(",") if v.strip()]


def to_protocol_error(exc: ValidationError, *, prefix: str, data: Any = None) -> ProtocolError:
    """The first error of ``exc`` as a ProtocolError with a wire ``param`` path."""
    errors = exc.errors()
    # Prefer the most specific error: unions report one error per member.
    err = max(errors, key=lambda e: (e["type"] != "union_tag_invalid", len(e["loc"])))
    kind = err["type"]
    param = _path(prefix, err["loc"], data)
    value = err.get("input")
    if kind == "extra_forbidden":
        return ProtocolError(f"Unknown parameter: '{param}'.", code="unknown_parameter", param=param)
    if kind == "missing":
        return ProtocolError(
            f"Missing required parameter: '{param}'.", code="missing_required_parameter", param=param
        )
    if kind in {"literal_error", "enum"}:
        values = _expected_values(err)
        return ProtocolError(
            f"Invalid value: '{value}'. Supported values are: {quote_list(values)}.",
            code="invalid_value",
            param=param,
        )
    if kind == "union_tag_invalid":
        tags = _expected_values(err)
        tag = (err.get("ctx") or {}).get("tag")
        return ProtocolError(
            f"Invalid value: '{tag}'. Supported values are: {quote_list(tags)}.",
            code="invalid_value",
            param=f"{param}.type" if param else "type",
        )
    if kind in {"greater_than_equal", "greater_than"}:
        limit = (err.get("ctx") or {}).get("ge", (err.get("ctx") or {}).get("gt"))
        code = "decimal_below_min_value" if isinstance(limit, float) else "integer_below_min_value"
        return ProtocolError(
            f"Invalid '{param}': value {value} is below the minimum. Expected a value >= {limit}.",
            code=code,
            param=param,
        )
    if kind in {"less_than_equal", "less_than"}:
        limit = (err.get("ctx") or {}).get("le", (err.get("ctx") or {}).get("lt"))
        code = "decimal_above_max_value" if isinstance(limit, float) else "integer_above_max_value"
        return ProtocolError(
            f"Invalid '{param}': value {value} is above the maximum. Expected a value <= {limit}.",
            code=code,
            param=param,
        )
    if kind == "string_too_long":
        limit = (err.get("ctx") or {}).get("max_length")
        return ProtocolError(
            f"Invalid '{param}': string too long. Expected a string with maximum length "
            f"{limit}, but got a string with length {len(str(value))} instead.",
            code="string_above_max_length",
            param=param,
        )
    return ProtocolError(
        f"Invalid type for '{param}': {err['msg']}.", code="invalid_type", param=param
    )
