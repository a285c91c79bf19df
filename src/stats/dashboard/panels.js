// @ts-check
/**
 * The dashboard's panels over time: calls (hits, misses, bypassed, errors),
 * hit rate, dollars saved, latency p50/p95 of hits and misses, errors, each
 * with its note, for the range and filter chosen.
 *
 * @module
 */
import { barChart, lineChart, timeLabel } from "./charts.js";
import { $, setText } from "./dom.js";
import { formatUsd } from "../../format_usd.js";
import { BIN_MS, binRows, percentile, SPAN_MS, sumHistograms } from "./series.js";
import { fmtCompact, fmtInt, fmtLatency, fmtUsd, pct, plural, shortModel } from "./text.js";

/** @typedef {import("./series.js").Row} Row */
/** @typedef {import("./series.js").Filter} Filter */
/** @typedef {import("./series.js").Range} Range */

/**
 * Draws every chart over the range, from the rows that pass the filter.
 *
 * @param {{ rows: readonly Row[], bounds: readonly (number | null)[] }} history the rows and
 *   the latency buckets' bounds of `GET /stats/history`, plus the live calls since
 * @param {Filter} filter
 * @param {Range} range
 */
export function drawPanels(history, filter, range) {
  const binMs = BIN_MS[range], to = Date.now();
  const bins = binRows(history.rows, filter, {
    from: to - SPAN_MS[range],
    to,
    binMs,
    buckets: history.bounds.length,
  });
  const starts = bins.map((b) => b.start);
  const when = (/** @type {number} */ i) => {
    const start = starts[i] ?? 0;
    return binMs < 3_600_000 && binMs > 60_000
      ? `${timeLabel(start, binMs)}–${timeLabel(start + binMs, binMs)}`
      : timeLabel(start, binMs);
  };
  const frame = { starts, binMs, format: fmtCompact, label: "" };
  const t = bins.reduce((a, b) => ({
    hits: a.hits + b.hits,
    misses: a.misses + b.misses,
    bypassed: a.bypassed + b.bypassed,
    errors: a.errors + b.errors,
    saved: a.saved + b.usdSaved,
  }), { hits: 0, misses: 0, bypassed: 0, errors: 0, saved: 0 });

  barChart($("chart"), {
    ...frame,
    label: "Calls per bin: hits, misses, bypassed and errors",
    empty: "No calls in this range",
  }, [
    { cls: "bh", label: "hits", values: bins.map((b) => b.hits) },
    { cls: "bm", label: "misses", values: bins.map((b) => b.misses) },
    { cls: "bb", label: "bypassed", values: bins.map((b) => b.bypassed) },
    { cls: "be", label: "errors", values: bins.map((b) => b.errors) },
  ], (i) => {
    const b = /** @type {import("./series.js").Bin} */ (bins[i]);
    return [
      when(i),
      plural(b.hits, "hit", "hits"),
      plural(b.misses, "miss", "misses"),
      b.bypassed ? plural(b.bypassed, "bypassed", "bypassed") : "",
      b.errors ? plural(b.errors, "error", "errors") : "",
    ]
      .filter(Boolean).join(" · ");
  });
  setText(
    "chartNote",
    `${plural(t.hits, "hit", "hits")} · ${plural(t.misses, "miss", "misses")}` +
      (t.bypassed ? ` · ${fmtInt(t.bypassed)} bypassed` : "") +
      (t.errors ? ` · ${plural(t.errors, "error", "errors")}` : ""),
  );

  const rates = bins.map((b) => b.hits + b.misses ? (100 * b.hits) / (b.hits + b.misses) : null);
  lineChart(
    $("rateChart"),
    {
      ...frame,
      format: (v) => `${Math.round(v)}%`,
      label: "Hit rate per bin",
      empty: "No hits or misses",
    },
    [{ cls: "lh", label: "hit rate", values: rates }],
    (i) => {
      const b = /** @type {import("./series.js").Bin} */ (bins[i]);
      return `${when(i)} · ${b.hits + b.misses ? pct(b.hits / (b.hits + b.misses)) : "no calls"}`;
    },
    { area: true, max: 100 },
  );
  setText(
    "rateNote",
    t.hits + t.misses ? pct(t.hits / (t.hits + t.misses)) + " over the range" : "",
  );

  let sum = 0;
  const cumulative = bins.map((b) => (sum += b.usdSaved));
  lineChart(
    $("savedChart"),
    {
      ...frame,
      format: (v) => formatUsd(v),
      label: "Dollars saved, cumulative",
      empty: "Nothing saved yet",
    },
    [{ cls: "lh", label: "saved", values: cumulative.map((v) => (sum ? v : null)) }],
    (i) => {
      const b = /** @type {import("./series.js").Bin} */ (bins[i]);
      return `${when(i)} · ${fmtUsd(b.usdSaved)} saved · ${fmtUsd(cumulative[i])} so far`;
    },
    { area: true },
  );
  setText("savedNote", sum ? fmtUsd(t.saved) + " over the range" : "");

  const bounds = history.bounds;
  const q = (/** @type {number[]} */ h, /** @type {number} */ p) => percentile(h, bounds, p);
  const allHits = sumHistograms(bins.map((b) => b.hitLatency));
  const allMisses = sumHistograms(bins.map((b) => b.missLatency));
  lineChart($("latChart"), {
    ...frame,
    format: fmtLatency,
    log: true,
    label: "Latency p50 and p95, hits and misses",
    empty: "No hits or misses",
  }, [
    { cls: "lh", label: "hits p50", values: bins.map((b) => q(b.hitLatency, 0.5)) },
    { cls: "lh", label: "hits p95", values: bins.map((b) => q(b.hitLatency, 0.95)), dashed: true },
    { cls: "lm", label: "misses p50", values: bins.map((b) => q(b.missLatency, 0.5)) },
    {
      cls: "lm",
      label: "misses p95",
      values: bins.map((b) => q(b.missLatency, 0.95)),
      dashed: true,
    },
  ], (i) => {
    const b = /** @type {import("./series.js").Bin} */ (bins[i]);
    const show = (/** @type {number | null} */ v) => v === null ? "–" : fmtLatency(v);
    return `${when(i)} · hits p50 ${show(q(b.hitLatency, 0.5))}, p95 ${
      show(q(b.hitLatency, 0.95))
    } · ` +
      `misses p50 ${show(q(b.missLatency, 0.5))}, p95 ${show(q(b.missLatency, 0.95))}`;
  });
  const p = (/** @type {number[]} */ h, /** @type {string} */ name) => {
    const v = q(h, 0.5);
    return v === null ? "" : `${name} p50 ${fmtLatency(v)}`;
  };
  const latency = [p(allHits, "hits"), p(allMisses, "misses")].filter(Boolean).join(" · ");
  setText("latNote", latency, latency);

  barChart($("errChart"), { ...frame, label: "Errors per bin", empty: "No errors" }, [{
    cls: "be",
    label: "errors",
    values: bins.map((b) => b.errors),
  }], (i) => {
    const b = /** @type {import("./series.js").Bin} */ (bins[i]);
    return `${when(i)} · ${plural(b.errors, "error", "errors")}`;
  });
  setText("errNote", t.errors ? plural(t.errors, "error", "errors") : "none");

  const active = [
    filter.kind && (filter.kind === "hits" ? "hits" : filter.kind),
    filter.model && shortModel(filter.model),
    filter.namespace && `namespace ${filter.namespace}`,
  ].filter(Boolean);
  setText(
    "filterNote",
    (active.length ? "only " + active.join(", ") + " · " : "") + `last ${range}`,
  );
}
