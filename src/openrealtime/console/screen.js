// Screen sharing: getDisplayMedia, and a frame sent as a user `input_image` item when the
// screen has changed noticeably since the last frame sent (and at most every few seconds).
//
// Change detection: every CHECK_MS the current frame is drawn into a small grayscale
// thumbnail (THUMB_W px wide); the mean absolute difference (0-255) against the thumbnail
// of the last frame sent is compared with a threshold. A caret blinking or a clock ticking
// stays well under it; a dialog opening, a page scrolling or a new window goes over it.

export const MAX_WIDTH = 1280; // frames are scaled down to at most this width
export const JPEG_QUALITY = 0.8;
export const MAX_DATA_URL = 10 * 1024 * 1024; // the server's limit on one image (decoded)
const CHECK_MS = 500;
const THUMB_W = 64;
const STRIP_W = 160; // width of the thumbnails shown in the page
const STRIP_MAX = 12; // thumbnails kept in the strip (the oldest go)

export class ScreenShare {
  /**
   * onFrame(frame): a frame to send ({dataUrl, mime, width, height, bytes, reason, diff}).
   * onChange(): the state changed (for re-rendering). settings(): {intervalS, threshold, mime}.
   */
  constructor({ onFrame, onChange, settings }) {
    this.onFrame = onFrame;
    this.onChange = onChange;
    this.settings = settings;
    this.status = "off"; // off | starting | on
    this.message = "";
    this.stream = null;
    this.video = null;
    this.timer = null;
    this.lastThumb = null;
    this.lastSentAt = 0;
    this.lastDiff = null;
    this.frames = []; // every frame sent: {at, width, height, bytes, mime, reason, diff}
    this.surface = ""; // browser | window | monitor
    this.thumbCanvas = document.createElement("canvas");
    this.frameCanvas = document.createElement("canvas");
  }

  static supported() {
    return Boolean(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
  }

  async start() {
    if (this.status !== "off") return;
    if (!ScreenShare.supported()) {
      this.setStatus("off", "This browser cannot share the screen here: screen sharing needs a " +
        "desktop browser and a secure page (https, or http://localhost / 127.0.0.1).");
      return;
    }
    this.setStatus("starting", "Choose a screen, window or tab to share…");
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({
        video: { frameRate: { ideal: 5, max: 15 } },
        audio: false,
        selfBrowserSurface: "exclude", // sharing the console itself would loop on its own strip
        surfaceSwitching: "include",
      });
    } catch (err) {
      const why = err && err.name === "NotAllowedError"
        ? "Screen sharing was cancelled or not allowed."
        : `Screen sharing failed: ${(err && err.message) || err}`;
      this.setStatus("off", why);
      return;
    }
    if (this.status !== "starting") { // stopped (or disconnected) while the picker was open
      stream.getTracks().forEach((t) => t.stop());
      return;
    }
    this.stream = stream;
    const track = stream.getVideoTracks()[0];
    this.surface = (track.getSettings && track.getSettings().displaySurface) || "";
    track.addEventListener("ended", () => this.stop("ended"));
    const video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.srcObject = stream;
    this.video = video;
    try {
      await video.play();
      await waitForSize(video);
    } catch (err) {
      this.stop("error", `Screen sharing failed: no picture from the shared screen (${err.message || err}).`);
      return;
    }
    if (this.stream !== stream) return; // stopped meanwhile
    this.lastThumb = null;
    this.lastSentAt = 0;
    this.setStatus("on", "");
    this.check(); // the first frame right away
    this.timer = setInterval(() => this.check(), CHECK_MS);
  }

  /** why: "user" (the stop button), "ended" (the browser's own stop / source closed),
   *  "disconnected", "error". */
  stop(why = "user", message = "") {
    if (this.status === "off") return;
    clearInterval(this.timer);
    this.timer = null;
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    if (this.video) this.video.srcObject = null;
    this.stream = this.video = null;
    const n = this.frames.length;
    const sent = `${n} frame${n === 1 ? "" : "s"} sent`;
    const text = message || {
      user: `Screen sharing stopped (${sent}).`,
      ended: `Screen sharing ended: the shared screen was closed or sharing was stopped in the browser (${sent}).`,
      disconnected: `Screen sharing stopped: the session is disconnected (${sent}).`,
      error: `Screen sharing stopped (${sent}).`,
    }[why];
    this.stopReason = why;
    this.setStatus("off", text);
  }

  setStatus(status, message) {
    this.status = status;
    this.message = message;
    this.onChange();
  }

