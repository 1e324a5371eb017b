"""One response's lifecycle events, in the reference's order.

``response.created`` → per output item: ``output_item.added`` → (in-band)
``conversation.item.added`` → ``content_part.added`` → deltas → ``*.done`` chain →
``conversation.item.done`` → ``output_item.done`` → ``response.done`` →
``rate_limits.updated``. The ``*.done`` chain is emitted whatever the outcome.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..audio import AudioFormat
from ..protocol import client_events as ce
from ..protocol import server_events as ev
from ..protocol.ids import call_id as new_call_id
from ..protocol.ids import item_id as new_item_id
from ..protocol.items import (
    AnyItem,
    FunctionCallItem,
    MessageItem,
    OutputAudioPart,
    OutputTextPart,
)
from ..protocol.session import AudioOutput, RealtimeSession, VoiceId, voice_name
from .conversation import AssistantAudio
from .effects import Int16Array, ResponsePlan
from .intake import audio_format

# Audio accounting rates (documented in docs/usage.md): the hosted service bills
# roughly 10 tokens per second of user audio and 20 per second of model audio.
INPUT_AUDIO_TOKENS_PER_S = 10
OUTPUT_AUDIO_TOKENS_PER_S = 20
# Keep each audio delta small: frames stay far under the clients' 1 MiB limit and the
# client can start playing sooner.
MAX_DELTA_MS = 200

Status = Literal["completed", "cancelled", "incomplete", "failed"]
# Inserts an item into the default conversation and returns its previous_item_id.
InsertFn = Callable[[AnyItem], str | None]


@dataclass(slots=True)
class _Call:
    item: FunctionCallItem
    output_index: int
    previous_item_id: str | None


@dataclass(slots=True)
class ResponseState:
    id: str
    modalities: list[str]
    voice: str | VoiceId
    output_format: AudioFormat
    output_format_wire: dict[str, object]
    max_output_tokens: int | Literal["inf"]
    metadata: dict[str, str] | None
    insert: InsertFn | None  # None: out-of-band, nothing goes into the conversation
    input_audio_s: float = 0.0
    max_audio_samples: int | None = None  # the cap on one item's retained samples
    audio_kept: bool = False  # the conversation holds ``audio`` (in-band only)
    output: list[AnyItem] = field(default_factory=list)
    message: MessageItem | None = None
    message_prev: str | None = None
    message_index: int = 0
    text: str = ""
    audio: AssistantAudio | None = None
    calls: dict[int, _Call] = field(default_factory=dict)
    done: bool = False

    @property
    def inband(self) -> bool:
        return self.insert is not None

    def _response(self, status: str, details: ev.StatusDetails | None = None,
                  usage: ev.Usage | None = None) -> ev.Response:
        return ev.Response(
            id=self.id, status=status, status_details=details, output=list(self.output),
            conversation_id="conv_default" if self.inband else None,
            output_modalities=self.modalities, max_output_tokens=self.max_output_tokens,
            audio=ev.ResponseAudio(output=ev.ResponseAudioOutput(
                format=self.output_format_wire, voice=self.voice)),
            usage=usage, metadata=self.metadata,
        )

    def created(self) -> ev.ResponseCreated:
        return ev.ResponseCreated(response=self._response("in_progress"))

    # ------------------------------------------------------------------ items

    def _add_item(self, item: AnyItem) -> tuple[list[ev.ServerEvent], str | None]:
        self.output.append(item)
        events: list[ev.ServerEvent] = [ev.ResponseOutputItemAdded(
            response_id=self.id, output_index=len(self.output) - 1, item=item.model_copy())]
        prev = None
        if self.insert is not None:
            prev = self.insert(item)
            events.append(ev.ConversationItemAdded(previous_item_id=prev, item=item.model_copy()))
        return events, prev

    def _ensure_message(self) -> list[ev.ServerEvent]:
        if self.message is not None:
            return []
        audio = self.modalities == ["audio"]
        part: OutputAudioPart | OutputTextPart = (
            OutputAudioPart(transcript="") if audio else OutputTextPart(text=""))
        self.message = MessageItem(id=new_item_id(), role="assistant", status="in_progress",
                                   content=[])
        events, self.message_prev = self._add_item(self.message)
        self.message_index = len(self.output) - 1
        self.message.content = [part]
        if audio:
            self.audio = AssistantAudio(sample_rate=self.output_format.sample_rate,
                                        max_samples=self.max_audio_samples)
        events.append(ev.ResponseContentPartAdded(
            **self._ref(), part=ev.Part(type="audio", transcript="") if audio
            else ev.Part(type="text", text="")))
        return events

    def _ref(self) -> dict[str, object]:
        assert self.message is not None
        return {"response_id": self.id, "item_id": self.message.id,
                "output_index": self.message_index, "content_index": 0}

    # ----------------------------------------------------------------- deltas

    def on_text(self, delta: str) -> list[ev.ServerEvent]:
        events = self._ensure_message()
        self.text += delta
        events.append(ev.ResponseOutputTextDelta(**self._ref(), delta=delta))
        return events

    def on_clause(self, text: str) -> list[ev.ServerEvent]:
        events = self._ensure_message()
        assert self.audio is not None
        delta = text if not self.text else " " + text
        self.text += delta
        self.audio.clauses.append((self.audio.num_samples, text))
        events.append(ev.ResponseOutputAudioTranscriptDelta(**self._ref(), delta=delta))
        return events

    def on_audio(self, samples: Int16Array) -> list[ev.ServerEvent]:
        events = self._ensure_message()
        assert self.audio is not None
        self.audio.append(samples)
        step = self.output_format.sample_rate * MAX_DELTA_MS // 1000
        ref = self._ref()
        fmt = self.output_format
        for start in range(0, len(samples), step):
            piece = samples[start:start + step].astype(np.float32) * np.float32(1 / 32768)
            data = base64.b64encode(fmt.encode(piece)).decode("ascii")
            events.append(ev.ResponseOutputAudioDelta(**ref, delta=data))
        return events

    def on_tool_call(self, index: int, arguments: str, name: str | None,
                     call_id: str | None) -> list[ev.ServerEvent]:
        events: list[ev.ServerEvent] = []
        call = self.calls.get(index)
        if call is None:
            events += self._close_message("completed")
            item = FunctionCallItem(id=new_item_id(), status="in_progress",
                                    call_id=call_id or new_call_id(), name=name or "",
                                    arguments="")
            added, prev = self._add_item(item)
            events += added
            call = self.calls[index] = _Call(item, len(self.output) - 1, prev)
        call.item.arguments += arguments
        if arguments:
            events.append(ev.ResponseFunctionCallArgumentsDelta(
                response_id=self.id, item_id=call.item.id or "", output_index=call.output_index,
                call_id=call.item.call_id, delta=arguments))
        return events

    # ------------------------------------------------------------------ finish

    def _close_message(self, status: Literal["completed", "incomplete"]) -> list[ev.ServerEvent]:
        msg = self.message
        if msg is None or msg.status != "in_progress":
            return []
        ref = self._ref()
        events: list[ev.ServerEvent] = []
        if self.audio is not None:
            msg.content = [OutputAudioPart(transcript=self.text)]
            events += [ev.ResponseOutputAudioDone(**ref),
                       ev.ResponseOutputAudioTranscriptDone(**ref, transcript=self.text),
                       ev.ResponseContentPartDone(**ref, part=ev.Part(
                           type="audio", transcript=self.text))]
        else:
            msg.content = [OutputTextPart(text=self.text)]
            events += [ev.ResponseOutputTextDone(**ref, text=self.text),
                       ev.ResponseContentPartDone(**ref, part=ev.Part(type="text",
                                                                     text=self.text))]
        msg.status = status
        events += self._item_done(msg, self.message_index, self.message_prev)
        return events

    def _item_done(self, item: AnyItem, index: int, prev: str | None) -> list[ev.ServerEvent]:
        events: list[ev.ServerEvent] = []
        if self.inband:
            events.append(ev.ConversationItemDone(previous_item_id=prev, item=item.model_copy()))
        events.append(ev.ResponseOutputItemDone(response_id=self.id, output_index=index,
                                                item=item.model_copy()))
        return events

    def _close_calls(self, status: Literal["completed", "incomplete"]) -> list[ev.ServerEvent]:
        events: list[ev.ServerEvent] = []
        for call in self.calls.values():
            if call.item.status != "in_progress":
                continue
            call.item.status = status
            if status == "completed":
                events.append(ev.ResponseFunctionCallArgumentsDone(
                    response_id=self.id, item_id=call.item.id or "",
                    output_index=call.output_index, call_id=call.item.call_id,
                    name=call.item.name, arguments=call.item.arguments))
            events += self._item_done(call.item, call.output_index, call.previous_item_id)
        return events

    def finish(self, status: Status, *, reason: str | None = None,
               error: dict[str, object] | None = None, input_text_tokens: int = 0,
               output_text_tokens: int = 0, cached_tokens: int = 0) -> list[ev.ServerEvent]:
        self.done = True
        item_status: Literal["completed", "incomplete"] = (
            "completed" if status == "completed" else "incomplete")
        events = self._close_message(item_status) + self._close_calls(item_status)
        details = None
        if status != "completed":
            details = ev.StatusDetails(type=status,
                                       reason=reason, error=error)
        events.append(ev.ResponseDone(response=self._response(status, details, self._usage(
            input_text_tokens, output_text_tokens, cached_tokens))))
        events.append(ev.RateLimitsUpdated(rate_limits=[ev.RateLimit(
            name="tokens", limit=1_000_000_000, remaining=999_999_999, reset_seconds=0.0)]))
        return events

    def _usage(self, input_text: int, output_text: int, cached: int) -> ev.Usage:
        produced_anything = bool(self.output)
        input_audio = round(self.input_audio_s * INPUT_AUDIO_TOKENS_PER_S) if (
            produced_anything or input_text) else 0
        output_audio = 0
        if self.audio is not None:
            seconds = self.audio.num_samples / self.audio.sample_rate
            output_audio = round(seconds * OUTPUT_AUDIO_TOKENS_PER_S)
        inputs = input_text + input_audio
        outputs = output_text + output_audio
        return ev.Usage(
            total_tokens=inputs + outputs, input_tokens=inputs, output_tokens=outputs,
            input_token_details=ev.InputTokenDetails(
                cached_tokens=cached, text_tokens=input_text, audio_tokens=input_audio,
                cached_tokens_details=ev.CachedTokensDetails(text_tokens=cached)),
            output_token_details=ev.OutputTokenDetails(text_tokens=output_text,
                                                       audio_tokens=output_audio))


def response_plan(config: RealtimeSession, params: ce.ResponseParams,
                  items: list[AnyItem]) -> ResponsePlan:
    """What the runtime needs to generate a response: the session's settings, overridden
    by those ``response.create`` gave (``params``), and the context ``items``."""
    out_cfg = response_output(config, params)
    tools = params.tools if params.tools is not None else config.tools
    reasoning = params.reasoning if params.reasoning is not None else config.reasoning
    parallel = (params.parallel_tool_calls if params.parallel_tool_calls is not None
                else config.parallel_tool_calls)
    tool_choice = params.tool_choice or config.tool_choice
    max_tokens = params.max_output_tokens or config.max_output_tokens
    return ResponsePlan(
        instructions=params.instructions if params.instructions is not None
        else config.instructions,
        items=items, output_modalities=list(params.output_modalities
                                            or config.output_modalities),
        voice=voice_name(out_cfg.voice), speed=out_cfg.speed,
        output_sample_rate=audio_format(out_cfg.format).sample_rate,
        max_output_tokens=None if max_tokens == "inf" else max_tokens,
        temperature=params.temperature or config.temperature,
        tools=[t.model_dump() for t in tools],
        tool_choice=tool_choice if isinstance(tool_choice, str) else tool_choice.model_dump(),
        reasoning_effort=reasoning.effort if reasoning is not None else None,
        parallel_tool_calls=parallel,
    )


def response_output(config: RealtimeSession, params: ce.ResponseParams) -> AudioOutput:
    """The session's audio output, with the fields ``response.create`` set replacing its
    own (a response may speak another format, voice or speed than the session)."""
    given = params.audio.output if params.audio and params.audio.output else None
    if given is None:
        return config.audio.output
    return config.audio.output.model_copy(
        update={name: getattr(given, name) for name in given.model_fields_set})
