// Two small SVG charts drawn by hand (no library, nothing fetched): a line over time and a
// predicted-vs-realized scatter. Values are parsed to numbers for drawing only.

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  return node;
}

function extent(values) {
  let lo = Math.min(...values), hi = Math.max(...values);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (lo === hi) { lo -= Math.abs(lo) * 0.1 || 1; hi += Math.abs(hi) * 0.1 || 1; }
  return [lo, hi];
}

function short(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  if (a >= 10) return v.toFixed(0);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

function frame(width, height, pad, label) {
  const root = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  root.append(svg("title", {}, label));
  root.append(svg("line", { class: "axis", x1: pad.l, y1: height - pad.b, x2: width - pad.r, y2: height - pad.b }));
  root.append(svg("line", { class: "axis", x1: pad.l, y1: pad.t, x2: pad.l, y2: height - pad.b }));
  return root;
}

function yTicks(root, [lo, hi], y, x0, x1) {
  for (let i = 0; i <= 3; i++) {
    const raw = lo + ((hi - lo) * i) / 3;
    const v = Math.abs(raw) < Math.abs(hi - lo) * 1e-9 ? 0 : raw; // 0, not 1.1e-16 from float steps
    root.append(svg("line", { class: "grid-line", x1: x0, x2: x1, y1: y(v), y2: y(v) }));
    root.append(svg("text", { x: x0 - 4, y: y(v) + 4, "text-anchor": "end" }, short(v)));
  }
}

/** points: [{t: ms since epoch, v: number}] -> an SVG line chart (a step line, as PnL changes on fills). */
export function lineChart(points, { label = "chart", width = 640, height = 180 } = {}) {
  const pad = { l: 52, r: 10, t: 10, b: 22 };
  const root = frame(width, height, pad, label);
  if (points.length < 2) {
    root.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle" }, "not enough data yet"));
    return root;
  }
  const [t0, t1] = extent(points.map((p) => p.t));
  const [v0, v1] = extent(points.map((p) => p.v).concat([0]));
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * (width - pad.l - pad.r);
  const y = (v) => height - pad.b - ((v - v0) / (v1 - v0)) * (height - pad.t - pad.b);
  yTicks(root, [v0, v1], y, pad.l, width - pad.r);
  let d = `M${x(points[0].t).toFixed(1)},${y(points[0].v).toFixed(1)}`;
  for (let i = 1; i < points.length; i++) {
    d += `H${x(points[i].t).toFixed(1)}V${y(points[i].v).toFixed(1)}`;
  }
  root.append(svg("path", { class: "line", d }));
  const hhmm = (t) => new Date(t).toTimeString().slice(0, 5);
  root.append(svg("text", { x: pad.l, y: height - 6 }, hhmm(t0)));
  root.append(svg("text", { x: width - pad.r, y: height - 6, "text-anchor": "end" }, hhmm(t1)));
  return root;
}

/** points: [{x: predicted, y: realized}] -> a square scatter with the y = x diagonal. */
export function scatter(points, { label = "scatter", size = 320, xLabel = "predicted", yLabel = "realized" } = {}) {
  const pad = { l: 52, r: 10, t: 10, b: 30 };
  const root = frame(size, size, pad, label);
  root.classList.add("square");
  if (!points.length) {
    root.append(svg("text", { x: size / 2, y: size / 2, "text-anchor": "middle" }, "no executions yet"));
    return root;
  }
  const [lo, hi] = extent(points.flatMap((p) => [p.x, p.y]).concat([0]));
  const x = (v) => pad.l + ((v - lo) / (hi - lo)) * (size - pad.l - pad.r);
  const y = (v) => size - pad.b - ((v - lo) / (hi - lo)) * (size - pad.t - pad.b);
  yTicks(root, [lo, hi], y, pad.l, size - pad.r);
  root.append(svg("line", { class: "diag", x1: x(lo), y1: y(lo), x2: x(hi), y2: y(hi) }));
  for (const p of points) {
    const dot = svg("circle", { class: p.y < p.x ? "dot neg" : "dot", cx: x(p.x).toFixed(1), cy: y(p.y).toFixed(1), r: 4 });
    dot.append(svg("title", {}, `predicted ${p.x}, realized ${p.y}`));
    root.append(dot);
  }
  root.append(svg("text", { x: size - pad.r, y: size - 6, "text-anchor": "end" }, `${xLabel} →`));
  root.append(svg("text", { x: pad.l, y: size - 6 }, `↑ ${yLabel}`));
  return root;
}
