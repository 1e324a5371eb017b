// Microphone capture: mono float input -> pcm16 at 24 kHz, posted in 40 ms chunks.
//
// The console runs its AudioContext at 24 kHz, so Chromium resamples the microphone and
// this processor only converts. Where a browser refuses a 24 kHz context for a
// microphone (Firefox), the page opens a context at the device rate and this processor
// resamples linearly to 24 kHz.

const TARGET_RATE = 24000;
const CHUNK_SAMPLES = 960; // 40 ms at 24 kHz
const LEVEL_EVERY_S = 0.05;

class PcmCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / TARGET_RATE; // input samples per output sample
    this.pos = 0; // fractional read position into the current block (resampling)
    this.last = 0; // previous block's last sample (resampling)
    this.chunk = new Int16Array(CHUNK_SAMPLES);
    this.fill = 0;
    this.sumSquares = 0;
    this.levelCount = 0;
  }

  emit(v) {
    const s = v < -1 ? -1 : v > 1 ? 1 : v;
    this.chunk[this.fill++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    if (this.fill === CHUNK_SAMPLES) {
      this.port.postMessage({ type: "chunk", pcm: this.chunk.buffer }, [this.chunk.buffer]);
      this.chunk = new Int16Array(CHUNK_SAMPLES);
      this.fill = 0;
    }
  }

  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    if (this.step === 1) {
      for (let i = 0; i < input.length; i++) this.emit(input[i]);
    } else {
      // Linear interpolation between x[i-1] and x[i]; index -1 is the previous block's tail.
      let pos = this.pos;
      while (pos < input.length) {
        const i = Math.floor(pos);
        const frac = pos - i;
        const a = i === 0 ? this.last : input[i - 1];
        this.emit(a + (input[i] - a) * frac);
        pos += this.step;
      }
      this.pos = pos - input.length;
      this.last = input[input.length - 1];
    }
    for (let i = 0; i < input.length; i++) this.sumSquares += input[i] * input[i];
    this.levelCount += input.length;
    if (this.levelCount >= sampleRate * LEVEL_EVERY_S) {
      this.port.postMessage({ type: "level", rms: Math.sqrt(this.sumSquares / this.levelCount) });
      this.sumSquares = 0;
      this.levelCount = 0;
    }
    return true;
  }
}

registerProcessor("pcm-capture", PcmCapture);
