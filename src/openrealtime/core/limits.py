"""Per-session caps on what the core keeps in memory (limits as data, safe defaults).

An open session must not grow per turn. What outlives a turn, and why:

- **User input audio** (16 kHz float32, 64 KB/s) is needed by the transcription (the
  effect carries its own copy) and by ``conversation.item.retrieve``, which returns audio
  bytes. Only the most recent ``input_audio_items`` items and at most ``input_audio_s``
  seconds in all are kept; an older item keeps its transcript, and ``retrieve`` returns it
  without ``audio``. An item longer than ``input_audio_s`` is not retained at all.
- **Assistant output audio** (int16 at the output rate, 48 KB/s at 24 kHz) is needed by
  ``conversation.item.truncate`` (the client truncates the item it is playing, i.e. a
  recent one) and by ``retrieve``. Only the most recent ``output_audio_items`` items keep
  it; truncating an older one is an ``invalid_value`` error ("audio of this item is no
  longer retained"). One item keeps at most ``output_audio_item_s`` seconds of samples;
  past that its timeline (duration, clause starts) is still tracked, so truncation still
  rewrites the transcript to what was heard, but ``retrieve`` omits the incomplete audio.
- **Conversation items**: at most ``max_items``; past it the oldest items leave the
  server-side conversation, with their audio, silently (the reference documents no cap;
  the LLM context is trimmed to its window anyway, so old turns no longer reach the model).
  Clients that mirror the conversation keep their own copy; no event is sent.
- **Out-of-band responses** (``conversation: "none"``) run in parallel; at most
  ``max_out_of_band_responses`` at once, past that ``response.create`` is refused with
  ``too_many_active_responses``.

Worst case, the retained audio of one session is bounded by
:meth:`SessionLimits.max_audio_bytes` (plus the fixed input ring buffer).
"""

from __future__ import annotations

from dataclasses import dataclass

INPUT_SAMPLE_RATE = 16_000
INPUT_BYTES_PER_SAMPLE = 4  # float32
OUTPUT_BYTES_PER_SAMPLE = 2  # int16


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """Caps on one session's retained state; the server builds it from its settings."""

    max_items: int = 1000
    input_audio_items: int = 4
    input_audio_s: float = 60.0
    output_audio_items: int = 4
    output_audio_item_s: float = 120.0
    max_out_of_band_responses: int = 8

    def __post_init__(self) -> None:
        # Two items at least: the newest item (a response's message) is never evicted,
        # so a cap of one would leave no room for the user turn it answers.
        if self.max_items < 2:
            raise ValueError(f"max_items must be at least 2, got {self.max_items}")
        for name in ("input_audio_items", "output_audio_items", "max_out_of_band_responses"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.input_audio_s < 0 or self.output_audio_item_s < 0:
            raise ValueError("audio durations must not be negative")

    @property
    def input_audio_samples(self) -> int:
        """All retained user audio together, in 16 kHz samples."""
        return int(self.input_audio_s * INPUT_SAMPLE_RATE)

    def output_item_samples(self, sample_rate: int) -> int:
        """The most samples one assistant item keeps at ``sample_rate``."""
        return int(self.output_audio_item_s * sample_rate)

    def max_audio_bytes(self, output_sample_rate: int = 24_000) -> int:
        """Upper bound of the audio bytes one session holds beyond its input ring.

        The retained user audio, plus the ``output_audio_items`` retained assistant items,
        the out-of-band responses and the in-band one still streaming, each capped at
        ``output_audio_item_s``.
        """
        user = self.input_audio_samples * INPUT_BYTES_PER_SAMPLE
        streams = self.output_audio_items + self.max_out_of_band_responses + 1
        assistant = streams * self.output_item_samples(output_sample_rate)
        return user + assistant * OUTPUT_BYTES_PER_SAMPLE
