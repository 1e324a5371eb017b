// The OpenRealtime console: talk to the server from a browser.
//
// Auth: the page never holds an API key on the WebSocket. It asks the server for a
// short-lived client secret (POST /v1/realtime/client_secrets, with the session settings)
// and connects with the subprotocols "realtime" + "openai-insecure-api-key.<ek_...>".
//
// Transport: WebRTC by default (POST /v1/realtime/calls with the secret: Opus both ways,
// the browser's own echo cancellation and jitter buffer, events on the "oai-events" data
// channel); WebSocket as the fallback switch (Session → Connection, or ?transport=websocket).
//
// Barge-in (protocol reference §3.2 iv): over WebSocket the server cannot know what the
// user heard, so on input_audio_buffer.speech_started the page stops playback at once and
// sends conversation.item.truncate with the milliseconds of the item actually played.
// Over WebRTC the server plays the audio: it stops it and truncates the item itself
// (output_audio_buffer.cleared, conversation.item.truncated).

import { AudioIO, SAMPLE_RATE } from "./audio.js";
import { FrameStrip, ScreenShare } from "./screen.js";
import { DEMO_TOOLS, TUTOR_INSTRUCTIONS, runTool } from "./tools.js";
import { EventLog, Transcript } from "./ui.js";

// The server's default (protocol/session.py DEFAULT_INSTRUCTIONS, chosen by bench/llm_sweep.py).
const DEFAULT_INSTRUCTIONS =
  "You are a helpful voice assistant. Answer the question in one short sentence.\n\n" +
  "Examples:\n" +
  "User: How many wheels does a bicycle have?\n" +
  "Assistant: A bicycle has two wheels.\n" +
  "User: What is six plus one?\n" +
  "Assistant: Six plus one is seven.";
const SECRET_TTL_S = 60; // the secret only has to last until the socket opens
const INTERRUPTED_SHOW_MS = 900;
const ERROR_NOTICE_MS = 8000; // how long a non-fatal error stays on screen
const STATE_LABELS = {
  idle: "Disconnected", connecting: "Connecting…", listening: "Listening",
  thinking: "Thinking…", speaking: "Speaking", interrupted: "Interrupted", error: "Error",
};

const $ = (id) => document.getElementById(id);

class ConsoleApp {
  constructor() {
    this.ws = null;
    this.audio = null;
    this.state = "idle";
    this.connecting = false;
    this.connected = false;
    this.userClosed = false;
    this.error = null; // fatal: the session is over
    this.lastServerError = null;
    this.micStatus = "off"; // off | on | unavailable
    this.micMessage = "";
    this.muted = false;
    this.hearing = false; // the user is speaking (between speech_started and stopped)
    this.playing = false;
    this.stopping = false; // a barge-in is waiting for the player's answer
    this.responseActive = false;
    this.awaitingResponse = false;
    this.interruptedUntil = 0;
    this.session = null;
    this.played = {}; // itemId -> samples played
    this.received = {}; // itemId -> samples received
    this.audioDone = new Set(); // items whose audio is complete
    this.cut = new Set(); // items stopped by a barge-in: later deltas are dropped
    this.playingItem = null;
    this.playStartedAt = {};
    this.truncates = [];
    this.latencies = [];
    this.turnStart = null; // {at, kind}: the end of the user's turn
    this.responses = new Map(); // response id -> {turn, firstOutputAt}
    this.toolCalls = [];
    this.chartsDrawn = 0;
    this.counts = {};
    this.attempts = 0;

    this.screen = new ScreenShare({
      onFrame: (frame) => this.sendFrame(frame),
      onChange: () => this.render(),
      settings: () => this.screenSettings(),
    });
    this.strip = new FrameStrip($("screen-strip"), $("screen-frames"), $("screen-status"));
    this.transcript = new Transcript($("transcript"), $("transcript-empty"));
    this.log = new EventLog($("event-log"), $("event-filter"), $("show-audio"), $("event-count"));
    $("instructions").value = DEFAULT_INSTRUCTIONS;
    const asked = new URLSearchParams(window.location.search).get("transport");
    if (asked === "websocket" || asked === "webrtc") $("transport").value = asked;
    this.transport = $("transport").value;
    this.itemOfResponse = {}; // response id -> its audio item (WebRTC latency readout)
    this.bindUi();
    this.render();
  }