  /** Sample the current frame; send it if it changed enough and the interval has passed. */
  check() {
    const video = this.video;
    if (this.status !== "on" || !video || !video.videoWidth) return;
    const thumb = grayThumb(video, this.thumbCanvas);
    const first = this.lastThumb === null;
    const diff = first ? null : meanAbsDiff(thumb, this.lastThumb);
    this.lastDiff = diff;
    const { intervalS, threshold } = this.settings();
    if (!first) {
      if (diff < threshold) return;
      if (performance.now() - this.lastSentAt < intervalS * 1000) return; // next check will see it
    }
    const frame = this.grab(video);
    frame.reason = first ? "first frame" : "changed";
    frame.diff = diff;
    frame.at = Date.now();
    this.lastThumb = thumb;
    this.lastSentAt = performance.now();
    this.frames.push({ at: frame.at, width: frame.width, height: frame.height, bytes: frame.bytes,
      mime: frame.mime, reason: frame.reason, diff: diff === null ? null : round1(diff) });
    this.onFrame(frame);
  }

  /** The frame as a data URL, at most MAX_WIDTH wide. */
  grab(video) {
    const scale = Math.min(1, MAX_WIDTH / video.videoWidth);
    const width = Math.round(video.videoWidth * scale);
    const height = Math.round(video.videoHeight * scale);
    const canvas = this.frameCanvas;
    canvas.width = width;
    canvas.height = height;
    const g = canvas.getContext("2d");
    g.drawImage(video, 0, 0, width, height);
    let mime = this.settings().mime;
    let dataUrl = canvas.toDataURL(mime, JPEG_QUALITY);
    if (mime === "image/png" && (dataUrl.length * 3) / 4 > MAX_DATA_URL) { // too big: JPEG
      mime = "image/jpeg";
      dataUrl = canvas.toDataURL(mime, JPEG_QUALITY);
    }
    const bytes = Math.round(((dataUrl.length - dataUrl.indexOf(",") - 1) * 3) / 4);
    const small = document.createElement("canvas");
    small.width = STRIP_W;
    small.height = Math.max(1, Math.round((STRIP_W * height) / width));
    small.getContext("2d").drawImage(canvas, 0, 0, small.width, small.height);
    return { dataUrl, mime, width, height, bytes, thumbUrl: small.toDataURL("image/jpeg", 0.7) };
  }
}

/** The strip of thumbnails of the frames sent (newest first). */
export class FrameStrip {
  constructor(root, list, status) {
    this.root = root;
    this.list = list;
    this.status = status;
  }

  add(frame) {
    this.root.hidden = false;
    const at = clock(new Date(frame.at));
    const fig = document.createElement("figure");
    fig.className = "frame";
    const img = document.createElement("img");
    img.src = frame.thumbUrl;
    img.alt = `Shared screen frame sent at ${at}`;
    const cap = document.createElement("figcaption");
    cap.textContent = at;
    const kb = `${Math.max(1, Math.round(frame.bytes / 1024))} KB`;
    const why = frame.reason === "changed" ? `changed (difference ${round1(frame.diff)})` : frame.reason;
    fig.title = `${at} · ${frame.width}×${frame.height} ${frame.mime.split("/")[1].toUpperCase()}, ${kb} · ${why}`;
    fig.append(img, cap);
    this.list.prepend(fig);
    while (this.list.childElementCount > STRIP_MAX) this.list.lastElementChild.remove();
  }

  show(text, live) {
    this.status.textContent = text;
    this.root.classList.toggle("live", live);
  }
}

function waitForSize(video) {
  if (video.videoWidth) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("timed out")), 5000);
    const done = () => {
      if (!video.videoWidth) return;
      clearTimeout(t);
      resolve();
    };
    video.addEventListener("loadedmetadata", done);
    video.addEventListener("resize", done);
  });
}

function grayThumb(video, canvas) {
  const w = THUMB_W;
  const h = Math.max(1, Math.round((THUMB_W * video.videoHeight) / video.videoWidth));
  canvas.width = w;
  canvas.height = h;
  const g = canvas.getContext("2d", { willReadFrequently: true });
  g.drawImage(video, 0, 0, w, h);
  const rgba = g.getImageData(0, 0, w, h).data;
  const gray = new Uint8Array(w * h);
  for (let i = 0, j = 0; j < gray.length; i += 4, j++) {
    gray[j] = (rgba[i] * 77 + rgba[i + 1] * 150 + rgba[i + 2] * 29) >> 8;
  }
  return gray;
}

export function meanAbsDiff(a, b) {
  if (a.length !== b.length) return 255; // the shared surface changed size
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

const round1 = (x) => Math.round(x * 10) / 10;
const clock = (d) => d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
