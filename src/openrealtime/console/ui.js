// The two live panes: the transcript (both sides, by item id) and the event log.

const MAX_LOG_ROWS = 500;
const NOISY = new Set(["input_audio_buffer.append", "response.output_audio.delta",
  "response.output_audio_transcript.delta", "response.output_text.delta",
  "conversation.item.input_audio_transcription.delta"]);

export class Transcript {
  constructor(root, empty) {
    this.root = root;
    this.empty = empty;
    this.bubbles = new Map(); // itemId -> {el, text, role}
    this.entries = []; // {role, itemId, text} in display order, for the test hook
  }

  /** The bubble of an item, created on first use. */
  bubble(itemId, role, placeholder = "") {
    let b = this.bubbles.get(itemId);
    if (b) return b;
    this.empty.hidden = true;
    const el = document.createElement("div");
    el.className = `bubble ${role}` + (placeholder ? " pending" : "");
    el.dataset.itemId = itemId;
    el.innerHTML = '<span class="who"></span><span class="text"></span><span class="meta"></span>';
    el.querySelector(".who").textContent = role === "user" ? "You" : role === "tool" ? "Tool" : "Assistant";
    el.querySelector(".text").textContent = placeholder;
    this.root.appendChild(el);
    b = { el, role, entry: { role, itemId, text: "" } };
    this.bubbles.set(itemId, b);
    this.entries.push(b.entry);
    this.scroll();
    return b;
  }

  setText(itemId, role, text) {
    const b = this.bubble(itemId, role);
    b.el.classList.remove("pending");
    b.entry.text = text;
    b.el.querySelector(".text").textContent = text;
    this.scroll();
  }

  append(itemId, role, delta) {
    const b = this.bubble(itemId, role);
    this.setText(itemId, role, b.entry.text + delta);
  }

  meta(itemId, text, append = false) {
    const b = this.bubbles.get(itemId);
    if (!b) return;
    const el = b.el.querySelector(".meta");
    el.textContent = append && el.textContent ? `${el.textContent} · ${text}` : text;
  }

  /** After a truncation: what the user heard, and the rest struck through. */
  heard(itemId, heardText) {
    const b = this.bubbles.get(itemId);
    if (!b) return;
    const full = b.entry.text;
    const cut = full.startsWith(heardText) ? heardText.length : full.length;
    const text = b.el.querySelector(".text");
    text.textContent = full.slice(0, cut);
    if (cut < full.length) {
      const rest = document.createElement("span");
      rest.className = "unheard";
      rest.title = "Not heard: removed from the conversation";
      rest.textContent = full.slice(cut);
      text.appendChild(rest);
    }
    b.entry.heard = heardText;
  }

  mark(itemId, cls) {
    const b = this.bubbles.get(itemId);
    if (b) b.el.classList.add(cls);
  }

  /** A tool call: its name, arguments and output; returns a canvas when asked for one. */
  tool(callId, name, argsText, output, canvas = null) {
    const b = this.bubble(callId, "tool");
    b.el.querySelector(".who").textContent = `Tool · ${name}`;
    b.entry.text = `${name}(${argsText}) → ${JSON.stringify(output)}`;
    const text = b.el.querySelector(".text");
    text.textContent = "";
    if (canvas) text.appendChild(canvas);
    const code = document.createElement("code");
    code.textContent = `${argsText || "{}"} → ${JSON.stringify(output)}`;
    text.appendChild(code);
    this.scroll();
  }

  scroll() {
    this.root.scrollTop = this.root.scrollHeight;
  }
}

export class EventLog {
  constructor(list, filter, showAudio, counter) {
    this.list = list;
    this.filter = filter;
    this.showAudio = showAudio;
    this.counter = counter;
    this.t0 = performance.now();
    this.last = this.t0;
    this.count = 0;
    this.filter.addEventListener("input", () => this.refilter());
    this.showAudio.addEventListener("change", () => this.refilter());
  }

  reset() {
    this.t0 = this.last = performance.now();
  }

  clear() {
    this.list.textContent = "";
    this.count = 0;
    this.counter.textContent = "0";
  }

