"""Tool calls for small local models: prompt, grammar and a streaming parser.

Small models such as SmolLM2-135M do not produce valid tool-call JSON on their
own, so a tool call is generated under a llama.cpp grammar built from the
tools' JSON schemas. The constrained output has one shape::

    {"name": "<tool name>", "arguments": {...the tool's parameters...}}

``name`` comes first (llama.cpp orders required properties as declared), so
:class:`ToolCallParser` can announce the tool as soon as its name is complete
and then stream the ``arguments`` object piece by piece.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from openrealtime.backends.base import BackendError, ToolSpec

TOOLS_INSTRUCTION = (
    "You can call tools. To call one, reply with only a JSON object of the form "
    '{"name": <tool name>, "arguments": {<arguments>}} and nothing else. '
    "Otherwise answer normally in plain text.\nTools:\n"
)


def chosen_tool_name(tool_choice: str | Mapping[str, Any]) -> str | None:
    """The function name forced by ``tool_choice``, in Realtime or Chat shape."""
    if not isinstance(tool_choice, Mapping):
        return None
    function = tool_choice.get("function")
    if isinstance(function, Mapping) and "name" in function:
        return str(function["name"])  # chat-completions: {"type", "function": {"name"}}
    name = tool_choice.get("name")  # Realtime API: {"type": "function", "name": ...}
    return str(name) if name is not None else None


def select_tools(tools: Sequence[ToolSpec], tool_choice: str | Mapping[str, Any]) -> list[ToolSpec]:
    """The tools the model may call under ``tool_choice`` (empty for "none")."""
    if not tools or tool_choice == "none":
        return []
    name = chosen_tool_name(tool_choice)
    if name is None:
        return list(tools)
    chosen = [tool for tool in tools if tool.name == name]
    if not chosen:
        raise BackendError(f"tool_choice names unknown tool {name!r}", code="invalid_tool_choice")
    return chosen


def tools_system_prompt(tools: Sequence[ToolSpec]) -> str:
    lines = [
        f"- {tool.name}: {tool.description} Parameters: {json.dumps(parameters_schema(tool))}"
        for tool in tools
    ]
    return TOOLS_INSTRUCTION + "\n".join(lines)


# A grammar lets a small model go on forever inside an open array or string (a chart
# with endless points): unbounded ones get these caps, for the grammar only.
MAX_ITEMS = 12
MAX_STRING = 200


def parameters_schema(tool: ToolSpec) -> dict[str, Any]:
    return dict(tool.parameters) if tool.parameters else {"type": "object"}


def bounded(schema: Any) -> Any:
    """A copy of ``schema`` with caps on arrays and free strings that have none."""
    if isinstance(schema, list):
        return [bounded(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: bounded(v) for k, v in schema.items()}
    if out.get("type") == "array" and "maxItems" not in out:
        out["maxItems"] = MAX_ITEMS
    if out.get("type") == "string" and not {"maxLength", "enum", "const", "pattern",
                                            "format"} & out.keys():
        out["maxLength"] = MAX_STRING
    return out


def call_schema(tools: Sequence[ToolSpec]) -> dict[str, Any]:
    """JSON schema of ``{"name": ..., "arguments": ...}`` for any of ``tools``."""
    variants = [
        {
            "type": "object",
            "properties": {
                "name": {"const": tool.name},
                "arguments": bounded(parameters_schema(tool)),
            },
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for tool in tools
    ]
    return variants[0] if len(variants) == 1 else {"oneOf": variants}


_PREFIX = re.compile(r'\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:\s*')


class ToolCallParser:
    """Turns the streamed wrapper object into the name and the arguments pieces.

    :meth:`feed` returns ``(name, arguments_piece)``: ``name`` once, when it is
    first known, and the arguments text that is safe to emit so far. The
    wrapper's closing brace is held back (it is always the last ``}``).
    """

    def __init__(self) -> None:
        self._buffer = ""
        self.name: str | None = None
        self.arguments = ""

    def feed(self, text: str) -> tuple[str | None, str]:
        self._buffer += text
        new_name = None
        if self.name is None:
            match = _PREFIX.match(self._buffer)
            if match is None:
                return None, ""
            self.name = new_name = json.loads(f'"{match.group(1)}"')
            self._buffer = self._buffer[match.end() :]
        cut = self._buffer.rfind("}")
        if cut < 0:
            piece, self._buffer = self._buffer, ""
        else:
            piece, self._buffer = self._buffer[:cut], self._buffer[cut:]
        if not self.arguments:
            piece = piece.lstrip()  # the grammar allows a space before the object
        self.arguments += piece
        return new_name, piece

    def finish(self) -> str:
        """The rest of the arguments, without the wrapper's closing brace."""
        if self.name is None:
            return ""  # never got as far as the arguments (truncated output)
        rest = self._buffer.rstrip()
        rest = rest[:-1] if rest.endswith("}") else rest
        self._buffer = ""
        self.arguments += rest
        return rest