  // ------------------------------------------------------------------ UI wiring

  bindUi() {
    $("connect").addEventListener("click", () => (this.ws || this.connecting
      ? this.disconnect() : this.connect()));
    $("mute").addEventListener("click", () => {
      this.muted = !this.muted;
      const stream = this.audio && this.audio.stream;
      if (stream) stream.getAudioTracks().forEach((t) => { t.enabled = !this.muted; });
      this.render();
    });
    $("composer").addEventListener("submit", (e) => {
      e.preventDefault();
      this.sendText();
    });
    $("settings").addEventListener("submit", (e) => {
      e.preventDefault();
      this.applySettings();
    });
    $("threshold").addEventListener("input", () => {
      $("threshold-out").textContent = Number($("threshold").value).toFixed(2);
    });
    $("tools").addEventListener("change", () => {
      const box = $("instructions");
      if ($("tools").checked && box.value === DEFAULT_INSTRUCTIONS) box.value = TUTOR_INSTRUCTIONS;
      if (!$("tools").checked && box.value === TUTOR_INSTRUCTIONS) box.value = DEFAULT_INSTRUCTIONS;
      if (this.connected) this.applySettings();
    });
    $("share-screen").addEventListener("click", () => (this.screen.status === "off"
      ? this.screen.start() : this.screen.stop("user")));
    $("share-threshold").addEventListener("input", () => {
      $("share-threshold-out").textContent = $("share-threshold").value;
    });
    $("clear-log").addEventListener("click", () => this.log.clear());
    window.addEventListener("beforeunload", () => this.ws && this.ws.close(1000));
  }

  sessionConfig() {
    const textOnly = $("modality").value === "text" || !this.audio;
    return {
      type: "realtime",
      model: "gpt-realtime",
      instructions: $("instructions").value,
      output_modalities: [textOnly ? "text" : "audio"],
      audio: {
        input: {
          format: { type: "audio/pcm", rate: SAMPLE_RATE },
          transcription: { model: "whisper-1" },
          turn_detection: {
            type: "server_vad",
            threshold: Number($("threshold").value),
            silence_duration_ms: Number($("silence").value),
            prefix_padding_ms: 300,
            create_response: true,
            interrupt_response: true,
          },
        },
        output: { format: { type: "audio/pcm", rate: SAMPLE_RATE }, voice: $("voice").value },
      },
      tools: $("tools").checked ? DEMO_TOOLS : [],
      tool_choice: "auto",
    };
  }

  /** Show the effective session (from session.created / session.updated) in the form. */
  showSession(s) {
    this.session = s;
    $("session-id").textContent = s.id || "";
    $("instructions").value = s.instructions;
    $("voice").value = s.audio.output.voice;
    $("modality").value = s.output_modalities[0];
    const vad = s.audio.input.turn_detection;
    if (vad && vad.type === "server_vad") {
      $("threshold").value = vad.threshold;
      $("threshold-out").textContent = Number(vad.threshold).toFixed(2);
      $("silence").value = vad.silence_duration_ms;
    }
    $("tools").checked = (s.tools || []).length > 0;
  }

  screenSettings() {
    const interval = Number($("share-interval").value);
    return {
      intervalS: Number.isFinite(interval) && interval > 0 ? interval : 3,
      threshold: Number($("share-threshold").value),
      mime: $("share-format").value,
    };
  }

  micConstraints() {
    return {
      echoCancellation: $("echo-cancellation").checked,
      noiseSuppression: $("noise-suppression").checked,
      autoGainControl: $("auto-gain").checked,
    };
  }

  // ------------------------------------------------------------------ connection

  async connect() {
    this.setNotice("info-notice", "");
    this.reset();
    this.connecting = true;
    const attempt = ++this.attempts;
    const cancelled = () => attempt !== this.attempts || this.userClosed;
    this.render();
    try {
      const audio = await this.openAudio();
      if (cancelled()) {
        if (audio) audio.close();
        return;
      }
      this.audio = audio;
      const secret = await this.fetchSecret();
      if (cancelled()) return;
      this.transport = $("transport").value;
      if (this.transport === "webrtc") await this.openCall(secret.value, cancelled);
      else this.openSocket(secret.value);
    } catch (err) {
      if (!cancelled()) this.fail(err.message || String(err));
    }
  }

