// Audio in and out of the page: one AudioContext at 24 kHz (the wire rate), microphone
// capture through the "pcm-capture" worklet and playback through the "pcm-player"
// jitter buffer, which counts the samples it played for each item.

export const SAMPLE_RATE = 24000;

export class AudioIO {
  /**
   * @param {object} handlers  onChunk(ArrayBuffer pcm16), onLevel(rms),
   *                           onPlayer(message from the player worklet)
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.ctx = null;
    this.player = null;
    this.stream = null;
    this.micContext = null;
    this.pending = new Map(); // clear requests waiting for the worklet's answer
    this.nextRequest = 1;
  }

  /** Open the context and the player. Throws where Web Audio worklets are unavailable. */
  async open() {
    this.ctx = new AudioContext({ sampleRate: SAMPLE_RATE, latencyHint: "interactive" });
    if (!this.ctx.audioWorklet) {
      throw new Error("audio worklets need a secure page (https or localhost)");
    }
    await this.ctx.audioWorklet.addModule(new URL("./playback-worklet.js", import.meta.url));
    await this.ctx.audioWorklet.addModule(new URL("./capture-worklet.js", import.meta.url));
    this.player = new AudioWorkletNode(this.ctx, "pcm-player", {
      numberOfInputs: 0, outputChannelCount: [1],
    });
    this.player.port.onmessage = (e) => this.onPlayerMessage(e.data);
    this.player.connect(this.ctx.destination);
    if (this.ctx.state === "suspended") await this.ctx.resume();
  }

  /**
   * Start the microphone. Rejects with a readable Error when there is none or the
   * user (or the browser) refused permission.
   */
  async startMic(constraints) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("this page cannot use a microphone here (it needs https or localhost)");
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, ...constraints },
      });
    } catch (err) {
      throw new Error(micErrorText(err));
    }
    let ctx = this.ctx;
    let source;
    try {
      source = ctx.createMediaStreamSource(this.stream);
    } catch {
      // Firefox will not connect a microphone to a context at another rate: capture at
      // the device rate and let the worklet resample to 24 kHz.
      ctx = this.micContext = new AudioContext();
      await ctx.audioWorklet.addModule(new URL("./capture-worklet.js", import.meta.url));
      source = ctx.createMediaStreamSource(this.stream);
    }
    const capture = new AudioWorkletNode(ctx, "pcm-capture", { numberOfOutputs: 0 });
    capture.port.onmessage = (e) => {
      if (e.data.type === "chunk") this.handlers.onChunk(e.data.pcm);
      else if (e.data.type === "level") this.handlers.onLevel(e.data.rms);
    };
    source.connect(capture);
  }

  /** Queue an item's pcm16 audio (an ArrayBuffer) for playback. */
  play(itemId, pcm16) {
    const ints = new Int16Array(pcm16);
    const samples = new Float32Array(ints.length);
    for (let i = 0; i < ints.length; i++) samples[i] = ints[i] / 32768;
    this.player.port.postMessage({ type: "push", itemId, samples }, [samples.buffer]);
    return ints.length;
  }

  /** The item will get no more audio: play out what is queued even below the prebuffer. */
  end(itemId) {
    this.player.port.postMessage({ type: "end", itemId });
  }

  /** Stop playback now. Resolves to {itemId, played, dropped} (played in samples). */
  stop() {
    const requestId = this.nextRequest++;
    const answer = new Promise((resolve) => this.pending.set(requestId, resolve));
    this.player.port.postMessage({ type: "clear", requestId });
    return answer;
  }

  /** Seconds between a sample leaving the worklet and reaching the speaker. */
  outputLatencyS() {
    if (!this.ctx) return 0;
    return (this.ctx.outputLatency || 0) + (this.ctx.baseLatency || 0);
  }

  onPlayerMessage(m) {
    if (m.type === "cleared") {
      const resolve = this.pending.get(m.requestId);
      this.pending.delete(m.requestId);
      if (resolve) resolve(m);
    }
    this.handlers.onPlayer(m);
  }

  async close() {
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    for (const ctx of [this.micContext, this.ctx]) {
      if (ctx) await ctx.close().catch(() => {});
    }
    this.stream = this.ctx = this.micContext = this.player = null;
    for (const resolve of this.pending.values()) resolve({ itemId: null, played: 0, dropped: 0 });
    this.pending.clear();
  }
}

function micErrorText(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError") {
    return "microphone permission was denied";
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") {
    return "no microphone was found";
  }
  if (name === "NotReadableError") return "the microphone is in use by another application";
  return (err && err.message) || String(err);
}