  /** Log one event; direction "in" (from the server) or "out" (sent by the page). */
  add(direction, event, note = "") {
    const now = performance.now();
    // Shared-screen frames are data URLs of 100 KB and more: the log keeps a copy without them.
    if (event.type.startsWith("conversation.item.")) event = withoutImages(event);
    this.counter.textContent = String(++this.count);
    // Audio frames come 25-50 times a second: rows for them only when asked for.
    if (NOISY.has(event.type) && !this.showAudio.checked) return;
    const li = document.createElement("li");
    li.className = direction + (event.type === "error" ? " error" : "");
    li.dataset.type = event.type;
    li.innerHTML = '<div class="row"><span class="t"></span><span class="t"></span>' +
      '<span class="dir"></span><span class="type"></span></div>';
    const cells = li.querySelectorAll(".row > span");
    cells[0].textContent = Math.round(now - this.t0);
    cells[1].textContent = "+" + Math.round(now - this.last);
    cells[2].textContent = direction === "in" ? "↓" : "↑";
    cells[3].textContent = event.type;
    const detail = note || summary(event);
    if (detail) {
      const small = document.createElement("small");
      small.textContent = detail;
      cells[3].appendChild(small);
    }
    li.addEventListener("click", () => toggleJson(li, event));
    this.last = now;
    li.hidden = !this.visible(event.type);
    const atBottom = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 30;
    this.list.appendChild(li);
    while (this.list.childElementCount > MAX_LOG_ROWS) this.list.firstElementChild.remove();
    if (atBottom) this.list.scrollTop = this.list.scrollHeight;
  }

  visible(type) {
    if (!this.showAudio.checked && NOISY.has(type)) return false;
    const f = this.filter.value.trim().toLowerCase();
    return !f || type.toLowerCase().includes(f);
  }

  refilter() {
    for (const li of this.list.children) li.hidden = !this.visible(li.dataset.type);
  }
}

function summary(e) {
  switch (e.type) {
    case "error": return e.error && e.error.message;
    case "session.created": case "session.updated": return e.session && e.session.id;
    case "response.done": return e.response && e.response.status;
    case "conversation.item.truncate": case "conversation.item.truncated":
      return `${e.audio_end_ms} ms`;
    case "conversation.item.input_audio_transcription.completed": return e.transcript;
    case "conversation.item.create": case "conversation.item.added": case "conversation.item.done":
      return imageSummary(e.item);
    case "response.output_audio.delta": case "input_audio_buffer.append":
      return `${Math.round(((e.delta || e.audio || "").length * 3) / 4)} B`;
    default: return "";
  }
}

const IMAGE_URL = /^data:([^;,]+)[^,]*,/;

/** A copy of an event with every image data URL replaced by its type and size. */
function withoutImages(event) {
  let found = false;
  const copy = JSON.parse(JSON.stringify(event, (key, value) => {
    if (key !== "image_url" || typeof value !== "string" || value.length <= 120) return value;
    found = true;
    const m = IMAGE_URL.exec(value);
    const bytes = Math.round(((value.length - value.indexOf(",") - 1) * 3) / 4);
    return `${m ? m[0] : value.slice(0, 30)}… (${Math.round(bytes / 1024)} KB, not shown)`;
  }));
  return found ? copy : event;
}

function imageSummary(item) {
  const images = ((item && item.content) || []).filter((p) => p.type === "input_image");
  if (!images.length) return "";
  const m = IMAGE_URL.exec(images[0].image_url || "");
  const size = /\(([^)]*), not shown\)/.exec(images[0].image_url || "");
  return `image ${m ? m[1].replace("image/", "") : ""}${size ? " " + size[1] : ""}` +
    (images.length > 1 ? ` (+${images.length - 1})` : "");
}

function toggleJson(li, event) {
  const open = li.querySelector("pre");
  if (open) {
    open.remove();
    return;
  }
  const pre = document.createElement("pre");
  pre.textContent = JSON.stringify(event, (key, value) =>
    (key === "delta" || key === "audio") && typeof value === "string" && value.length > 80
      ? `${value.slice(0, 40)}… (${value.length} base64 chars)` : value, 2);
  li.appendChild(pre);
}
