// A line chart of readings on a <canvas>, with threshold levels as labelled horizontal lines.
// Drawn by hand: a charting library would be the console's largest file and a CDN temptation.

import { number } from "./format.js";

const PAD = { left: 60, right: 150, top: 18, bottom: 30 };

/** The value range to show: every reading and every level, with a margin. */
export function valueRange(points, levels) {
  const values = [...points.map((p) => p.value), ...levels.map((l) => l.value)];
  if (!values.length) return [0, 1];
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) { lo -= 1; hi += 1; }
  const margin = (hi - lo) * 0.08;
  return [lo - margin, hi + margin];
}

/** About ``count`` round tick values between lo and hi. */
export function ticks(lo, hi, count = 5) {
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

function cssVar(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/** Draw ``points`` ([{ts, value}], seconds) from ``from`` to ``to`` with ``levels``
 *  ([{name, value, severity}]) on ``canvas``; ``timeLabel(ts)`` formats the x ticks. */
export function drawChart(canvas, { points, levels, from, to, unit, timeLabel }) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 600;
  const height = canvas.clientHeight || 300;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);

  const [lo, hi] = valueRange(points, levels);
  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const x = (ts) => PAD.left + ((ts - from) / Math.max(1, to - from)) * plotW;
  const y = (v) => PAD.top + (1 - (v - lo) / (hi - lo)) * plotH;
  const ink = cssVar("--ink", "#1b1f24");
  const grid = cssVar("--grid", "#d0d5dc");
  ctx.font = "12px system-ui, sans-serif";

  ctx.strokeStyle = grid;
  ctx.fillStyle = ink;
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of ticks(lo, hi)) {
    ctx.beginPath();
    ctx.moveTo(PAD.left, y(v));
    ctx.lineTo(PAD.left + plotW, y(v));
    ctx.stroke();
    ctx.fillText(`${number(v, 1)}`, PAD.left - 6, y(v));
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (let i = 0; i <= 4; i += 1) {
    const ts = from + ((to - from) * i) / 4;
    ctx.fillText(timeLabel(ts), x(ts), PAD.top + plotH + 8);
  }
  if (unit) {
    ctx.textAlign = "left";
    ctx.fillText(unit, 4, 2);
  }

  for (const level of levels) {
    const color = cssVar(`--sev-${level.severity}`, "#6b7280");
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = 2;
    ctx.setLineDash([8, 5]);
    ctx.beginPath();
    ctx.moveTo(PAD.left, y(level.value));
    ctx.lineTo(PAD.left + plotW, y(level.value));
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    const text = `${level.label || level.name} ${number(level.value, 1)}`;
    ctx.fillText(text, PAD.left + plotW + 8, y(level.value));
  }

  const series = points.filter((p) => p.ts >= from && p.ts <= to).sort((a, b) => a.ts - b.ts);
  ctx.strokeStyle = cssVar("--accent", "#1d4ed8");
  ctx.fillStyle = ctx.strokeStyle;
  ctx.lineWidth = 2;
  ctx.beginPath();
  series.forEach((p, i) => (i ? ctx.lineTo(x(p.ts), y(p.value)) : ctx.moveTo(x(p.ts), y(p.value))));
  ctx.stroke();
  if (series.length < 60) {
    for (const p of series) {
      ctx.beginPath();
      ctx.arc(x(p.ts), y(p.value), 3, 0, Math.PI * 2);
      ctx.fill();
    }
  }
  return { points: series.length, levels: levels.length };
}