  reset() {
    this.screen.message = "";
    this.error = this.lastServerError = null;
    this.userClosed = false;
    this.hearing = this.playing = this.stopping = false;
    this.responseActive = this.awaitingResponse = false;
    this.turnStart = null;
    this.setNotice("error-notice", "");
    this.log.reset();
  }

  /** Audio output and (if wanted and allowed) the microphone; null: no audio at all. */
  async openAudio() {
    const audio = new AudioIO({
      onChunk: (pcm) => this.onMicChunk(pcm),
      onLevel: (rms) => this.onMicLevel(rms),
      onPlayer: (m) => this.onPlayer(m),
    });
    try {
      await audio.open();
    } catch (err) {
      await audio.close();
      this.setMic("unavailable", `Audio is unavailable (${err.message}): replies come as text, type your messages below.`);
      return null;
    }
    if (!$("use-mic").checked) {
      this.setMic("off", "Microphone off: type your messages below.");
      return audio;
    }
    try {
      await audio.startMic(this.micConstraints());
      this.setMic("on", "");
    } catch (err) {
      this.setMic("unavailable", `Microphone unavailable: ${err.message}. You can still type messages below, and hear the replies.`);
    }
    return audio;
  }

  async fetchSecret() {
    const headers = { "Content-Type": "application/json" };
    const key = $("api-key").value.trim();
    if (key) headers.Authorization = `Bearer ${key}`;
    const body = {
      expires_after: { anchor: "created_at", seconds: SECRET_TTL_S },
      session: this.sessionConfig(),
    };
    const res = await fetch("v1/realtime/client_secrets", {
      method: "POST", headers, body: JSON.stringify(body),
    });
    const answer = await res.json().catch(() => ({}));
    this.log.add("out", { type: "POST /v1/realtime/client_secrets", ...body },
      res.ok ? `HTTP ${res.status}, expires in ${SECRET_TTL_S} s` : `HTTP ${res.status}`);
    if (!res.ok) {
      const message = (answer.error && answer.error.message) || `HTTP ${res.status}`;
      const hint = res.status === 401 ? " (this server needs an API key: Session → Server access)" : "";
      if (res.status === 401) {
        $("server-access").open = true;
        $("api-key").focus();
      }
      throw new Error(`Could not get a client secret: ${message}${hint}`);
    }
    return answer;
  }

  openSocket(secret) {
    const url = new URL("v1/realtime", window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url, ["realtime", `openai-insecure-api-key.${secret}`]);
    const link = {
      open: () => ws.readyState === WebSocket.OPEN,
      send: (text) => ws.send(text),
      close: (code) => ws.close(code),
    };
    this.ws = link;
    ws.onmessage = (e) => this.onServerEvent(JSON.parse(e.data));
    ws.onclose = (e) => this.onClose(link, e);
  }

