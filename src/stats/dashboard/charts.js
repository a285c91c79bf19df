// @ts-check
/**
 * The dashboard's SVG charts over time bins: stacked bars and lines (on a
 * linear or a log scale), with grid, time labels and a tooltip per bin.
 * Each draw replaces the chart's SVG, sized to its box.
 *
 * @module
 */

const SVG = "http://www.w3.org/2000/svg";
const MARGIN = { left: 44, right: 8, top: 8, bottom: 22 };

/**
 * One series: its CSS class, a value per bin (null: nothing to show) and its name.
 *
 * @typedef {{ cls: string, values: readonly (number | null)[], label: string, dashed?: boolean }} Series
 */

/**
 * What every chart needs besides its series.
 *
 * @typedef {object} Frame
 * @property {readonly number[]} starts each bin's start, ms since the epoch
 * @property {number} binMs a bin's length
 * @property {(v: number) => string} format a value as the axis and tooltip show it
 * @property {string} label what the chart shows, for screen readers
 * @property {string} [empty] shown across the chart when no bin has a value
 * @property {boolean} [log] a log scale (for latencies)
 */

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @returns {SVGElement}
 */
function svg(tag, attrs) {
  const e = /** @type {SVGElement} */ (document.createElementNS(SVG, tag));
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/**
 * @param {SVGElement} parent
 * @param {number} x
 * @param {number} y
 * @param {string} text
 * @param {string} anchor
 * @param {string} [cls]
 */
function label(parent, x, y, text, anchor, cls) {
  const t = svg("text", { x, y, "text-anchor": anchor, ...(cls ? { class: cls } : {}) });
  t.textContent = text;
  parent.append(t);
}

/**
 * @param {number} max
 * @returns {number} a round step that splits 0..max in about four
 */
function niceStep(max) {
  const raw = max / 4;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const f of [1, 2, 5, 10]) if (f * p >= raw) return f * p;
  return 10 * p;
}

/** @param {number} n @returns {string} */
const pad2 = (n) => String(n).padStart(2, "0");

/**
 * A bin's time as an axis label: the clock within a day, the date beyond.
 *
 * @param {number} t
 * @param {number} binMs
 * @returns {string}
 */
export function timeLabel(t, binMs) {
  const d = new Date(t);
  const clock = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  if (binMs < 3_600_000) return clock;
  const day = d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  return binMs < 86_400_000 && d.getHours() !== 0 ? `${day} ${clock}` : day;
}

/**
 * Draws the frame (grid, y labels, time labels, hover targets) and returns
 * what the series need to place themselves.
 *
 * @param {HTMLElement} box
 * @param {Frame} frame
 * @param {number} max the largest value shown
 * @param {number} min the smallest positive value (log scale)
 * @param {(i: number) => string} tip the tooltip text of bin i
 */
function drawFrame(box, frame, max, min, tip) {
  const W = Math.max(200, box.clientWidth), H = Math.max(100, box.clientHeight);
  const pw = W - MARGIN.left - MARGIN.right, ph = H - MARGIN.top - MARGIN.bottom;
  const root = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    width: W,
    height: H,
    role: "img",
    "aria-label": frame.label,
  });
  /** @type {number[]} */
  let ticks;
  /** @type {(v: number) => number} */
  let y;
  if (frame.log) {
    const lo = Math.floor(Math.log10(Math.max(min, 0.01)));
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(max, min, 0.01) * 1.0001)));
    ticks = [];
    for (let e = lo; e <= hi; e++) ticks.push(Math.pow(10, e));
    y = (v) => MARGIN.top + ph - ((Math.log10(v) - lo) / (hi - lo)) * ph;
  } else {
    const step = niceStep(Math.max(max, 1e-9) * 1.05);
    const top = Math.max(step * Math.ceil(max / step), step);
    ticks = [];
    for (let v = 0; v <= top + step / 1e6; v += step) ticks.push(v);
    y = (v) => MARGIN.top + ph - (v / top) * ph;
  }
  for (const v of ticks) {
    root.append(
      svg("line", { class: "gl", x1: MARGIN.left, x2: W - MARGIN.right, y1: y(v), y2: y(v) }),
    );
    label(root, MARGIN.left - 6, y(v) + 4, frame.format(v), "end");
  }
  const n = frame.starts.length;
  const slot = pw / Math.max(1, n);
  const room = frame.binMs >= 3_600_000 ? 100 : 64; // px a label needs: dates are longer
  const every = Math.max(1, Math.ceil(n / Math.max(2, Math.floor(pw / room))));
  frame.starts.forEach((start, i) => {
    if ((n - 1 - i) % every === 0 && (i * slot > 24 || i === n - 1)) {
      label(
        root,
        MARGIN.left + i * slot + slot / 2,
        H - 6,
        timeLabel(start, frame.binMs),
        "middle",
      );
    }
  });
  return { root, y, slot, ph, W, H, x: (/** @type {number} */ i) => MARGIN.left + i * slot, tip };
}

