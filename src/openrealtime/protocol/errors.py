"""Client mistakes as data: a :class:`ProtocolError` becomes one ``error`` event."""

from __future__ import annotations

from typing import Any


class ProtocolError(Exception):
    """An invalid client event. The session goes on; only this event is rejected."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.type = type

    def to_error(self, event_id: str | None) -> dict[str, Any]:
        return {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "event_id": event_id,
        }


def quote_list(values: list[str]) -> str:
    """``'a', 'b' and 'c'`` — the way the reference lists supported values."""
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def unknown_parameter(param: str) -> ProtocolError:
    return ProtocolError(f"Unknown parameter: '{param}'.", code="unknown_parameter", param=param)


def missing_parameter(param: str) -> ProtocolError:
    return ProtocolError(
        f"Missing required parameter: '{param}'.", code="missing_required_parameter", param=param
    )


def invalid_value(value: object, supported: list[str], param: str) -> ProtocolError:
    return ProtocolError(
        f"Invalid value: '{value}'. Supported values are: {quote_list(supported)}.",
        code="invalid_value",
        param=param,
    )


def safe_text(text: str, max_chars: int = 4096) -> str:
    """``text`` made always encodable: lone surrogates escaped (``\\ud800``), capped.

    Error messages and params echo client input; an ``error`` event must never fail to
    encode, or the session loses its only way to say what went wrong.
    """
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > max_chars:
        text = text[: max_chars - 3] + "..."
    return text


def json_type(value: object) -> str:
    """The JSON type of a decoded value, the way error messages name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def invalid_type(param: str, expected: str, value: object) -> ProtocolError:
    """``Invalid type for 'param': expected <expected>, but got <type> instead.``"""
    return ProtocolError(
        f"Invalid type for '{param}': expected {expected}, but got {json_type(value)} instead.",
        code="invalid_type",
        param=param,
    )
