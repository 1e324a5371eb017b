"""The sans-I/O realtime session: client events and facts in, server events and effects out.

No asyncio, no clock, no models. The runtime feeds it validated client events
(:meth:`handle`) and backend facts (:meth:`on_fact`) and executes the effects it
returns, in order. Stale facts (an ended response's id) are ignored, which orders
cancellation without locks.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal, TypeAlias

from ..audio import AudioFormat, Framer, SampleRing, StreamResampler
from ..protocol import client_events as ce
from ..protocol import server_events as ev
from ..protocol.errors import ProtocolError
from ..protocol.ids import item_id as new_item_id
from ..protocol.ids import response_id as new_response_id
from ..protocol.items import InputAudioPart, MessageItem, OutputAudioPart
from ..protocol.session import RealtimeSession, apply_update
from . import effects as fx
from .conversation import Conversation
from .items import (
    build_context,
    check_new_item,
    decode_images,
    decode_input_audio,
    retrieve_copy,
)
from .limits import SessionLimits
from .pending import FINAL, PendingTurn, Speculation, TranscriptionResult
from .response import ResponseState
from .turn import (
    EAGERNESS_SILENCE_MS,
    PauseBegan,
    SpeechBegan,
    SpeechEnded,
    SpeechResumed,
    TurnDetector,
)

SAMPLE_RATE = 16_000  # the input timeline (VAD and STT rate)
VAD_WINDOW = 512
MIN_COMMIT_MS = 100
# Speculative transcription starts after this much pause (see TurnDetector).
SPECULATION_HOLD_MS = 90
DEFAULT_LIMITS = SessionLimits()
Output: TypeAlias = ev.ServerEvent | fx.Effect


def audio_format(fmt: Any) -> AudioFormat:
    return {"audio/pcm": AudioFormat("pcm16", 24000), "audio/pcmu": AudioFormat("pcmu", 8000),
            "audio/pcma": AudioFormat("pcma", 8000)}[fmt.type]


def ms(samples: int) -> int:
    return samples * 1000 // SAMPLE_RATE


class Session:
    """One realtime session's protocol state; ``limits`` caps what it keeps in memory."""

    def __init__(self, config: RealtimeSession, *, beta: bool = False,
                 input_capacity_s: int = 120, limits: SessionLimits = DEFAULT_LIMITS) -> None:
        self.config = config
        self.beta = beta  # the beta dialect still has session.temperature
        self.limits = limits
        self.conversation = Conversation(limits)
        self.ring = SampleRing(SAMPLE_RATE * input_capacity_s)
        self.framer = Framer(VAD_WINDOW)
        self.responses: dict[str, ResponseState] = {}
        self.inband: str | None = None
        self.last_response: str | None = None
        self.voice_locked = False
        self.buffer_start = 0  # first sample of the uncommitted input buffer
        self.pending = PendingTurn()  # the turn announced by speech_started
        # Committed items whose transcript is still coming, and the ``speculation``
        # number of the one result that counts: one `completed` per item, ever.
        self.awaiting: dict[str, int] = {}
        # Input sample index at which server VAD's idle_timeout_ms fires (None: off).
        self.idle_deadline: int | None = None
        self._configure_input()

    # ------------------------------------------------------------ configuration

    def _configure_input(self) -> None:
        fmt = audio_format(self.config.audio.input.format)
        self.input_format = fmt
        # "QQ" (cubic) has a 1-sample delay where "HQ" holds back ~16 ms: on the input
        # side that delay would add straight to turn-detection latency, and speech
        # recognition does not need studio-grade filtering.
        self.resampler = StreamResampler(fmt.sample_rate, SAMPLE_RATE, quality="QQ")
        td = self.config.audio.input.turn_detection
        position = self.framer_position()
        if td is None:
            self.turn = None
            return
        silence_ms = (td.silence_duration_ms if td.type == "server_vad"
                      else EAGERNESS_SILENCE_MS[td.eagerness])
        threshold = td.threshold if td.type == "server_vad" else 0.5
        self.turn = TurnDetector(threshold=threshold, silence_samples=silence_ms * 16,
                                 window=VAD_WINDOW, hold_samples=SPECULATION_HOLD_MS * 16)
        self.turn.reset(position)

    def framer_position(self) -> int:
        """Sample index at the end of the last complete VAD window."""
        return self.ring.end - self.framer.pending

    @property
    def output_format(self) -> AudioFormat:
        return audio_format(self.config.audio.output.format)

    def created(self) -> list[Output]:
        return [ev.SessionCreated(session=self.config)]

    # ------------------------------------------------------------ client events

    def handle(self, event: Any) -> list[Output]:
        """Apply one validated client event. Raises ProtocolError, changing nothing."""
        handler = getattr(self, "_on_" + event.type.replace(".", "_"))
        result: list[Output] = handler(event)
        return result + self._forget_dropped()

    def _on_session_update(self, e: ce.SessionUpdate) -> list[Output]:
        old = self.config
        self.config = apply_update(old, e.session, voice_locked=self.voice_locked,
                                   allow_temperature=self.beta)
        if (old.audio.input.format != self.config.audio.input.format
                or old.audio.input.turn_detection != self.config.audio.input.turn_detection):
            self._configure_input()
        return [ev.SessionUpdated(session=self.config)]

    def _on_input_audio_buffer_append(self, e: ce.InputAudioBufferAppend) -> list[Output]:
        try:
            raw = base64.b64decode(e.audio, validate=True)
            samples = self.input_format.decode(raw)
        except (binascii.Error, ValueError):
            raise ProtocolError(
                "Invalid 'audio'. Expected base64-encoded audio bytes (mono PCM16 at 24kHz) "
                "but got an invalid value.", code="invalid_value", param="audio") from None
        x16 = self.resampler.process(samples)
        self.ring.write(x16)
        windows = self.framer.push(x16)
        if not windows:
            return []
        if self.turn is None:
            return []
        return [fx.ScoreSpeech(windows)]

    def _on_input_audio_buffer_commit(self, e: ce.InputAudioBufferCommit) -> list[Output]:
        available = self.ring.end - self.buffer_start
        if available < MIN_COMMIT_MS * 16 - 16:  # allow the resampler's 1-sample delay
            raise ProtocolError(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {available / 16:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty")
        # A manual commit takes the whole buffer, not the speculated span: its own
        # transcription replaces a speculation still running (whose result is then stale).
        item = self.pending.item_id or new_item_id()
        self.pending.end()
        if self.turn is not None:
            self.turn.reset(self.framer_position())
        return self._commit(item, self.buffer_start, self.ring.end, None)

    def _on_input_audio_buffer_clear(self, e: ce.InputAudioBufferClear) -> list[Output]:
        out: list[Output] = []
        item_id = self.pending.item_id
        if self.pending.end() is not None and item_id is not None:
            out.append(fx.CancelTranscription(item_id))
        self.buffer_start = self.ring.end
        if self.turn is not None:
            self.turn.reset(self.framer_position())
        out.append(ev.InputAudioBufferCleared())
        return out

    def _on_conversation_item_create(self, e: ce.ConversationItemCreate) -> list[Output]:
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
            out.append(fx.StartTranscription(item.id, audio, **self._stt_options()))
        out += [fx.DescribeImage(item.id, index, mime, data, detail)
                for index, mime, data, detail in images]
        return out

    def _on_conversation_item_retrieve(self, e: ce.ConversationItemRetrieve) -> list[Output]:
        item = self.conversation.get(e.item_id)
        if item is None:
            raise ProtocolError(f"Item with item_id not found: {e.item_id}",
                                code="item_retrieve_invalid_item_id", param="item_id")
        return [ev.ConversationItemRetrieved(item=retrieve_copy(item, self.conversation,
                                                                 self.output_format))]

    def _on_conversation_item_truncate(self, e: ce.ConversationItemTruncate) -> list[Output]:
        item = self.conversation.get(e.item_id)
        audio = self.conversation.output_audio.get(e.item_id)
        if item is None:
            raise ProtocolError(f"Item with item_id not found: {e.item_id}",
                                code="item_truncate_invalid_item_id", param="item_id")
        if (item.type == "message" and item.role == "assistant"
                and e.item_id in self.conversation.released):
            raise ProtocolError(
                "Cannot truncate: the audio of this item is no longer retained (the session "
                f"keeps the audio of its last {self.limits.output_audio_items} assistant "
                "items only).", code="invalid_value", param="item_id")
        if item.type != "message" or item.role != "assistant" or audio is None:
            raise ProtocolError("Only assistant messages with audio can be truncated.",
                                code="invalid_value", param="item_id")
        if e.content_index != 0:
            raise ProtocolError("Invalid 'content_index': the item has one content part.",
                                code="invalid_value", param="content_index")
        if e.audio_end_ms > audio.duration_ms():
            raise ProtocolError(
                f"Audio content of {audio.duration_ms()}ms is already shorter than "
                f"{e.audio_end_ms}ms", code="invalid_value", param="audio_end_ms")
        heard = audio.truncate(e.audio_end_ms * audio.sample_rate // 1000)
        item.content = [OutputAudioPart(transcript=heard)]
        return [ev.ConversationItemTruncated(item_id=e.item_id, content_index=0,
                                             audio_end_ms=e.audio_end_ms)]

    def _on_conversation_item_delete(self, e: ce.ConversationItemDelete) -> list[Output]:
        if not self.conversation.delete(e.item_id):
            raise ProtocolError(f"Item with item_id not found: {e.item_id}",
                                code="item_delete_invalid_item_id", param="item_id")
        self.awaiting.pop(e.item_id, None)
        return [ev.ConversationItemDeleted(item_id=e.item_id), fx.ForgetItem(e.item_id)]

    def _on_response_create(self, e: ce.ResponseCreate) -> list[Output]:
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
        return self._start_response(params, items, inband)

    def _on_response_cancel(self, e: ce.ResponseCancel) -> list[Output]:
        rid = e.response_id or self.inband
        if rid is None or rid not in self.responses:
            raise ProtocolError("Cancellation failed: no active response found",
                                code="response_cancel_not_active")
        return self._cancel(rid, "client_cancelled")

    def _on_output_audio_buffer_clear(self, e: ce.OutputAudioBufferClear) -> list[Output]:
        out: list[Output] = []
        if self.inband is not None:
            out += self._cancel(self.inband, "client_cancelled")
        out.append(ev.OutputAudioBufferCleared(response_id=self.last_response))
        return out

    def _on_session_close(self, e: ce.SessionClose) -> list[Output]:
        out: list[Output] = []
        for rid in list(self.responses):
            out += self._cancel(rid, "client_cancelled")
        out.append(fx.CloseSession(1000, "session closed by client"))
        return out

    # ------------------------------------------------------------------ turns

    def _stt_options(self) -> dict[str, Any]:
        tr = self.config.audio.input.transcription
        return {"language": tr.language if tr else None, "prompt": tr.prompt if tr else None}

    def _commit(self, item_id: str, start: int, end: int, speculation: Speculation | None,
                *, transcribe: bool = True) -> list[Output]:
        """Commit ``[start, end)`` as a user item; ``speculation``: the pending turn's
        live speculation, which then stands as the item's transcription."""
        audio = self.ring.read(max(start, self.ring.start), end)
        self.buffer_start = end
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
            out.append(fx.StartTranscription(item_id, audio, **self._stt_options()))
        elif speculation.result is not None:
            out += self._publish(speculation.result)
        else:  # still running: its result will be the item's
            self.awaiting[item_id] = speculation.number
        return out

    def _on_speech(self, probabilities: list[float]) -> list[Output]:
        out: list[Output] = []
        turn = self.turn
        if turn is None:
            return out
        prefix = self.config.audio.input.turn_detection
        assert prefix is not None
        pending = self.pending
        for p in probabilities:
            signal = turn.push(p)
            if signal is None and self.idle_deadline is not None and turn.state == "idle" \
                    and turn.position >= self.idle_deadline:
                out += self._idle_timeout(turn.position)
            if isinstance(signal, SpeechBegan):
                self.idle_deadline = None
                pad = (prefix.prefix_padding_ms if prefix.type == "server_vad" else 300) * 16
                pending.begin(new_item_id(),
                              max(signal.onset - pad, self.buffer_start, self.ring.start))
                out.append(ev.InputAudioBufferSpeechStarted(
                    audio_start_ms=ms(pending.speech_start), item_id=pending.item_id))
                if prefix.interrupt_response and self.inband is not None:
                    out += self._cancel(self.inband, "turn_detected")
            elif isinstance(signal, PauseBegan) and pending.item_id:
                # Speculative transcription: start STT early in the silence window
                # instead of after it; cancelled if the speaker goes on.
                audio = self.ring.read(pending.speech_start, signal.at)
                out.append(fx.StartTranscription(pending.item_id, audio,
                                                 speculation=pending.speculate(),
                                                 **self._stt_options()))
            elif isinstance(signal, SpeechResumed) and pending.item_id and pending.resume():
                out.append(fx.CancelTranscription(pending.item_id))
            elif isinstance(signal, SpeechEnded) and pending.item_id:
                item_id, start = pending.item_id, pending.speech_start
                out.append(ev.InputAudioBufferSpeechStopped(audio_end_ms=ms(signal.end),
                                                            item_id=item_id))
                out += self._commit(item_id, start, signal.end, pending.end())
                if prefix.create_response and self.inband is None:
                    out += self._start_response(ce.ResponseParams(),
                                                list(self.conversation.items), True)
        return out

    def _idle_timeout(self, position: int) -> list[Output]:
        """GA ``idle_timeout_ms``: no speech since the last answer was played out.

        The reference commits an (empty) audio item and generates a response, so the
        model can prompt a user who went quiet. The idle audio is not transcribed.
        """
        self.idle_deadline = None
        item_id = new_item_id()
        out: list[Output] = [ev.InputAudioBufferTimeoutTriggered(
            audio_start_ms=ms(self.buffer_start), audio_end_ms=ms(position), item_id=item_id)]
        out += self._commit(item_id, self.buffer_start, position, None, transcribe=False)
        td = self.config.audio.input.turn_detection
        if td is not None and td.create_response and self.inband is None:
            out += self._start_response(ce.ResponseParams(), list(self.conversation.items), True)
        return out

    def _arm_idle_timeout(self, state: ResponseState) -> None:
        """Start the idle clock when the answer's audio will have finished playing.

        Over WebSocket the server cannot see playback; it assumes playback starts as
        the audio is sent, i.e. ends one audio duration after the response ends.
        """
        td = self.config.audio.input.turn_detection
        timeout = getattr(td, "idle_timeout_ms", None)
        if not state.inband or timeout is None:
            return
        played = 0
        if state.audio is not None:
            played = state.audio.num_samples * SAMPLE_RATE // state.audio.sample_rate
        self.idle_deadline = self.ring.end + played + timeout * 16

    # -------------------------------------------------------------- responses

    def _start_response(self, params: ce.ResponseParams, items: list[Any],
                        inband: bool) -> list[Output]:
        cfg = self.config
        out_cfg = params.audio.output if params.audio and params.audio.output else None
        voice = out_cfg.voice if out_cfg else cfg.audio.output.voice
        modalities = params.output_modalities or cfg.output_modalities
        max_tokens = params.max_output_tokens or cfg.max_output_tokens
        tools = params.tools if params.tools is not None else cfg.tools
        tool_choice = params.tool_choice or cfg.tool_choice
        fmt = self.output_format
        state = ResponseState(
            id=new_response_id(), modalities=list(modalities), voice=voice, output_format=fmt,
            output_format_wire=cfg.audio.output.format.model_dump(),
            max_output_tokens=max_tokens, metadata=params.metadata,
            insert=(lambda it: self.conversation.insert(it, None)) if inband else None,
            input_audio_s=sum(self.conversation.input_samples.get(i.id or "", 0)
                              for i in items) / SAMPLE_RATE,
            max_audio_samples=self.limits.output_item_samples(fmt.sample_rate),
        )
        self.responses[state.id] = state
        self.last_response = state.id
        self.idle_deadline = None
        if inband:
            self.inband = state.id
        plan = fx.ResponsePlan(
            instructions=params.instructions if params.instructions is not None
            else cfg.instructions,
            items=items, output_modalities=list(modalities), voice=voice,
            speed=out_cfg.speed if out_cfg else cfg.audio.output.speed,
            output_sample_rate=fmt.sample_rate,
            max_output_tokens=None if max_tokens == "inf" else max_tokens,
            temperature=params.temperature or cfg.temperature,
            tools=[t.model_dump() for t in tools],
            tool_choice=tool_choice if isinstance(tool_choice, str)
            else tool_choice.model_dump(),
        )
        return [state.created(), fx.StartResponse(state.id, plan)]

    def _end(self, rid: str) -> None:
        self.responses.pop(rid, None)
        if self.inband == rid:
            self.inband = None

    def _cancel(self, rid: str, reason: str) -> list[Output]:
        state = self.responses[rid]
        self._end(rid)
        return [fx.CancelResponse(rid), *state.finish("cancelled", reason=reason)]

    # ------------------------------------------------------------------ facts

    def on_fact(self, fact: fx.Fact) -> list[Output]:
        """Apply one backend fact; stale facts give nothing."""
        return self._apply_fact(fact) + self._forget_dropped()

    def _apply_fact(self, fact: fx.Fact) -> list[Output]:
        if isinstance(fact, fx.SpeechScored):
            return self._on_speech(fact.probabilities)
        if isinstance(fact, fx.TranscriptionCompleted | fx.TranscriptionFailed):
            return self._on_transcription(fact)
        state = self.responses.get(fact.response_id)
        if state is None:
            return []  # stale: the response already ended (cancelled or failed)
        if isinstance(fact, fx.TextProduced):
            return list(state.on_text(fact.text))
        if isinstance(fact, fx.ClauseStarted):
            return list(state.on_clause(fact.text))
        if isinstance(fact, fx.AudioProduced):
            if state.inband:
                self.voice_locked = True
            events = list(state.on_audio(fact.samples))
            self._keep_output_audio(state)
            return events  # type: ignore[return-value]
        if isinstance(fact, fx.ToolCallProduced):
            return list(state.on_tool_call(fact.index, fact.arguments, fact.name, fact.call_id))
        self._end(fact.response_id)
        self._arm_idle_timeout(state)
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

    def _keep_output_audio(self, state: ResponseState) -> None:
        """Register an in-band message's audio with the conversation, once."""
        msg = state.message
        if state.audio_kept or not state.inband or state.audio is None or msg is None:
            return
        state.audio_kept = True
        if msg.id is not None and msg.id in self.conversation:  # not deleted meanwhile
            self.conversation.keep_output_audio(msg.id, state.audio)

    def _on_transcription(self, fact: TranscriptionResult) -> list[Output]:
        if self.pending.offer(fact):
            return []  # finished before the commit: published at the commit
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
            return [ev.InputAudioTranscriptionFailed(item_id=fact.item_id, error=ev.ErrorDetail(
                type="transcription_error", code="audio_unintelligible", message=fact.message))]
        if item.type == "message":
            item.content = [InputAudioPart(transcript=fact.transcript) if p.type == "input_audio"
                            else p for p in item.content]
        return [
            ev.InputAudioTranscriptionDelta(item_id=fact.item_id, delta=fact.transcript),
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