/**
 * Adds hover targets over each bin, then puts the SVG in the box.
 *
 * @param {HTMLElement} box
 * @param {ReturnType<typeof drawFrame>} f
 * @param {number} n bins
 * @param {boolean} empty no bin has a value
 * @param {Frame} frame
 */
function finish(box, f, n, empty, frame) {
  const tip = /** @type {HTMLElement} */ (document.getElementById("tip"));
  for (let i = 0; i < n; i++) {
    const hov = svg("rect", {
      class: "hov",
      x: f.x(i),
      y: MARGIN.top,
      width: f.slot,
      height: f.ph,
    });
    hov.addEventListener("mouseenter", () => {
      const r = hov.getBoundingClientRect();
      tip.textContent = f.tip(i);
      tip.style.left = `${Math.min(Math.max(r.left + r.width / 2, 90), innerWidth - 90)}px`;
      tip.style.top = `${r.top + 6}px`;
      tip.hidden = false;
    });
    hov.addEventListener("mouseleave", () => tip.hidden = true);
    f.root.append(hov);
  }
  if (empty && frame.empty) {
    label(
      f.root,
      MARGIN.left + (f.W - MARGIN.left - MARGIN.right) / 2,
      MARGIN.top + f.ph / 2,
      frame.empty,
      "middle",
      "nodata",
    );
  }
  const old = box.querySelector("svg");
  if (old) old.replaceWith(f.root);
  else box.prepend(f.root);
}

/**
 * Stacked bars, one stack per bin, series bottom up.
 *
 * @param {HTMLElement} box
 * @param {Frame} frame
 * @param {readonly Series[]} series
 * @param {(i: number) => string} tip
 */
export function barChart(box, frame, series, tip) {
  const n = frame.starts.length;
  const totals = frame.starts.map((_, i) => series.reduce((s, x) => s + (x.values[i] ?? 0), 0));
  const max = Math.max(0, ...totals);
  const f = drawFrame(box, frame, Math.max(max, 4), 1, tip);
  const bw = Math.max(1.5, Math.min(22, f.slot * 0.7));
  for (let i = 0; i < n; i++) {
    let base = 0;
    for (const s of series) {
      const v = s.values[i] ?? 0;
      if (!v) continue;
      const y0 = f.y(base), y1 = f.y(base + v);
      f.root.append(svg("rect", {
        class: s.cls,
        x: f.x(i) + (f.slot - bw) / 2,
        y: y1,
        width: bw,
        height: Math.max(1, y0 - y1),
        rx: Math.min(2, bw / 4),
      }));
      base += v;
    }
  }
  finish(box, f, n, max === 0, frame);
}

/**
 * Lines through each series' values; a gap where a value is null, a dot
 * where a value stands alone, so that it shows.
 *
 * @param {HTMLElement} box
 * @param {Frame} frame
 * @param {readonly Series[]} series
 * @param {(i: number) => string} tip
 * @param {{ area?: boolean, max?: number }} [options] `area`: fill under the first series
 */
export function lineChart(box, frame, series, tip, options = {}) {
  const n = frame.starts.length;
  const values = series.flatMap((s) => s.values.filter((v) => v !== null && v > 0));
  const all = /** @type {number[]} */ (values);
  const max = options.max ?? Math.max(0, ...all);
  const f = drawFrame(box, frame, max || 1, all.length ? Math.min(...all) : 1, tip);
  for (const s of series) {
    /** @type {string[]} */
    const runs = [];
    let run = "";
    s.values.forEach((v, i) => {
      if (v === null || (frame.log && v <= 0)) {
        if (run) runs.push(run);
        run = "";
        return;
      }
      const x = f.x(i) + f.slot / 2;
      run += `${run ? "L" : "M"}${x.toFixed(1)},${f.y(v).toFixed(1)}`;
      const alone = (s.values[i - 1] ?? null) === null && (s.values[i + 1] ?? null) === null;
      if (alone) {
        f.root.append(
          svg("circle", { class: `dot ${s.cls}`, cx: x, cy: f.y(v), r: s.dashed ? 1.8 : 2.6 }),
        );
      }
    });
    if (run) runs.push(run);
    for (const d of runs) {
      if (options.area && s === series[0] && d.includes("L")) {
        const first = d.slice(1, d.indexOf(","));
        const last = d.slice(d.lastIndexOf("L") + 1, d.lastIndexOf(","));
        const bottom = f.y(frame.log ? 1 : 0).toFixed(1);
        f.root.append(
          svg("path", { class: "area", d: `${d}L${last},${bottom}L${first},${bottom}Z` }),
        );
      }
      f.root.append(svg("path", { class: `line ${s.cls}${s.dashed ? " dash" : ""}`, d }));
    }
  }
  finish(box, f, n, all.length === 0, frame);
}
