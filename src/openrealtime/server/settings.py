"""Settings, built once and passed down: ``OPENREALTIME_*`` variables, CLI flags on top."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..backends.models import SpeechModels
from ..core.limits import SessionLimits
from ..runtime.driver import MAX_FRAME_BYTES

MiB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENREALTIME_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8765
    # Comma-separated. Empty: no authentication (a local, single-user server).
    api_keys: str = ""
    backend: Literal["local", "fake"] = "local"
    llm_url: str | None = None  # any OpenAI-compatible /v1 base URL
    # The model name at llm_url; without llm_url a local GGUF file (or REPO_ID:FILE on
    # the Hugging Face hub, downloaded once where there is network). None: SmolLM2-135M.
    llm_model: str | None = None
    llm_api_key: str | None = None
    # Speech recognition: a faster-whisper size (tiny.en, base.en, small, large-v3...) or
    # model directory; or, with stt_url, any OpenAI-compatible /v1/audio/transcriptions
    # server and its model name. None: the embedded Whisper tiny.en.
    stt_url: str | None = None
    stt_model: str | None = None
    stt_api_key: str | None = None
    # Speech: a Piper voice file (.onnx, its .onnx.json beside it) or voice name
    # (en_US-amy-medium); or, with tts_url, any /v1/audio/speech server that streams PCM
    # and its model name. tts_voice: the voice there for every session voice (NAME), or a
    # map (alloy=af_bella,marin=af_sky; names not in it pass as they are).
    tts_url: str | None = None
    tts_model: str | None = None
    tts_api_key: str | None = None
    tts_voice: str | None = None
    # Deadlines of one call to the LLM at llm_url: connecting, the first token, the gap
    # between two tokens, the whole answer.
    llm_connect_timeout_s: float = 5.0
    llm_first_token_timeout_s: float = 30.0
    llm_idle_timeout_s: float = 30.0
    llm_total_timeout_s: float = 120.0
    vlm_url: str | None = None  # an OpenAI-compatible vision endpoint; else local OCR
    vlm_model: str | None = None
    vlm_api_key: str | None = None
    threads: int = 2
    # The hosted service ends a session after 60 minutes (error session_expired, close 1001).
    max_session_s: float = 3600.0
    # Encode only the utterance (>= 10 s window) instead of Whisper's 30 s window:
    # ~150 ms instead of ~450 ms per turn, at some cost in accuracy.
    stt_short_window: bool = True
    log_level: str = "info"
    # Session recording (``openrealtime cost`` reads these): each session's server events
    # go to ``record_dir/<session id>.jsonl``. None: nothing is recorded.
    record_dir: Path | None = None
    # Keep the base64 payload of audio deltas in recordings (by default only its size).
    record_audio: bool = False

    # ------------------------------------------------------------------ limits
    # Each is enforced before the work it guards is done (README, "Limits"); server/guard.py
    # and server/run.py hold the checks.
    # Open WebSocket sessions; one more is refused with HTTP 503 before the upgrade.
    max_sessions: int = Field(64, ge=1)
    # Open WebSocket sessions from one client address; one more: HTTP 429.
    max_connections_per_client: int = Field(16, ge=1)
    # Open TCP connections of any kind; one more is closed as soon as it is accepted.
    max_connections: int = Field(512, ge=1)
    # Seconds a client has to send a request's line and headers (after connecting, and
    # after each response on a kept-alive connection): what slowloris sockets run into.
    header_timeout_s: float = Field(10.0, gt=0)
    # REST bodies (the client secret endpoints): bytes, and seconds to send them.
    max_body_bytes: int = Field(1 * MiB, ge=1)
    body_timeout_s: float = Field(10.0, gt=0)
    # Audio files sent to /v1/audio/transcriptions: bytes (the reference's 25 MB) and
    # seconds of audio (decoding stops past it).
    max_audio_bytes: int = Field(25 * MiB, ge=1)
    max_audio_s: float = Field(1800.0, gt=0)
    # One WebSocket message. The reference allows 15 MiB of audio per append, 20 MiB of
    # base64; the default adds 1 MiB for the JSON around it. A longer frame is refused from
    # its header (close 1009) without being read. It cannot be raised past that.
    max_frame_bytes: int = Field(MAX_FRAME_BYTES, ge=1024, le=MAX_FRAME_BYTES)
    # Comma-separated origins (``https://app.example.com``) whose pages may open sessions
    # and mint secrets, besides the server's own origin and localhost, 127.0.0.1 and [::1]
    # on any port; ``*`` allows every page. Requests without Origin (SDKs, curl) pass.
    allowed_origins: str = ""
    # One session's recording file; events past it are dropped after a truncation line.
    max_recording_bytes: int = Field(20 * MiB, ge=4096)
    # Client events per second per session (a token bucket with a 2 s burst); more are
    # answered with rate_limit_exceeded and dropped. 50 appends/s is a normal microphone.
    max_events_per_s: float = Field(500.0, gt=0)
    # A session whose client sends nothing at all (no audio, no event) this long gets an
    # error (session_idle_timeout) and is closed; 0 turns it off. A listening client sends
    # audio 50 times a second, so only abandoned sockets ever reach it.
    session_idle_timeout_s: float = Field(900.0, ge=0)
    # What one session keeps (core/limits.py): conversation items, user audio of the
    # newest items (count and seconds), assistant audio of the newest items (count, and
    # seconds per item), out-of-band responses at once.
    max_conversation_items: int = Field(1000, ge=2)
    retain_input_audio_items: int = Field(4, ge=0)
    retain_input_audio_s: float = Field(60.0, ge=0)
    retain_output_audio_items: int = Field(4, ge=0)
    retain_output_audio_item_s: float = Field(120.0, ge=0)
    max_out_of_band_responses: int = Field(8, ge=0)

    # WebRTC calls (/v1/realtime/calls): STUN/TURN servers for clients behind NAT,
    # comma-separated (stun:host:3478,turn:user:password@host:3478). Empty: host
    # candidates only, enough on localhost and a LAN.
    webrtc_ice_servers: str = ""

    # ------------------------------------------------------------------ turn-taking
    # Remove the echo of the assistant's own voice from the input (the WebRTC echo
    # canceller, with what the server sent as the far end), so a client without echo
    # cancellation does not interrupt its own answer. Needs the livekit package.
    echo_cancellation: bool = True
    # semantic_vad's end-of-turn model (Smart Turn v3.2, from the pipecat-ai package).
    # Without it semantic_vad waits a silence chosen by eagerness.
    end_of_turn_model: bool = True
    # Backchannels: while the assistant is talking, speech shorter than this that turns
    # out to be "mm-hmm", "yeah", "okay"... does not interrupt it (and leaves no trace).
    # 0 = any speech interrupts, as the reference does.
    backchannel_ms: int = Field(0, ge=0, le=3000)

    # ------------------------------------------------------------------ model workers
    # Each local model runs in its own supervised process (backends/worker). False loads
    # them into the server process (debugging, profiling): a native crash is then fatal.
    isolate_models: bool = True
    # A worker that owes a reply and says nothing this long is killed and restarted.
    worker_stall_s: float = Field(30.0, gt=0)
    # A worker whose RSS passes this is killed and restarted.
    worker_max_rss_mb: float = Field(4096.0, gt=0)
    # How long a request waits for a restarting worker before failing.
    worker_ready_wait_s: float = Field(30.0, gt=0)

    # ------------------------------------------------------------------ serving past one machine
    # On SIGTERM the server stops taking sessions (HTTP 503, /readyz 503) and lets the open
    # ones go on this long; those still open then get an error (server_shutting_down) and
    # close 1001, and the process exits 0. 0: end them at once.
    drain_timeout_s: float = Field(30.0, ge=0)
    # Ephemeral client secrets in Redis (redis://host:port/db), shared by every replica;
    # None: in this process's memory. Keys are ``<redis_key_prefix>secret:<ek_...>``.
    redis_url: str | None = None
    redis_key_prefix: str = "openrealtime:"
    # /metrics (Prometheus) needs one of the API keys, like the REST endpoints; by default
    # it is open (scrapers seldom carry keys): keep it on a private network.
    metrics_require_key: bool = False

    # ------------------------------------------------------------------ phone calls
    # Twilio Media Streams (/twilio/media-stream): with your Twilio account's auth token,
    # every stream must carry a valid X-Twilio-Signature (HMAC-SHA1 of its wss:// URL),
    # which then authenticates it. Without it, a server with API keys wants one in the
    # stream's customParameters (api_key); a server without keys takes any stream.
    twilio_auth_token: str | None = None

    # ------------------------------------------------------------------ Videos API
    # /v1/videos jobs (server/videos_api.py): each one is a folder videos_dir/<video id>/
    # (state, inputs, the MP4 and its previews), so jobs outlive the server process: at
    # start the finished ones are served again, queued ones run, and those that were
    # rendering are queued again from the beginning.
    videos_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "openrealtime"
                             / "videos")
    # Videos rendered at once, each by its own worker process at this nice level: the
    # renders get the CPU the live voice sessions leave.
    video_jobs: int = Field(1, ge=1)
    video_nice: int = Field(10, ge=0, le=19)
    # Videos queued or rendering; one more is refused (HTTP 429).
    max_queued_videos: int = Field(32, ge=1)
    # A render running longer is killed and its video fails (error video_timeout).
    video_timeout_s: float = Field(1800.0, gt=0)
    # POST /v1/videos bodies (with an input_reference image or clip).
    max_video_input_bytes: int = Field(25 * MiB, ge=1)
    # Finished videos are deleted this long after completing (their expires_at); 0: kept
    # until DELETE.
    video_retention_s: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _fake_takes_no_llm(self) -> Self:
        if self.backend == "fake" and self.llm_url is not None:
            raise ValueError("the fake backend does not use an LLM; drop --llm-url "
                             "(OPENREALTIME_LLM_URL) or use --backend local")
        return self

    @model_validator(mode="after")
    def _voice_map(self) -> Self:
        from ..backends.remote.openai_audio import parse_voice_map

        parse_voice_map(self.tts_voice)  # (ValueError: a one-line message)
        return self

    def speech_models(self) -> SpeechModels:
        return SpeechModels(stt_model=self.stt_model, stt_url=self.stt_url,
                            stt_api_key=self.stt_api_key, tts_model=self.tts_model,
                            tts_url=self.tts_url, tts_api_key=self.tts_api_key,
                            tts_voice=self.tts_voice)

    def session_limits(self) -> SessionLimits:
        return SessionLimits(
            max_items=self.max_conversation_items,
            input_audio_items=self.retain_input_audio_items,
            input_audio_s=self.retain_input_audio_s,
            output_audio_items=self.retain_output_audio_items,
            output_audio_item_s=self.retain_output_audio_item_s,
            max_out_of_band_responses=self.max_out_of_band_responses)

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())

    @property
    def origins(self) -> frozenset[str]:
        """The extra allowed origins, normalized (lower case, no trailing slash)."""
        return frozenset(o.strip().lower().rstrip("/") for o in self.allowed_origins.split(",")
                         if o.strip())