  /** A WebRTC call: the microphone's track out, the server's voice in, events on the
   *  "oai-events" data channel. */
  async openCall(secret, cancelled) {
    const pc = new RTCPeerConnection();
    const channel = pc.createDataChannel("oai-events");
    const link = {
      open: () => channel.readyState === "open",
      send: (text) => channel.send(text),
      close: () => { channel.close(); pc.close(); this.onClose(link, { code: 1000, reason: "" }); },
    };
    this.ws = link;
    this.pc = pc;
    const stream = this.audio && this.audio.stream;
    const mic = stream ? stream.getAudioTracks()[0] : null;
    if (mic) pc.addTrack(mic, stream);
    else pc.addTransceiver("audio", { direction: "recvonly" });
    pc.ontrack = (e) => {
      const player = $("remote-audio");
      player.srcObject = e.streams[0] || new MediaStream([e.track]);
      player.play().catch(() => {});
    };
    channel.onmessage = (e) => this.onServerEvent(JSON.parse(e.data));
    channel.onclose = () => this.onClose(link, { code: 1000, reason: "the call ended" });
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed") {
        this.onClose(link, { code: 1006, reason: "the WebRTC connection failed" });
      }
    };
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc); // the server takes the offer with its candidates, not trickled
    if (cancelled()) return;
    const res = await fetch("v1/realtime/calls", {
      method: "POST", body: pc.localDescription.sdp,
      headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/sdp" },
    });
    this.log.add("out", { type: "POST /v1/realtime/calls" }, `HTTP ${res.status}`);
    if (!res.ok) {
      const answer = await res.json().catch(() => ({}));
      throw new Error(`The call was refused: ${(answer.error && answer.error.message) || res.status}`);
    }
    await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
  }

  disconnect() {
    this.userClosed = true;
    this.attempts += 1;
    if (this.ws) this.ws.close(1000);
    else this.teardown();
  }

  get webrtc() {
    return Boolean(this.pc);
  }

  onClose(ws, e) {
    if (ws !== this.ws) return;
    if (!this.userClosed && !this.error) {
      const why = this.lastServerError || (e.reason ? e.reason : `the connection closed (code ${e.code})`);
      this.error = why;
    }
    this.teardown();
  }

  teardown() {
    this.screen.stop("disconnected");
    this.ws = null;
    if (this.pc) this.pc.close();
    this.pc = null;
    $("remote-audio").srcObject = null;
    this.connected = this.connecting = false;
    this.playing = this.hearing = this.responseActive = this.awaitingResponse = false;
    if (this.audio) this.audio.close();
    this.audio = null;
    if (this.micStatus === "on") this.setMic("off", "");
    $("mic-level").style.width = "0";
    if (this.error) this.setNotice("error-notice", this.error);
    this.render();
  }

  fail(message) {
    this.error = message;
    if (this.ws) this.ws.close(1000);
    this.teardown();
  }

  send(event) {
    if (!this.ws || !this.ws.open()) return;
    this.ws.send(JSON.stringify(event));
    this.log.add("out", event);
  }

  // ------------------------------------------------------------------ audio in/out

  onMicChunk(pcm) {
    if (!this.connected || this.muted || this.webrtc) return; // (WebRTC: the track carries it)
    this.send({ type: "input_audio_buffer.append", audio: toBase64(pcm) });
  }

  onMicLevel(rms) {
    const db = 20 * Math.log10(Math.max(rms, 1e-6));
    const level = this.muted ? 0 : Math.max(0, Math.min(1, (db + 60) / 60));
    $("mic-level").style.width = `${Math.round(level * 100)}%`;
  }

  onPlayer(m) {
    if (m.itemId !== null && m.itemId !== undefined && "played" in m) this.played[m.itemId] = m.played;
    if (m.type === "started") {
      this.playing = true;
      this.playingItem = m.itemId;
      if (!(m.itemId in this.playStartedAt)) this.playStartedAt[m.itemId] = performance.now();
    } else if (m.type === "progress") {
      this.playing = true;
    } else if (m.type === "idle" || m.type === "cleared") {
      this.playing = false;
    }
    this.render();
  }

  /** speech_started: stop playback now and truncate the item to what was heard. */
  async bargeIn() {
    if (!this.audio) return;
    this.stopping = true; // deltas arriving before the player answers are dropped
    const r = await this.audio.stop();
    this.stopping = false;
    this.playing = false;
    const itemId = r.itemId;
    if (!itemId) return;
    this.cut.add(itemId);
    const received = this.received[itemId] || 0;
    if (r.dropped === 0 && r.played >= received && this.audioDone.has(itemId)) return; // heard it all
    // Samples that left the worklet but not yet the speaker were not heard.
    const unheardMs = this.audio ? this.audio.outputLatencyS() * 1000 : 0;
    const playedMs = (r.played * 1000) / SAMPLE_RATE;
    const receivedMs = Math.floor((received * 1000) / SAMPLE_RATE);
    const audioEndMs = Math.max(0, Math.min(Math.round(playedMs - unheardMs), receivedMs));
    this.send({ type: "conversation.item.truncate", item_id: itemId, content_index: 0, audio_end_ms: audioEndMs });
    this.truncates.push({
      item_id: itemId, audio_end_ms: audioEndMs, played_samples: r.played, received_samples: received,
      sent_at: performance.now(), playback_started_at: this.playStartedAt[itemId] ?? null,
    });
    this.transcript.mark(itemId, "truncated");
    this.transcript.meta(itemId, `interrupted after ${(audioEndMs / 1000).toFixed(1)} s`, true);
    this.interruptedUntil = performance.now() + INTERRUPTED_SHOW_MS;
    setTimeout(() => this.render(), INTERRUPTED_SHOW_MS + 20);
    this.render();
  }

  // ------------------------------------------------------------------ server events

  onServerEvent(e) {
    this.counts[e.type] = (this.counts[e.type] || 0) + 1;
    this.log.add("in", e);
    const handler = HANDLERS[e.type];
    if (handler) handler.call(this, e);
    this.render();
  }

  firstOutput(responseId, itemId) {
    const r = this.responses.get(responseId);
    if (!r || r.firstOutputAt) return;
    r.firstOutputAt = performance.now();
    if (!r.turn) return;
    const ms = Math.round(r.firstOutputAt - r.turn.at);
    this.latencies.push({ response_id: responseId, ms, kind: r.turn.kind });
    const from = r.turn.kind === "speech" ? "end of speech" : "send";
    this.transcript.meta(itemId, `first ${r.modality} ${ms} ms after ${from}`);
    $("latency-last").textContent = `${ms} ms`;
    const sorted = this.latencies.map((l) => l.ms).sort((a, b) => a - b);
    $("latency-median").textContent = `${sorted[Math.floor((sorted.length - 1) / 2)]} ms`;
  }

  runToolCalls(response) {
    const calls = (response.output || []).filter((i) => i.type === "function_call");
    if (!calls.length || response.status !== "completed") return;
    for (const call of calls) {
      let canvas = null;
      const output = runTool(call.name, call.arguments, () => {
        canvas = document.createElement("canvas");
        canvas.width = 560;
        canvas.height = 280;
        canvas.className = "chart";
        return canvas;
      });
      if (canvas) this.chartsDrawn += 1;
      this.toolCalls.push({ name: call.name, arguments: call.arguments, output });
      this.transcript.tool(call.call_id, call.name, call.arguments, output, canvas);
      this.send({
        type: "conversation.item.create",
        item: { type: "function_call_output", call_id: call.call_id, output: JSON.stringify(output) },
      });
    }
    this.send({ type: "response.create" });
  }

  // ------------------------------------------------------------------ user actions

  async sendText() {
    const input = $("text-input");
    const text = input.value.trim();
    if (!text || !this.connected) return;
    input.value = "";
    // Typing over the assistant interrupts it, like speaking does.
    if (this.responseActive) this.send({ type: "response.cancel" });
    if (this.playing) await this.bargeIn();
    this.turnStart = { at: performance.now(), kind: "text" };
    this.awaitingResponse = true;
    this.send({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
    });
    this.send({ type: "response.create" });
    this.render();
  }

  /** A frame of the shared screen, as a user message with one input_image part. */
  sendFrame(frame) {
    if (!this.connected) return;
    this.send({
      type: "conversation.item.create",
      item: { type: "message", role: "user",
        content: [{ type: "input_image", image_url: frame.dataUrl, detail: "auto" }] },
    });
    this.strip.add(frame);
    this.render();
  }

  applySettings() {
    if (!this.connected) {
      this.setNotice("info-notice", "Saved: these settings apply when you connect.");
      return;
    }
    const session = this.sessionConfig();
    delete session.model;
    this.send({ type: "session.update", session });
  }

  // ------------------------------------------------------------------ rendering

  setMic(status, message) {
    this.micStatus = status;
    this.micMessage = message;
    this.setNotice("mic-notice", message);
  }

  setNotice(id, message) {
    $(id).textContent = message;
    $(id).hidden = !message;
  }

  computeState() {
    if (this.error) return "error";
    if (this.connecting) return "connecting";
    if (!this.connected) return "idle";
    if (performance.now() < this.interruptedUntil) return "interrupted";
    if (this.playing) return "speaking";
    if (this.responseActive || this.awaitingResponse) return "thinking";
    return "listening";
  }

  render() {
    this.state = this.computeState();
    const box = $("state");
    box.className = `state state-${this.state}` + (this.hearing ? " hearing" : "");
    let label = STATE_LABELS[this.state];
    if (this.state === "listening" && this.hearing) label = "Hearing you…";
    else if (this.state === "listening" && this.micStatus !== "on") label = "Ready · type a message";
    else if (this.state === "listening" && this.muted) label = "Muted";
    $("state-label").textContent = label;
    box.title = this.state === "error" ? this.error : label; // the message is in the notice
    const live = Boolean(this.ws || this.connecting);
    const button = $("connect");
    button.textContent = live ? "Disconnect" : "Connect";
    button.classList.toggle("stop", live);
    $("mute").disabled = !this.connected || this.micStatus !== "on";
    $("mute").textContent = this.muted ? "Unmute mic" : "Mute mic";
    $("text-input").disabled = $("send").disabled = !this.connected;
    this.renderScreen();
  }

  renderScreen() {
    const s = this.screen;
    const share = $("share-screen");
    share.disabled = !this.connected && s.status === "off";
    share.textContent = s.status === "off" ? "Share screen" : s.status === "starting" ? "Cancel sharing" : "Stop sharing";
    share.classList.toggle("stop", s.status !== "off");
    share.title = !ScreenShare.supported() ? "This browser cannot share the screen on this page"
      : this.connected ? "Show your screen to the assistant: a frame is sent when it changes"
        : "Connect first";
    if (s.status === "on") {
      const n = s.frames.length;
      const { intervalS } = this.screenSettings();
      const what = { browser: "a tab", window: "a window", monitor: "your screen" }[s.surface] || "your screen";
      this.strip.show(`Sharing ${what} · ${n} frame${n === 1 ? "" : "s"} sent ` +
        `(when it changes, at most every ${intervalS} s)`, true);
    } else if (s.frames.length) {
      const n = s.frames.length;
      this.strip.show(`Not sharing · ${n} frame${n === 1 ? " was" : "s were"} sent`, false);
    }
    this.setNotice("screen-notice", s.message);
  }
}

