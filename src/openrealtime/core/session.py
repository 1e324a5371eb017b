"""The sans-I/O realtime session: client events and facts in, server events and effects out.

No asyncio, no clock, no models. The runtime feeds it validated client events
(:meth:`handle`) and backend facts (:meth:`on_fact`) and executes the effects it
returns, in order. Stale facts (an ended response's id) are ignored, which orders
cancellation without locks.

The input side — audio intake, speech start/stop, the pending turn, the end-of-turn
decision and the speculative reply — is the :class:`.listener.Listener`; the session
acts on its signals: it announces and commits turns, and starts, adopts or discards
the responses that answer them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, Literal, TypeAlias

from ..audio import AudioFormat
from ..protocol import client_events as ce
from ..protocol import server_events as ev
from ..protocol.errors import ProtocolError
from ..protocol.ids import item_id as new_item_id
from ..protocol.ids import response_id as new_response_id
from ..protocol.items import InputAudioPart, MessageItem
from ..protocol.session import (
    RealtimeSession,
    TranscriptionSession,
    apply_transcription_update,
    apply_update,
    transcription_config,
    transcription_view,
)
from . import effects as fx
from .conversation import Conversation
from .intake import SAMPLE_RATE, audio_format
from .items import (
    build_context,
    check_new_item,
    decode_images,
    decode_input_audio,
    delete_item,
    retrieve_item,
    truncate_item,
)
from .limits import SessionLimits
from .listener import Commit, DraftWanted, Listener, TurnBegan
from .pending import FINAL, Speculation, TranscriptionResult
from .response import ResponseState, response_output, response_plan

DEFAULT_LIMITS = SessionLimits()
Output: TypeAlias = ev.ServerEvent | fx.Effect
# Client events that cannot change what a draft answers (see Session.revision).
_DRAFT_SAFE = frozenset({"input_audio_buffer.append", "input_audio_buffer.commit",
                         "input_audio_buffer.clear", "conversation.item.retrieve"})


class Session:
    """One realtime session's protocol state; ``limits`` caps what it keeps in memory.

    ``echo_latency``: the input goes through the runtime's echo canceller, whose output
    lags its input by this many samples (None: there is none);
    ``backchannel_ms``: speech this short while the assistant talks may be a
    backchannel ("mm-hmm") that does not interrupt it (0: any speech interrupts);
    ``transcription``: a transcription session (live captions of each turn as it is
    spoken, then the final transcript; no responses).
    """

    def __init__(self, config: RealtimeSession, *, beta: bool = False,
                 input_capacity_s: int = 120, limits: SessionLimits = DEFAULT_LIMITS,
                 echo_latency: int | None = None, backchannel_ms: int = 0,
                 transcription: bool = False) -> None:
        self.transcription = transcription
        self.config = transcription_config(config) if transcription else config
        self.beta = beta  # the beta dialect still has session.temperature
        self.limits = limits
        self.conversation = Conversation(limits)
        self.responses: dict[str, ResponseState] = {}
        self.inband: str | None = None
        self.last_response: str | None = None
        self.voice_locked = False
        # Counts the changes a draft cannot know about (session and conversation edits,
        # responses): a draft started at another revision is not adopted.
        self.revision = 0
        # Committed items whose transcript is still coming, and the ``speculation``
        # number of the one result that counts: one `completed` per item, ever.
        self.awaiting: dict[str, int] = {}
        self.listener = Listener(config.audio.input, capacity_s=input_capacity_s,
                                 echo_latency=echo_latency, backchannel_ms=backchannel_ms,
                                 draft_revision=self._draft_revision,
                                 partials=transcription)
        self._handlers: dict[str, Callable[[Any], list[Output]]] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": lambda e: self._signals(self.listener.commit()),
            "input_audio_buffer.clear": lambda e: self._signals(self.listener.clear()),
            "conversation.item.create": self._item_create,
            "conversation.item.retrieve": lambda e: [retrieve_item(
                self.conversation, e.item_id, self.output_format)],
            "conversation.item.truncate": self._item_truncate,
            "conversation.item.delete": self._item_delete,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
            "output_audio_buffer.clear": self._output_audio_clear,
            "session.close": self._session_close,
        }

    @property
    def output_format(self) -> AudioFormat:
        return audio_format(self.config.audio.output.format)

    def created(self) -> list[Output]:
        return [ev.SessionCreated(session=self._shown())]

    def _shown(self) -> RealtimeSession | TranscriptionSession:
        """The session as the wire shows it."""
        return transcription_view(self.config) if self.transcription else self.config

    # ------------------------------------------------------------ client events

    def handle(self, event: Any) -> list[Output]:
        """Apply one validated client event. Raises ProtocolError, changing nothing."""
        result = self._handlers[event.type](event)
        if event.type not in _DRAFT_SAFE:
            self.revision += 1
            result += self.listener.drop_draft()
        return result + self._forget_dropped()

    def _session_update(self, e: ce.SessionUpdate) -> list[Output]:
        old = self.config
        self.config = (apply_transcription_update(old, e.session) if self.transcription
                       else apply_update(old, e.session, voice_locked=self.voice_locked,
                                         allow_temperature=self.beta))
        out: list[Output] = [ev.SessionUpdated(session=self._shown())]
        if old.audio.input != self.config.audio.input:
            reset = (old.audio.input.format != self.config.audio.input.format
                     or old.audio.input.turn_detection != self.config.audio.input.turn_detection)
            if reset:
                out = self._signals(self.listener.configure(self.config.audio.input)) + out
            else:
                self.listener.update(self.config.audio.input)
        return out

    def _append(self, e: ce.InputAudioBufferAppend) -> list[Output]:
        try:
            return self._signals(self.listener.intake.append(
                base64.b64decode(e.audio, validate=True)))
        except (binascii.Error, ValueError):
            raise ProtocolError(
                "Invalid 'audio'. Expected base64-encoded audio bytes (mono PCM16 at 24kHz) "
                "but got an invalid value.", code="invalid_value", param="audio") from None

    def _item_create(self, e: ce.ConversationItemCreate) -> list[Output]:
        item = e.item
        check_new_item(item, self.conversation)
        images = decode_images(item)
        audio = decode_input_audio(item)
        if item.id is None:
            item.id = new_item_id()
        prev = self.conversation.insert(item, e.previous_item_id)
        out: list[Output] = [ev.ConversationItemAdded(previous_item_id=prev, item=item.model_copy()),
                             ev.ConversationItemDone(previous_item_id=prev, item=item.model_copy())]
        if audio is not None:
            self.conversation.keep_input_audio(item.id, audio)
            self.awaiting[item.id] = FINAL
            out.append(fx.StartTranscription(item.id, audio, **self.listener.stt_options()))
        out += [fx.DescribeImage(item.id, index, mime, data, detail)
                for index, mime, data, detail in images]
        return out

    def _item_truncate(self, e: ce.ConversationItemTruncate) -> list[Output]:
        truncated = truncate_item(self.conversation, e, self.limits.output_audio_items)
        self.listener.intake.stopped_playing()  # the client stopped playing it just now
        return [truncated]

    def _item_delete(self, e: ce.ConversationItemDelete) -> list[Output]:
        deleted = delete_item(self.conversation, e.item_id)
        self.awaiting.pop(e.item_id, None)
        return [deleted, fx.ForgetItem(e.item_id)]

    def _response_create(self, e: ce.ResponseCreate) -> list[Output]:
        if self.transcription:
            raise ProtocolError("A transcription session does not create responses.",
                                code="invalid_request_error", param="type")
        params = e.response or ce.ResponseParams()
        inband = params.conversation != "none"
        if inband and self.inband is not None:
            raise ProtocolError(
                f"Conversation already has an active response in progress: {self.inband}. "
                "Wait until the response is finished before creating a new one.",
                code="conversation_already_has_active_response")
        cap = self.limits.max_out_of_band_responses
        if not inband and sum(not s.inband for s in self.responses.values()) >= cap:
            raise ProtocolError(
                f"Too many out-of-band responses in progress (the limit is {cap}). Wait "
                "until one is finished before creating another.",
                code="too_many_active_responses")
        items = build_context(params.input, self.conversation) if params.input is not None \
            else list(self.conversation.items)
        state, plan = self._open(params, items, inband)
        return [state.created(), fx.StartResponse(state.id, plan)]

    def _response_cancel(self, e: ce.ResponseCancel) -> list[Output]:
        rid = e.response_id or self.inband
        if rid is None or rid not in self.responses:
            raise ProtocolError("Cancellation failed: no active response found",
                                code="response_cancel_not_active")
        return self._cancel(rid, "client_cancelled")

    def _output_audio_clear(self, e: ce.OutputAudioBufferClear) -> list[Output]:
        out: list[Output] = []
        if self.inband is not None:
            out += self._cancel(self.inband, "client_cancelled")
        self.listener.intake.stopped_playing()
        out.append(ev.OutputAudioBufferCleared(response_id=self.last_response))
        return out

    def _session_close(self, e: ce.SessionClose) -> list[Output]:
        out: list[Output] = []
        for rid in list(self.responses):
            out += self._cancel(rid, "client_cancelled")
        out.append(fx.CloseSession(1000, "session closed by client"))
        return out

    # ------------------------------------------------------------------ turns

    def _signals(self, outputs: list[Any]) -> list[Output]:
        """The listener's outputs, with its signals replaced by what they lead to."""
        out: list[Output] = []
        for item in outputs:
            if isinstance(item, TurnBegan):
                td = self.config.audio.input.turn_detection
                if td is not None and td.interrupt_response and self.inband is not None:
                    out += self._cancel(self.inband, "turn_detected")
                    self.listener.intake.stopped_playing()
            elif isinstance(item, Commit):
                out += self._committed(item)
            elif isinstance(item, DraftWanted):
                out.append(self._draft(item))
            else:
                out.append(item)
        return out

    def _draft_revision(self) -> int | None:
        """The revision a draft may start at now, or None when no answer would follow."""
        td = self.config.audio.input.turn_detection
        if (td is None or not td.create_response or self.inband is not None
                or self.transcription):
            return None
        return self.revision

    def _draft(self, wanted: DraftWanted) -> fx.StartResponse:
        """The speculative answer: the conversation plus the turn as heard so far."""
        heard = MessageItem(id=wanted.item_id, role="user",
                            content=[InputAudioPart(transcript=wanted.transcript)])
        plan = response_plan(self.config, ce.ResponseParams(), [*self.conversation.items, heard])
        return fx.StartResponse(wanted.response_id, plan, draft=True)

    def _committed(self, c: Commit) -> list[Output]:
        draft = c.draft
        adoptable = draft is not None and draft.revision == self.revision
        out = self._commit(c.item_id, c.start, c.end, c.speculation, transcribe=c.transcribe)
        td = self.config.audio.input.turn_detection
        if (c.respond and td is not None and td.create_response and self.inband is None
                and not self.transcription):
            items = list(self.conversation.items)
            if adoptable:
                assert draft is not None
                state, _ = self._open(ce.ResponseParams(), items, True, draft.response_id)
                return [*out, state.created(), fx.AdoptDraft(state.id)]
            state, plan = self._open(ce.ResponseParams(), items, True)
            out += [state.created(), fx.StartResponse(state.id, plan)]
        if draft is not None:
            out.append(fx.DiscardDraft(draft.response_id))
        return out

    def _commit(self, item_id: str, start: int, end: int, speculation: Speculation | None,
                *, transcribe: bool = True) -> list[Output]:
        """Commit ``[start, end)`` as a user item; ``speculation``: the pending turn's
        live speculation, which then stands as the item's transcription."""
        ring = self.listener.ring
        audio = ring.read(max(start, ring.start), end)
        self.listener.buffer_start = end
        item = MessageItem(id=item_id, role="user", content=[InputAudioPart()])
        prev = self.conversation.insert(item, None)
        self.conversation.keep_input_audio(item_id, audio)
        out: list[Output] = [
            ev.InputAudioBufferCommitted(previous_item_id=prev, item_id=item_id),
            ev.ConversationItemAdded(previous_item_id=prev, item=item.model_copy()),
            ev.ConversationItemDone(previous_item_id=prev, item=item.model_copy()),
        ]
        if not transcribe:
            return out
        if speculation is None:
            self.awaiting[item_id] = FINAL
            out.append(fx.StartTranscription(item_id, audio, **self.listener.stt_options()))
        elif speculation.result is not None:
            out += self._publish(speculation.result)
        else:  # still running: its result will be the item's
            self.awaiting[item_id] = speculation.number
        return out

    # -------------------------------------------------------------- responses

    def _open(self, params: ce.ResponseParams, items: list[Any], inband: bool,
              response_id: str | None = None) -> tuple[ResponseState, fx.ResponsePlan]:
        """Register a response (its ``response.created`` is the caller's to send)."""
        plan = response_plan(self.config, params, items)
        output = response_output(self.config, params)
        fmt = audio_format(output.format)
        state = ResponseState(
            id=response_id or new_response_id(), modalities=plan.output_modalities,
            voice=output.voice, output_format=fmt,
            output_format_wire=output.format.model_dump(),
            max_output_tokens=params.max_output_tokens or self.config.max_output_tokens,
            metadata=params.metadata,
            insert=(lambda it: self.conversation.insert(it, None)) if inband else None,
            input_audio_s=sum(self.conversation.input_samples.get(i.id or "", 0)
                              for i in items) / SAMPLE_RATE,
            max_audio_samples=self.limits.output_item_samples(fmt.sample_rate),
        )
        self.responses[state.id] = state
        self.last_response = state.id
        self.listener.idle_deadline = None
        if inband:
            self.inband = state.id
            self.revision += 1
        return state, plan

    def _end(self, rid: str) -> None:
        self.responses.pop(rid, None)
        if self.inband == rid:
            self.inband = None
            self.revision += 1  # its items are in the conversation now

    def _cancel(self, rid: str, reason: str) -> list[Output]:
        state = self.responses[rid]
        self._end(rid)
        return [fx.CancelResponse(rid), *state.finish("cancelled", reason=reason)]

    # ------------------------------------------------------------------ facts

    def on_fact(self, fact: fx.Fact) -> list[Output]:
        """Apply one backend fact; stale facts give nothing."""
        listener = self.listener
        if isinstance(fact, fx.SpeechScored):
            return self._signals(listener.on_speech(fact.probabilities))
        if isinstance(fact, fx.EchoCancelled):
            return self._signals(listener.intake.on_echo_cancelled(fact))
        if isinstance(fact, fx.TurnScored):
            return self._signals(listener.on_turn_scored(fact))
        if isinstance(fact, fx.TranscriptionCompleted | fx.TranscriptionFailed):
            return self._transcribed(fact) + self._forget_dropped()
        state = self.responses.get(fact.response_id)
        if state is None:
            return []  # stale: the response already ended (cancelled or failed)
        return self._response_fact(state, fact) + self._forget_dropped()

    def _response_fact(self, state: ResponseState, fact: fx.Fact) -> list[Output]:
        if isinstance(fact, fx.TextProduced):
            return list(state.on_text(fact.text))
        if isinstance(fact, fx.ClauseStarted):
            return list(state.on_clause(fact.text))
        if isinstance(fact, fx.AudioProduced):
            if state.inband:
                self.voice_locked = True
            self.listener.intake.played(fact.samples, state.output_format.sample_rate)
            events = list(state.on_audio(fact.samples))
            message_id = state.message.id if state.message is not None else None
            if state.inband and not state.audio_kept and state.audio is not None \
                    and message_id is not None and message_id in self.conversation:
                state.audio_kept = True  # (the item may have been deleted meanwhile)
                self.conversation.keep_output_audio(message_id, state.audio)
            return events  # type: ignore[return-value]
        if isinstance(fact, fx.ToolCallProduced):
            return list(state.on_tool_call(fact.index, fact.arguments, fact.name, fact.call_id))
        assert isinstance(fact, fx.ResponseFinished | fx.ResponseFailed)
        self._end(fact.response_id)
        if state.inband:
            td = self.config.audio.input.turn_detection
            self.listener.arm_idle(getattr(td, "idle_timeout_ms", None))
        if isinstance(fact, fx.ResponseFailed):
            # Besides response.done's status_details, an ``error`` event says which backend
            # failed and why, so a client that only logs errors sees it too.
            detail: dict[str, object] = {"type": "server_error", "code": fact.code,
                                         "message": fact.message}
            return [ev.error_event({**detail, "param": None, "event_id": None}),
                    *state.finish("failed", error=detail)]
        status: Literal["completed", "incomplete"] = (
            "incomplete" if fact.reason == "length" else "completed")
        return list(state.finish(
            status, reason="max_output_tokens" if status == "incomplete" else None,
            input_text_tokens=fact.input_text_tokens, output_text_tokens=fact.output_text_tokens,
            cached_tokens=fact.cached_tokens))

    def _transcribed(self, fact: TranscriptionResult) -> list[Output]:
        speculative = self.listener.on_transcription(fact)
        if speculative is not None:
            return self._signals(speculative)  # the pending turn's: published at the commit
        if self.awaiting.get(fact.item_id) != fact.speculation:
            return []  # stale (speech resumed, cleared, superseded) or already published
        del self.awaiting[fact.item_id]
        return self._publish(fact)

    def _publish(self, fact: TranscriptionResult) -> list[Output]:
        """The one transcription result of a committed item, as wire events."""
        item = self.conversation.get(fact.item_id)
        if item is None or self.config.audio.input.transcription is None:
            return []
        if isinstance(fact, fx.TranscriptionFailed):
            self.listener.captioned.pop(fact.item_id, None)
            return [ev.InputAudioTranscriptionFailed(item_id=fact.item_id, error=ev.ErrorDetail(
                type="transcription_error", code="audio_unintelligible", message=fact.message))]
        if item.type == "message":
            item.content = [InputAudioPart(transcript=fact.transcript) if p.type == "input_audio"
                            else p for p in item.content]
        captions = self.listener.captioned
        delta = (self.listener.caption(fact.item_id, fact.transcript) if fact.item_id in captions
                 else [ev.InputAudioTranscriptionDelta(item_id=fact.item_id,
                                                       delta=fact.transcript)])
        captions.pop(fact.item_id, None)
        return [
            *delta,
            ev.InputAudioTranscriptionCompleted(
                item_id=fact.item_id, transcript=fact.transcript,
                usage=ev.TranscriptionUsage(seconds=round(fact.duration_s, 3))),
        ]

    def _forget_dropped(self) -> list[Output]:
        """Items dropped over the item cap: tell the runtime, stop waiting for them."""
        dropped, self.conversation.forgotten = self.conversation.forgotten, []
        for item_id in dropped:
            self.awaiting.pop(item_id, None)
        return [fx.ForgetItem(item_id) for item_id in dropped]
