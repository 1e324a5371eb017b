// Assistant audio playback: a small jitter buffer that counts the samples it actually
// played for each item, so a barge-in can truncate the item to what the user heard.
//
// Messages in:  {type:"push", itemId, samples: Float32Array}   queue audio of an item
//               {type:"end", itemId}                           no more audio for the item
//               {type:"clear", requestId}                      stop at once, drop the queue
// Messages out: {type:"started", itemId}                       first sample of an item played
//               {type:"progress", itemId, played}              every ~50 ms while playing
//               {type:"idle", itemId, played, complete}        the queue ran dry
//               {type:"cleared", requestId, itemId, played, dropped}

const PROGRESS_EVERY = 10; // render quanta (10 x 128 samples = 53 ms at 24 kHz)
const MAX_ITEMS_KEPT = 64;

class PcmPlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = (options && options.processorOptions) || {};
    // Start (or restart after an underrun) only with this much audio queued: network
    // jitter then costs a short delay instead of a crackle.
    this.prebuffer = opts.prebufferSamples || Math.round(sampleRate * 0.08);
    this.queue = []; // {itemId, data: Float32Array, offset}
    this.buffered = 0;
    this.playing = false;
    this.current = null; // item whose samples were output last
    this.played = new Map(); // itemId -> samples output
    this.ended = new Set(); // items whose audio is complete
    this.quanta = 0;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  onMessage(m) {
    if (m.type === "push") {
      this.queue.push({ itemId: m.itemId, data: m.samples, offset: 0 });
      this.buffered += m.samples.length;
    } else if (m.type === "end") {
      this.ended.add(m.itemId);
    } else if (m.type === "clear") {
      const itemId = this.current !== null ? this.current
        : this.queue.length ? this.queue[0].itemId : null;
      this.port.postMessage({
        type: "cleared", requestId: m.requestId, itemId,
        played: itemId !== null ? this.played.get(itemId) || 0 : 0, dropped: this.buffered,
      });
      this.queue = [];
      this.buffered = 0;
      this.playing = false;
      this.current = null;
    }
  }

  canStart() {
    if (!this.queue.length) return false;
    const lastItem = this.queue[this.queue.length - 1].itemId;
    return this.buffered >= this.prebuffer || this.ended.has(lastItem);
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    if (!this.playing) {
      if (!this.canStart()) {
        out.fill(0);
        return true;
      }
      this.playing = true;
    }
    let i = 0;
    while (i < out.length && this.queue.length) {
      const chunk = this.queue[0];
      const n = Math.min(out.length - i, chunk.data.length - chunk.offset);
      out.set(chunk.data.subarray(chunk.offset, chunk.offset + n), i);
      i += n;
      chunk.offset += n;
      this.buffered -= n;
      if (chunk.itemId !== this.current) {
        this.current = chunk.itemId;
        this.port.postMessage({ type: "started", itemId: chunk.itemId });
        this.forgetOldItems();
      }
      this.played.set(chunk.itemId, (this.played.get(chunk.itemId) || 0) + n);
      if (chunk.offset >= chunk.data.length) this.queue.shift();
    }
    if (i < out.length) {
      out.fill(0, i);
      this.playing = false;
      const itemId = this.current;
      this.port.postMessage({
        type: "idle", itemId, played: this.played.get(itemId) || 0,
        complete: this.ended.has(itemId),
      });
      if (this.ended.has(itemId)) this.current = null;
    } else if (++this.quanta % PROGRESS_EVERY === 0) {
      this.port.postMessage({ type: "progress", itemId: this.current, played: this.played.get(this.current) || 0 });
    }
    return true;
  }

  forgetOldItems() {
    while (this.played.size > MAX_ITEMS_KEPT) this.played.delete(this.played.keys().next().value);
    while (this.ended.size > MAX_ITEMS_KEPT) this.ended.delete(this.ended.values().next().value);
  }
}

registerProcessor("pcm-player", PcmPlayer);