// One handler per server event type (GA names), called with the app as `this`.
const HANDLERS = {
  "session.created"(e) {
    this.connected = true;
    this.connecting = false;
    this.showSession(e.session);
    if (this.micStatus !== "on") $("text-input").focus();
  },
  "session.updated"(e) {
    this.showSession(e.session);
    this.setNotice("error-notice", "");
  },
  "input_audio_buffer.speech_started"(e) {
    this.hearing = true;
    this.transcript.bubble(e.item_id, "user", "…");
    if (!this.webrtc && (this.playing || this.audio)) this.bargeIn(); // (WebRTC: the server's)
  },
  "response.output_item.added"(e) {
    if (e.item.type === "message") this.itemOfResponse[e.response_id] = e.item.id;
  },
  // WebRTC: the server plays the audio and says when it starts, drains or is cut.
  "output_audio_buffer.started"(e) {
    this.playing = true;
    this.firstOutput(e.response_id, this.itemOfResponse[e.response_id]);
  },
  "output_audio_buffer.stopped"() {
    this.playing = false;
  },
  "output_audio_buffer.cleared"() {
    if (!this.webrtc) return;
    this.playing = false;
    this.interruptedUntil = performance.now() + INTERRUPTED_SHOW_MS;
    setTimeout(() => this.render(), INTERRUPTED_SHOW_MS + 20);
  },
  "input_audio_buffer.speech_stopped"() {
    this.hearing = false;
    this.turnStart = { at: performance.now(), kind: "speech" };
    const vad = this.session && this.session.audio.input.turn_detection;
    this.awaitingResponse = Boolean(vad && vad.create_response !== false);
  },
  "conversation.item.input_audio_transcription.delta"(e) {
    this.transcript.append(e.item_id, "user", e.delta);
  },
  "conversation.item.input_audio_transcription.completed"(e) {
    this.transcript.setText(e.item_id, "user", e.transcript.trim() || "(silence)");
  },
  "conversation.item.input_audio_transcription.failed"(e) {
    this.transcript.setText(e.item_id, "user", "(not understood)");
  },
  "conversation.item.added"(e) {
    const item = e.item;
    if (item.type !== "message") return;
    if (item.role === "assistant") this.transcript.bubble(item.id, "assistant");
    const typed = (item.content || []).find((p) => p.type === "input_text");
    if (item.role === "user" && typed) this.transcript.setText(item.id, "user", typed.text);
  },
  "response.created"(e) {
    this.responseActive = true;
    this.awaitingResponse = false;
    const modality = (e.response.output_modalities || ["audio"])[0];
    this.responses.set(e.response.id, { turn: this.turnStart, firstOutputAt: null, modality });
    this.turnStart = null;
  },
  "response.output_audio.delta"(e) {
    if (this.stopping || this.cut.has(e.item_id) || !this.audio) return;
    const n = this.audio.play(e.item_id, fromBase64(e.delta));
    this.received[e.item_id] = (this.received[e.item_id] || 0) + n;
    this.firstOutput(e.response_id, e.item_id);
  },
  "response.output_audio.done"(e) {
    this.audioDone.add(e.item_id);
    if (this.audio) this.audio.end(e.item_id);
  },
  "response.output_audio_transcript.delta"(e) {
    if (!this.cut.has(e.item_id)) this.transcript.append(e.item_id, "assistant", e.delta);
  },
  "response.output_audio_transcript.done"(e) {
    if (!this.cut.has(e.item_id)) this.transcript.setText(e.item_id, "assistant", e.transcript);
  },
  "response.output_text.delta"(e) {
    this.transcript.append(e.item_id, "assistant", e.delta);
    this.firstOutput(e.response_id, e.item_id);
  },
  "response.output_text.done"(e) {
    this.transcript.setText(e.item_id, "assistant", e.text);
  },
  "response.done"(e) {
    this.responseActive = false;
    const r = e.response;
    if (r.status === "failed") {
      const err = r.status_details && r.status_details.error;
      this.setNotice("error-notice", `The response failed: ${(err && err.message) || "server error"}`);
    }
    this.runToolCalls(r);
  },
  "conversation.item.truncated"(e) {
    this.transcript.mark(e.item_id, "truncated");
    // The server rewrote the item to the words played: show what stays in the context.
    this.send({ type: "conversation.item.retrieve", item_id: e.item_id });
  },
  "conversation.item.retrieved"(e) {
    const part = (e.item.content || [])[0];
    if (part && typeof part.transcript === "string") this.transcript.heard(e.item.id, part.transcript);
  },
  "error"(e) {
    // Cancels race with natural completion: the reference calls this one benign.
    if (e.error.code === "response_cancel_not_active") return;
    const message = e.error.message;
    this.lastServerError = message;
    this.setNotice("error-notice", message);
    setTimeout(() => {
      if (!this.error && $("error-notice").textContent === message) this.setNotice("error-notice", "");
    }, ERROR_NOTICE_MS);
  },
};

