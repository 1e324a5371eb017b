"""Conversation items → chat-completions messages for the LLM.

The LLM is text-in: a user audio item enters as its transcript (awaited here, since
speculative transcription may still be finishing), an assistant audio item as the
transcript of what was spoken (after truncation: only what was heard).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..backends.tool_result import is_acknowledgement, result_words
from ..protocol.items import AnyItem

# The most words of a tool's output said when the model says nothing about it.
FALLBACK_WORDS = 30


async def build_messages(
    instructions: str, items: list[AnyItem], transcripts: dict[str, asyncio.Future[str]]
) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    # A call enters the context only with its answer: chat APIs reject a tool call with
    # no tool reply, and a cancelled call (cut-off arguments) must not reach the model.
    answered = {i.call_id for i in items if i.type == "function_call_output"}
    calls = {i.call_id for i in items
             if i.type == "function_call" and i.status == "completed" and i.call_id in answered}
    for item in items:
        if item.type in ("function_call", "function_call_output") and item.call_id not in calls:
            continue
        if item.type == "function_call":
            messages.append({"role": "assistant", "content": None, "tool_calls": [{
                "id": item.call_id, "type": "function",
                "function": {"name": item.name, "arguments": item.arguments}}]})
        elif item.type == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": item.call_id,
                             "content": item.output})
        else:
            text = await _message_text(item, transcripts)
            if text or item.role != "user":
                messages.append({"role": item.role, "content": text})
    return _merge_consecutive(messages)


async def _message_text(item: Any, transcripts: dict[str, asyncio.Future[str]]) -> str:
    pieces: list[str] = []
    for index, part in enumerate(item.content):
        if part.type in ("input_text", "output_text"):
            pieces.append(part.text)
        elif part.type in ("input_audio", "output_audio"):
            if part.transcript is not None:
                pieces.append(part.transcript)
            elif item.id in transcripts:
                pieces.append(await asyncio.shield(transcripts[item.id]))
        elif part.type == "input_image":
            key = image_key(item.id, index)
            described = transcripts.get(key)
            pieces.append(await asyncio.shield(described) if described else "[image]")
    return " ".join(p.strip() for p in pieces if p and p.strip())


def _merge_consecutive(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat templates of small models expect alternating roles: join neighbours."""
    merged: list[dict[str, Any]] = []
    for message in messages:
        prev = merged[-1] if merged else None
        if (prev is not None and prev["role"] == message["role"] in ("user", "system")
                and isinstance(prev["content"], str) and isinstance(message["content"], str)):
            prev["content"] = prev["content"] + "\n" + message["content"]
        else:
            merged.append(dict(message))
    return merged



def tool_result_fallback(items: list[AnyItem]) -> str | None:
    """What to say if the model answers a tool's output with no text at all.

    A voice assistant must not go silent after using a tool (a small model may end at
    once, or fall into a loop the guard cuts off): when the response follows a
    ``function_call_output`` and produced neither text nor a call, the output itself is
    said, briefly. None when the response does not follow a tool's output.
    """
    last = items[-1] if items else None
    if last is None or last.type != "function_call_output":
        return None
    if is_acknowledgement(last.output):
        return "Done."
    words = result_words(last.output, max_words=FALLBACK_WORDS)
    return f"The result is: {words}" + ("" if words.endswith(("…", ".")) else ".")


def image_key(item_id: str, content_index: int) -> str:
    """Where an image's description waits, beside the transcripts (keyed by item id)."""
    return f"{item_id}#image{content_index}"


# Per-message overhead of chat templates (role markers, separators), in tokens.
MESSAGE_OVERHEAD = 4


def fit_window(messages: list[dict[str, Any]], count_tokens: Callable[[str], int],
               budget: int) -> list[dict[str, Any]]:
    """Drop the oldest turns until the prompt fits ``budget`` tokens.

    The system instructions and the latest message always stay; a tool result never
    outlives the call it answers. The dropped turns are gone from the LLM's view only:
    the conversation itself (and ``conversation.item.retrieve``) keeps them.
    """
    def size(message: dict[str, Any]) -> int:
        text = message.get("content") or ""
        calls = message.get("tool_calls") or []
        extra = sum(len(c["function"]["arguments"]) // 3 for c in calls)
        return count_tokens(str(text)) + MESSAGE_OVERHEAD + extra

    head = [m for m in messages[:1] if m["role"] == "system"]
    rest = messages[len(head):]
    sizes = [size(m) for m in rest]
    total = sum(size(m) for m in head) + sum(sizes)
    if total <= budget:
        return messages
    # Drop whole steps of the oldest turns (a multiple of half the budget), not just
    # enough: the kept prompt then starts at the same turn for many turns in a row, so
    # the LLM's prompt cache still holds it. Dropping just enough moves the start every
    # turn, and a local model re-reads the whole window each time (SmolLM2 on 2 cores:
    # ~8 s for 1,800 tokens, bench/conversation.py).
    step = max(1, budget // 2)
    target = -(-(total - budget) // step) * step
    dropped = start = 0
    while dropped < target and start < len(rest) - 1:
        dropped += sizes[start]
        start += 1
        while start < len(rest) - 1 and rest[start]["role"] == "tool":
            dropped += sizes[start]
            start += 1
    return head + rest[start:]
