// The tool demo: a planet tutor whose model can draw a chart in the page and read the
// browser's clock. The page runs the calls it finds in response.done and answers with
// function_call_output + response.create (the reference's function-call sequence).

export const TUTOR_INSTRUCTIONS =
  "You are a friendly tutor for the planets of the solar system. Answer briefly, in " +
  "plain spoken language. When the user asks to compare numbers (sizes, distances, " +
  "moons), call display_data to show them as a chart. When the user asks for the time " +
  "or date, call show_time.";

export const DEMO_TOOLS = [
  {
    type: "function",
    name: "display_data",
    description: "Show numbers to the user as a bar chart on their screen.",
    parameters: {
      type: "object",
      properties: {
        title: { type: "string", description: "Chart title" },
        labels: { type: "array", items: { type: "string" }, maxItems: 10 },
        values: { type: "array", items: { type: "number" }, maxItems: 10 },
        unit: { type: "string", description: "Unit of the values, e.g. km" },
      },
      required: ["title", "labels", "values"],
    },
  },
  {
    type: "function",
    name: "show_time",
    description: "Get the user's current local date and time from their browser.",
    parameters: { type: "object", properties: {} },
  },
];

/**
 * Run one call; returns the output object (sent back as JSON). ``newCanvas()`` gives a
 * canvas in the page to draw on.
 */
export function runTool(name, argsText, newCanvas) {
  let args;
  try {
    args = argsText ? JSON.parse(argsText) : {};
  } catch {
    return { error: "arguments are not valid JSON" };
  }
  if (name === "show_time") {
    const now = new Date();
    return {
      local_time: now.toLocaleString(),
      iso: now.toISOString(),
      time_zone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    };
  }
  if (name === "display_data") {
    const labels = Array.isArray(args.labels) ? args.labels.map(String) : [];
    const values = Array.isArray(args.values) ? args.values.map(Number) : [];
    const n = Math.min(labels.length, values.length);
    if (!n) return { error: "labels and values must be non-empty arrays of the same length" };
    drawChart(newCanvas(), String(args.title || ""), labels.slice(0, n), values.slice(0, n),
      args.unit ? String(args.unit) : "");
    return { shown: true, bars: n };
  }
  return { error: `unknown tool ${name}` };
}

/** A plain bar chart on a canvas (no chart library: the page has no build step). */
export function drawChart(canvas, title, labels, values, unit) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width;
  const h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = "#1d2330";
  ctx.font = "600 15px system-ui, sans-serif";
  ctx.fillText(title, 12, 22);
  const top = 44;
  const bottom = h - 36;
  const left = 12;
  const max = Math.max(...values.map((v) => Math.abs(v)), 1e-9);
  const slot = (w - left * 2) / labels.length;
  const barW = Math.min(64, slot * 0.6);
  ctx.strokeStyle = "#e3e6ec";
  ctx.beginPath();
  ctx.moveTo(left, bottom + 0.5);
  ctx.lineTo(w - left, bottom + 0.5);
  ctx.stroke();
  labels.forEach((label, i) => {
    const v = values[i];
    const barH = (Math.abs(v) / max) * (bottom - top - 16);
    const x = left + slot * i + (slot - barW) / 2;
    ctx.fillStyle = ["#3b5bdb", "#7048e8", "#0ca678", "#f08c00", "#e64980"][i % 5];
    ctx.fillRect(x, bottom - barH, barW, barH);
    ctx.fillStyle = "#1d2330";
    ctx.font = "12px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.fillText(formatValue(v) + (unit ? ` ${unit}` : ""), x + barW / 2, bottom - barH - 6);
    ctx.fillStyle = "#6b7385";
    ctx.fillText(label.slice(0, 14), x + barW / 2, bottom + 18);
    ctx.textAlign = "start";
  });
}

function formatValue(v) {
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(0) + "k";
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}
