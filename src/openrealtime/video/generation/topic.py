"""``--topic``: ask the LLM backend for a script, in the Markdown shape the parser reads.

Small local models ramble, so the prompt shows the exact shape, and the answer is cleaned
(code fences, chatter before the first heading) before it is parsed like any script.
"""

from __future__ import annotations

import asyncio
import contextlib
import re

from .error import GenerationError

SYSTEM_PROMPT = (
    "You write scripts for short narrated videos. Answer with Markdown only, in exactly "
    "this shape:\n# Video title\n\n## Scene heading\nOne or two short spoken sentences.\n\n"
    "## Next scene heading\nOne or two short spoken sentences.\n\n"
    "Write 3 to 5 scenes. No lists, no code, no stage directions."
)


WORDS_PER_S = 2.2  # Piper's pace, less the pauses between sentences and scenes
_SCRIPT_MARKS = re.compile(r"^(#{1,6}\s+\S|visual\s*:|```|\|.*\|\s*$)|!\[[^\]]*\]\(",
                           re.IGNORECASE | re.MULTILINE)


def looks_like_script(text: str) -> bool:
    """Whether ``text`` is a script to narrate as written rather than a topic: it has a
    Markdown heading, a ``Visual:`` line, an image, a chart or table, or several
    paragraphs. One paragraph (a Sora-style prompt) is a topic."""
    if _SCRIPT_MARKS.search(text):
        return True
    return len([p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]) > 1


def length_hint(seconds: float) -> str:
    """The system prompt's line that sizes a script for a video of ``seconds``."""
    words = max(6, int(seconds * WORDS_PER_S))
    scenes = 1 if seconds <= 5 else 2 if seconds <= 10 else 3
    return (f"The video lasts {seconds:g} seconds: write {scenes} scene"
            f"{'s' if scenes > 1 else ''} and at most {words} spoken words in all.")


async def write_script_async(topic: str, llm: object, max_tokens: int = 500,
                             seconds: float | None = None) -> str:
    """The LLM's script for ``topic`` (raises GenerationError if it has no narration);
    ``seconds``: sized for a video that long."""
    from openrealtime.backends.base import BackendError, LLMRequest, TextDelta

    system = SYSTEM_PROMPT if seconds is None else (
        SYSTEM_PROMPT.replace("Write 3 to 5 scenes. ", "") + " " + length_hint(seconds))
    request = LLMRequest(
        messages=[{"role": "system", "content": system},
                  {"role": "user", "content": f"Topic: {topic}"}],
        max_tokens=max_tokens, temperature=0.4,
    )
    parts: list[str] = []
    try:
        async with contextlib.aclosing(llm.stream(request)) as stream:  # type: ignore[attr-defined]
            async for chunk in stream:
                if isinstance(chunk, TextDelta):
                    parts.append(chunk.text)
    except BackendError as exc:
        raise GenerationError(f"the LLM failed to write a script: {exc.message}") from None
    return clean_script("".join(parts), topic)


def clean_script(text: str, topic: str) -> str:
    """Strip fences and chatter; make sure there is a title heading."""
    text = re.sub(r"^```\w*\s*$", "", text, flags=re.M)
    start = text.find("#")
    text = text[start:] if start >= 0 else text
    if not text.lstrip().startswith("# "):
        text = f"# {topic.strip().capitalize()}\n\n{text}"
    return text.strip() + "\n"


def write_script(topic: str, *, llm_url: str | None = None, llm_model: str | None = None,
                 llm: object | None = None) -> str:
    """Synchronous wrapper: a remote OpenAI-compatible LLM if ``llm_url``, else local llama.cpp."""
    return asyncio.run(_write(topic, llm_url, llm_model, llm))


async def _write(topic: str, llm_url: str | None, llm_model: str | None, llm: object | None) -> str:
    owned = llm is None
    if llm is None:
        from openrealtime.backends.base import BackendError

        try:
            if llm_url:
                from openrealtime.backends.remote.openai_llm import RemoteLLM

                llm = RemoteLLM(llm_url, llm_model or "default")
            else:
                from openrealtime.backends.local.llama import LlamaLLM

                llm = LlamaLLM()
        except (BackendError, ImportError) as exc:
            raise GenerationError(f"no LLM for --topic: {exc}") from None
    try:
        return await write_script_async(topic, llm)
    finally:
        if owned:
            await llm.aclose()  # type: ignore[attr-defined]