/** Resolves once the peer connection has gathered its ICE candidates (at most 3 s). */
function iceGathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 3000);
  });
}

function toBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function fromBase64(b64) {
  const s = atob(b64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes.buffer;
}

const app = new ConsoleApp();

// A small read-only view for tests and for poking around in the devtools console.
const copy = (x) => JSON.parse(JSON.stringify(x));
window.openrealtimeConsole = Object.freeze({
  get state() { return app.state; },
  get error() { return app.error; },
  get micStatus() { return app.micStatus; },
  get transport() { return app.webrtc ? "webrtc" : app.ws ? "websocket" : app.transport; },
  get remoteAudio() {
    const el = $("remote-audio");
    return { attached: Boolean(el.srcObject), paused: el.paused, time: el.currentTime };
  },
  get micMessage() { return app.micMessage; },
  get session() { return app.session && copy(app.session); },
  get playedSamples() { return Object.values(app.played).reduce((a, b) => a + b, 0); },
  get playedByItem() { return { ...app.played }; },
  get receivedByItem() { return { ...app.received }; },
  get truncates() { return copy(app.truncates); },
  get transcripts() { return copy(app.transcript.entries); },
  get latencies() { return copy(app.latencies); },
  get toolCalls() { return copy(app.toolCalls); },
  get chartsDrawn() { return app.chartsDrawn; },
  get eventCounts() { return { ...app.counts }; },
  get screen() {
    const s = app.screen;
    return { status: s.status, message: s.message, stopReason: s.stopReason || null,
      frames: copy(s.frames), lastDiff: s.lastDiff, thumbnails: $("screen-frames").childElementCount };
  },
});
