// @ts-check
/**
 * The dashboard page's script: headline numbers from `/stats`, charts from
 * `/stats/history` continued live from `/monitor`, recent calls, filters by
 * range, kind, model and namespace, and the cache browser over
 * `/cache/entries` with an entry's request, why it missed, and Invalidate
 * (asked twice).
 *
 * @module
 */
import { api, ApiError, json, onTokenNeeded, readSse } from "./api.js";
import { barChart, lineChart, timeLabel } from "./charts.js";
import { formatUsd } from "./format_usd.js";
import {
  BIN_MS,
  binRows,
  HIT_KINDS,
  matches,
  percentile,
  rowOfCall,
  sumHistograms,
} from "./series.js";

const MAX_CALLS = 100;
const PAGE = 50;
const SPAN_MS = {
  "1h": 3_600_000,
  "6h": 21_600_000,
  "24h": 86_400_000,
  "7d": 604_800_000,
  "30d": 2_592_000_000,
};

/** @typedef {keyof typeof SPAN_MS} Range */
/** @typedef {import("./series.js").Row} Row */
/** @typedef {import("./series.js").Filter} Filter */
/**
 * A call as `/monitor` sends it.
 *
 * @typedef {{ seq: number, time: string, kind: string, model: string | null, path: string,
 *   status: number, bytes: number, durationMs: number, usage: Record<string, number>,
 *   dollars: number, snippet: string, key: string | null, namespace?: string }} Call
 */

/** @param {string} id @returns {HTMLElement} */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
/** @param {string} id @returns {HTMLInputElement} */
const input = (id) => /** @type {HTMLInputElement} */ ($(id));
/** @param {string} id @returns {HTMLSelectElement} */
const select = (id) => /** @type {HTMLSelectElement} */ ($(id));
/** @param {string} id @returns {HTMLButtonElement} */
const button = (id) => /** @type {HTMLButtonElement} */ ($(id));
/** @param {string} id @returns {HTMLDialogElement} */
const dialog = (id) => /** @type {HTMLDialogElement} */ ($(id));

// ---------- formatting ----------
const intFmt = new Intl.NumberFormat();
/** @param {unknown} n */
const fmtInt = (n) => intFmt.format(Math.round(Number(n) || 0));
/** @param {unknown} x */
function fmtCompact(x) {
  const n = Number(x) || 0, a = Math.abs(n);
  if (a < 1e4) return fmtInt(n);
  if (a < 1e6) return (n / 1e3).toFixed(a < 1e5 ? 1 : 0) + "k";
  if (a < 1e9) return (n / 1e6).toFixed(a < 1e7 ? 2 : 1) + "M";
  return (n / 1e9).toFixed(2) + "B";
}
/** @param {unknown} x */
const fmtUsd = (x) => formatUsd(Number(x) || 0);
/** @param {unknown} x */
function fmtBytes(x) {
  let b = Number(x) || 0;
  if (b < 1024) return b + " B";
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let i = -1;
  do {
    b /= 1024;
    i++;
  } while (b >= 1024 && i < units.length - 1);
  return (b < 10 ? b.toFixed(1) : Math.round(b)) + " " + units[i];
}
/** @param {number} s */
function fmtDuration(s) {
  const sec = Math.max(0, Math.floor(s || 0));
  const d = Math.floor(sec / 86400), h = Math.floor(sec % 86400 / 3600);
  const m = Math.floor(sec % 3600 / 60), r = sec % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${pad2(m)}m`;
  if (m) return `${m}m ${pad2(r)}s`;
  return `${r}s`;
}
/** @param {number} ms */
function fmtMs(ms) {
  if (ms < 10) return (Math.round(ms * 10) / 10).toFixed(1);
  if (ms < 10000) return fmtInt(ms);
  return (ms / 1000).toFixed(1) + " s";
}
/** An axis value in ms: `0.1 ms`, `10 ms`, `1 s`. @param {number} ms */
const fmtLatency = (ms) =>
  ms >= 1000 ? `${+(ms / 1000).toPrecision(3)} s` : `${+ms.toPrecision(3)} ms`;
/** @param {number} t */
function fmtRel(t) {
  if (!t) return "–";
  const d = (t - Date.now()) / 1000, a = Math.abs(d);
  if (a < 5) return "just now";
  const v = a < 60
    ? Math.round(a) + " s"
    : a < 3600
    ? Math.round(a / 60) + " min"
    : a < 172800
    ? Math.round(a / 3600) + " h"
    : Math.round(a / 86400) + " d";
  return d < 0 ? v + " ago" : "in " + v;
}
/** @param {number} n @param {string} one @param {string} many */
const plural = (n, one, many) => fmtInt(n) + " " + (n === 1 ? one : many);
/** @param {number} n */
const pad2 = (n) => String(n).padStart(2, "0");
/** @param {Date} d */
const clock = (d) => `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
/** @param {Date} d */
const hhmm = (d) => `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
/** @param {number} x a fraction */
const pct = (x) =>
  (x * 100 >= 99.95 || x === 0 ? (x * 100).toFixed(0) : (x * 100).toFixed(1)) + "%";
/** @param {number} t */
function fmtDate(t) {
  if (!t) return "–";
  const d = new Date(t);
  return `${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ${clock(d)} (${
    fmtRel(t)
  })`;
}
/** @param {Record<string, number> | undefined} u */
function usageTotals(u = {}) {
  const input = (u.input_tokens || 0) + (u.cache_creation_input_tokens || 0) +
    (u.cache_read_input_tokens || 0);
  return { input, output: u.output_tokens || 0 };
}
/** @param {Record<string, number> | undefined} u */
function usageTitle(u = {}) {
  return `input ${fmtInt(u.input_tokens)} · cache write ${
    fmtInt(u.cache_creation_input_tokens)
  } · ` +
    `cache read ${fmtInt(u.cache_read_input_tokens)} · output ${fmtInt(u.output_tokens)}`;
}

/**
 * A DOM element: el("td", { class: "n", title: "…" }, child or text…).
 *
 * @param {string} tag
 * @param {Record<string, unknown> | null} [attrs]
 * @param {...(Node | string | null | undefined)} kids
 * @returns {HTMLElement}
 */
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = String(v);
    else if (k === "text") e.textContent = String(v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
  return e;
}
/** "claude-sonnet-4-5-20250929" → "sonnet-4-5"; the full name goes in a title. @param {string} m */
const shortModel = (m) => String(m).replace(/^claude-/, "").replace(/-\d{8}$/, "");
/** @param {string} kind */
const badge = (kind) =>
  el("span", { class: "badge k-" + String(kind).replace(/[^A-Z-]/g, ""), text: kind });
/** @param {string} id @param {string} text @param {string} [title] */
function setText(id, text, title) {
  const e = $(id);
  e.textContent = text;
  if (title !== undefined) e.title = title;
}

/** @type {ReturnType<typeof setTimeout> | undefined} */ let toastTimer;
/** @param {string} msg */
function toast(msg) {
  const t = $("toast");
  t.textContent = msg;
  t.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove("show"), 2600);
}
/** @param {string} msg */
function showBanner(msg) {
  const b = $("banner");
  b.textContent = msg;
  b.hidden = !msg;
}
/** @param {unknown} e */
const messageOf = (e) => e instanceof Error ? e.message : String(e);
/** @param {unknown} e */
const report = (e) => showBanner(messageOf(e));

// ---------- the token form ----------
onTokenNeeded((refused) =>
  new Promise((resolve) => {
    const dlg = dialog("auth"),
      field = input("authToken"),
      err = $("authErr"),
      form = $("authForm");
    err.textContent = refused ? "That token was not accepted. Try again." : "";
    err.hidden = !refused;
    field.value = "";
    const conn = $("conn"), before = [conn.className.replace("pill ", ""), conn.textContent ?? ""];
    setConn("down", "Locked");
    /** @param {Event} ev */
    const onSubmit = (ev) => {
      ev.preventDefault();
      const value = field.value.trim();
      if (!value) return;
      form.removeEventListener("submit", onSubmit);
      dlg.close();
      if (conn.textContent === "Locked") setConn(before[0] ?? "wait", before[1] ?? "");
      resolve(value);
    };
    form.addEventListener("submit", onSubmit);
    if (!dlg.open) dlg.showModal();
    field.focus();
  })
);
$("auth").addEventListener("cancel", (ev) => ev.preventDefault());

// ---------- headline numbers ----------
/** @type {any} */
let stats = null;
let statsAt = 0;
let scope = "all";
let statsBusy = false, statsAgain = false;

const scheduleStats = throttled(() => refreshStats());
async function refreshStats() {
  if (statsBusy) {
    statsAgain = true;
    return;
  }
  statsBusy = true;
  try {
    stats = await json("/stats");
    statsAt = Date.now();
    showBanner("");
    renderStats();
  } catch (e) {
    showBanner("Could not load /stats: " + messageOf(e));
  } finally {
    statsBusy = false;
    if (statsAgain) {
      statsAgain = false;
      scheduleStats(100);
    }
  }
}

function renderStats() {
  if (!stats) return;
  const s = scope === "session" && stats.session ? stats.session : stats;
  const hits = s.hits || 0, misses = s.misses || 0, calls = s.calls || 0;
  const rate = hits + misses ? hits / (hits + misses) : 0;
  setText("kHitRate", hits + misses ? pct(rate) : "–");
  $("kHitBar").style.width = (hits + misses ? rate * 100 : 0) + "%";
  $("kMissBar").style.width = (hits + misses ? (1 - rate) * 100 : 0) + "%";
  setText(
    "kHitSub",
    plural(hits, "hit", "hits") + " · " + plural(misses, "miss", "misses"),
    `${fmtInt(calls)} calls: ${fmtInt(hits)} hits, ${fmtInt(misses)} misses, ${
      fmtInt(s.errors)
    } errors, ` +
      `${fmtInt(s.bypassed)} bypassed`,
  );
  setText("kTokSaved", fmtCompact(s.tokensSaved), fmtInt(s.tokensSaved) + " tokens");
  setText("kTokSub", fmtCompact(s.tokensSpent) + " spent", fmtInt(s.tokensSpent) + " tokens spent");
  setText("kUsdSaved", fmtUsd(s.usdSaved), "$" + (Number(s.usdSaved) || 0).toFixed(6));
  setText(
    "kUsdSavedSub",
    Math.round(Number(s.savingsPct) || 0) + "% of total cost",
    "Saved over saved plus spent: what the calls would have cost without the cache",
  );
  setText("kUsdSpent", fmtUsd(s.usdSpent), "$" + (Number(s.usdSpent) || 0).toFixed(6));
  setText("kUsdSpentSub", "on " + plural(misses, "upstream call", "upstream calls"));
  const c = stats.cache || {};
  setText("kEntries", fmtInt(c.entries));
  setText("kEntriesSub", fmtBytes(c.bytes) + " stored", fmtInt(c.bytes) + " bytes");
  $("offBanner").hidden = !c.off;
  $("storeBanner").hidden = c.store !== "degraded";
  renderUptime();
  renderModels(s.models || {});
  for (const name of Object.keys(s.models || {})) known.models.add(name);
  fillFilters();
  document.title = (hits + misses ? pct(rate) + " hits · " : "") + "llm-cache-proxy";
}
function renderUptime() {
  if (!stats) return;
  setText("kUptime", fmtDuration((stats.uptimeSec || 0) + (Date.now() - statsAt) / 1000));
  if (stats.startedAt) {
    const d = new Date(stats.startedAt);
    const day = d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
    setText("kUptimeSub", `since ${day} ${hhmm(d)}`, d.toString());
  }
}
/** @param {Record<string, any>} models */
function renderModels(models) {
  const tbody = $("models");
  const rows = Object.entries(models).sort((a, b) => (b[1].calls || 0) - (a[1].calls || 0));
  tbody.replaceChildren();
  if (!rows.length) {
    tbody.append(el("tr", null, el("td", { colspan: 5, class: "empty", text: "No calls yet" })));
  }
  for (const [name, m] of rows) {
    const decided = (m.hits || 0) + (m.misses || 0);
    const r = decided ? (m.hits || 0) / decided : 0;
    const bar = el("span");
    bar.style.width = r * 100 + "%";
    tbody.append(el(
      "tr",
      null,
      el("td", { class: "mono", text: shortModel(name), title: name }),
      el("td", { class: "n", text: fmtInt(m.calls) }),
      el("td", { class: "n" }, decided ? pct(r) : "–", el("span", { class: "mini" }, bar)),
      el("td", { class: "n saved", text: fmtUsd(m.usdSaved) }),
      el("td", { class: "n opt", text: fmtUsd(m.usdSpent) }),
    ));
  }
  setText("modelsNote", scope === "session" ? "this session" : "all time");
}
for (const b of document.querySelectorAll("#scope button")) {
  b.addEventListener("click", () => {
    scope = /** @type {HTMLElement} */ (b).dataset.scope ?? "all";
    for (const o of document.querySelectorAll("#scope button")) {
      o.setAttribute("aria-pressed", String(o === b));
    }
    renderStats();
  });
}

// ---------- history and filters ----------
/** @type {Range} */
let range = "1h";
/** @type {Filter} */
const filter = { kind: "", model: "", namespace: "" };
/**
 * What the charts show: stored rows plus live calls since, and what the proxy had counted.
 *
 * @type {{ rows: Row[], bounds: (number | null)[], seq: number, startedAt: string, loaded: boolean }}
 */
const history = { rows: [], bounds: [], seq: 0, startedAt: "", loaded: false };
const known = {
  models: new Set(/** @type {string[]} */ ([])),
  namespaces: new Set(/** @type {string[]} */ ([])),
};
let historyGen = 0;

async function loadHistory() {
  const gen = ++historyGen;
  const view = await json("/stats/history?range=" + range);
  if (gen !== historyGen) return;
  history.rows = view.rows;
  history.bounds = view.latencyBoundsMs;
  history.seq = view.seq;
  history.startedAt = view.startedAt;
  for (const row of history.rows) rememberNames(row.model, row.namespace);
  if (!history.loaded) {
    history.loaded = true;
    for (const call of view.recent) addCall(call, false);
    for (const call of early.splice(0)) onCall(call);
  }
  fillFilters();
  drawCharts();
}

/** @param {string | null} model @param {string | undefined} namespace */
function rememberNames(model, namespace) {
  known.models.add(model ?? "(none)");
  if (namespace) known.namespaces.add(namespace);
}

/** Keeps each filter's options in step with the names seen, and its choice. */
function fillFilters() {
  /** @param {HTMLSelectElement} box @param {Set<string>} names @param {(n: string) => string} show */
  const fill = (box, names, show) => {
    const have = [...box.options].slice(1).map((o) => o.value);
    const want = [...names].sort();
    if (have.join("\n") === want.join("\n")) return;
    const chosen = box.value;
    box.replaceChildren(
      /** @type {HTMLOptionElement} */ (box.options[0]),
      ...want.map((n) => el("option", { value: n, text: show(n) })),
    );
    box.value = want.includes(chosen) ? chosen : "";
  };
  fill(select("fModel"), known.models, (n) => n === "(none)" ? "(no model)" : shortModel(n));
  fill(select("fNs"), known.namespaces, (n) => n);
  $("fNs").parentElement?.toggleAttribute(
    "hidden",
    known.namespaces.size === 0 && !filter.namespace,
  );
}

for (
  const [id, key]
    of /** @type {const} */ ([["fKind", "kind"], ["fModel", "model"], ["fNs", "namespace"]])
) {
  select(id).addEventListener("change", () => {
    filter[key] = select(id).value;
    drawCharts();
    filterCalls();
  });
}
for (const b of document.querySelectorAll("#range button")) {
  b.addEventListener("click", () => {
    range = /** @type {Range} */ (/** @type {HTMLElement} */ (b).dataset.range ?? "1h");
    for (const o of document.querySelectorAll("#range button")) {
      o.setAttribute("aria-pressed", String(o === b));
    }
    loadHistory().catch(report);
  });
}

let chartQueued = false;
function scheduleCharts() {
  if (chartQueued) return;
  chartQueued = true;
  requestAnimationFrame(() => {
    chartQueued = false;
    drawCharts();
  });
}

function drawCharts() {
  if (!history.loaded) return;
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
  setText("latNote", [p(allHits, "hits"), p(allMisses, "misses")].filter(Boolean).join(" · "));

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
for (const id of ["chart", "rateChart", "savedChart", "latChart", "errChart"]) {
  new ResizeObserver(() => scheduleCharts()).observe($(id));
}

// ---------- recent calls ----------
/**
 * @param {Call} ev
 * @param {boolean} live flash the row
 */
function addCall(ev, live) {
  const tbody = $("calls");
  const t = new Date(ev.time);
  const tok = usageTotals(ev.usage);
  const hit = HIT_KINDS.has(ev.kind);
  const status = Number(ev.status) || 0;
  const tr = el(
    "tr",
    {
      class: (live ? "new" : "") + (ev.key ? " click" : ""),
      tabindex: ev.key ? 0 : null,
      title: ev.key ? "Open cache entry " + ev.key : null,
      "data-kind": ev.kind,
      "data-model": ev.model ?? "(none)",
      "data-ns": ev.namespace ?? "",
    },
    el("td", { class: "mono", text: isNaN(t.getTime()) ? "" : clock(t), title: ev.time }),
    el("td", null, badge(ev.kind)),
    el("td", {
      class: "mono",
      text: ev.model ? shortModel(ev.model) : ev.path,
      title: (ev.model || "") + " " + ev.path,
    }),
    el("td", { class: "n opt" + (status >= 400 ? " bad" : ""), text: status || "–" }),
    el("td", {
      class: "n opt",
      text: tok.input + tok.output ? fmtCompact(tok.input) + " + " + fmtCompact(tok.output) : "–",
      title: usageTitle(ev.usage),
    }),
    el("td", {
      class: "n" + (hit && ev.dollars ? " saved" : ""),
      text: ev.dollars ? fmtUsd(ev.dollars) : "–",
      title: ev.dollars ? (hit ? "saved" : "spent") : null,
    }),
    el("td", { class: "n", text: fmtMs(ev.durationMs) }),
    el("td", { class: "snip opt", text: ev.snippet || "", title: ev.snippet || "" }),
  );
  const key = ev.key;
  if (key) {
    tr.addEventListener("click", () => openEntry(key, ev.kind));
    tr.addEventListener("keydown", (k) => {
      if (k.key === "Enter") openEntry(key, ev.kind);
    });
  }
  tr.addEventListener("animationend", () => tr.classList.remove("new"), { once: true });
  tr.hidden = !matches({ kind: ev.kind, model: ev.model, namespace: ev.namespace ?? "" }, filter);
  tbody.prepend(tr);
  while (tbody.querySelectorAll("tr:not(.placeholder)").length > MAX_CALLS) {
    tbody.querySelector("tr:not(.placeholder):last-of-type")?.remove();
  }
  filterCalls();
}

/** Hides the calls the filter leaves out; says so when none is left. */
function filterCalls() {
  const rows =
    /** @type {HTMLTableRowElement[]} */ ([...$("calls").querySelectorAll("tr:not(.placeholder)")]);
  let shown = 0;
  for (const tr of rows) {
    const d = tr.dataset;
    tr.hidden = !matches(
      { kind: d.kind ?? "", model: d.model ?? null, namespace: d.ns ?? "" },
      filter,
    );
    if (!tr.hidden) shown++;
  }
  const placeholder = /** @type {HTMLElement} */ ($("calls").querySelector(".placeholder"));
  placeholder.hidden = shown > 0;
  setText("callsEmpty", rows.length ? "No recent call matches the filter." : waitingText);
}
let waitingText = "Waiting for calls…";

// ---------- monitor: SSE over fetch ----------
let monitorServer = "";
let lastSeq = 0;
/** Calls that arrived before the history did. @type {Call[]} */
const early = [];
/** @param {string} state @param {string} text */
function setConn(state, text) {
  const c = $("conn");
  c.className = "pill " + state;
  c.textContent = text;
}
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** @param {Call} call */
function onCall(call) {
  if (!history.loaded) {
    early.push(call);
    return;
  }
  // The history already counted the calls up to its `seq` (of the same process).
  if (monitorServer === history.startedAt && call.seq <= history.seq) return;
  addCall(call, true);
  history.rows.push(rowOfCall(call, history.bounds, Date.now()));
  rememberNames(call.model, call.namespace);
  fillFilters();
  scheduleCharts();
}

/** @param {string} event @param {string} data */
function onSse(event, data) {
  let msg;
  try {
    msg = JSON.parse(data);
  } catch {
    return;
  }
  if (event === "connected") {
    if (monitorServer !== msg.startedAt) {
      if (monitorServer) loadHistory().catch(report); // the proxy restarted: its history is fresher
      monitorServer = msg.startedAt;
      lastSeq = 0;
    }
    scheduleStats(0);
    return;
  }
  if (event !== "call" || !msg || typeof msg !== "object") return;
  if (typeof msg.seq === "number") {
    if (msg.seq <= lastSeq) return;
    lastSeq = msg.seq;
  }
  onCall(msg);
  scheduleStats(150);
  if (entriesOffset === 0 && (HIT_KINDS.has(msg.kind) || msg.kind === "MISS")) scheduleEntries(700);
}

async function monitor() {
  let delay = 1000;
  for (;;) {
    const ctl = new AbortController();
    /** @type {ReturnType<typeof setTimeout> | undefined} */ let watchdog;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => ctl.abort(), 75000);
    };
    try {
      setConn("wait", "Connecting");
      const res = await api("/monitor", {
        headers: { accept: "text/event-stream" },
        signal: ctl.signal,
      });
      if (!res.ok || !res.body) {
        await res.body?.cancel().catch(() => {});
        throw new Error("/monitor answered " + res.status);
      }
      setConn("live", "Live");
      delay = 1000;
      arm();
      await readSse(res.body, onSse, arm);
    } catch {
      // dropped, refused or timed out: retry below
    } finally {
      clearTimeout(watchdog);
    }
    if (ctl.signal.aborted) continue; // silent stream: reconnect at once
    for (let left = Math.round(delay / 1000); left > 0; left--) {
      setConn("down", `Reconnecting in ${left} s`);
      await sleep(1000);
    }
    delay = Math.min(delay * 2, 30000);
  }
}

// ---------- cache browser ----------
let entriesOffset = 0, entriesQuery = "", entriesGen = 0;
const scheduleEntries = throttled(() => loadEntries());
async function loadEntries() {
  const gen = ++entriesGen;
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(entriesOffset) });
  if (entriesQuery) params.set("q", entriesQuery);
  const tbody = $("entries");
  let body;
  try {
    body = await json("/cache/entries?" + params);
  } catch (e) {
    if (gen !== entriesGen) return;
    tbody.replaceChildren(
      el(
        "tr",
        null,
        el("td", { colspan: 8, class: "empty", text: "Could not list entries: " + messageOf(e) }),
      ),
    );
    return;
  }
  if (gen !== entriesGen) return;
  /** @type {any[]} */
  const list = Array.isArray(body?.entries) ? body.entries : [];
  tbody.replaceChildren();
  if (!list.length) {
    const text = entriesOffset
      ? "No more entries."
      : entriesQuery
      ? `No entry matches “${entriesQuery}”.`
      : "The cache is empty.";
    tbody.append(el("tr", null, el("td", { colspan: 8, class: "empty", text })));
  }
  for (const e of list) {
    const tr = el(
      "tr",
      { class: "click", tabindex: 0, "data-key": e.key, title: "Open " + e.key },
      el("td", { class: "mono", text: String(e.key).slice(0, 12) }),
      el("td", { class: "mono", text: e.model ? shortModel(e.model) : "–", title: e.model || "" }),
      el("td", { class: "snip opt", text: e.snippet || "", title: e.snippet || "" }),
      el("td", { class: "n opt", text: fmtBytes(e.size), title: fmtInt(e.size) + " bytes" }),
      el("td", { class: "n", text: fmtInt(e.hitCount) }),
      el("td", {
        class: "n opt",
        text: fmtRel(e.createdAt),
        title: new Date(e.createdAt).toString(),
      }),
      el("td", {
        class: "n opt",
        text: e.hitCount ? fmtRel(e.lastHitAt) : "never",
        title: e.lastHitAt ? new Date(e.lastHitAt).toString() : "",
      }),
      el("td", {
        class: "n opt",
        text: fmtRel(e.expiresAt),
        title: new Date(e.expiresAt).toString(),
      }),
    );
    tr.addEventListener("click", () => openEntry(e.key, ""));
    tr.addEventListener("keydown", (k) => {
      if (k.key === "Enter") openEntry(e.key, "");
    });
    tbody.append(tr);
  }
  setText(
    "pageInfo",
    list.length
      ? `Showing ${fmtInt(entriesOffset + 1)}–${fmtInt(entriesOffset + list.length)}`
      : "",
  );
  button("prev").disabled = entriesOffset === 0;
  button("next").disabled = list.length < PAGE;
  setText("cacheNote", entriesQuery ? `matching “${entriesQuery}”` : "newest first");
}
/** @type {ReturnType<typeof setTimeout> | undefined} */ let searchTimer;
$("q").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    entriesQuery = input("q").value.trim();
    entriesOffset = 0;
    loadEntries().catch(report);
  }, 250);
});
$("reload").addEventListener("click", () => loadEntries().catch(report));
$("prev").addEventListener("click", () => {
  entriesOffset = Math.max(0, entriesOffset - PAGE);
  loadEntries().catch(report);
});
$("next").addEventListener("click", () => {
  entriesOffset += PAGE;
  loadEntries().catch(report);
});

// ---------- entry details ----------
/** @type {string | null} */
let openKey = null;
let openGen = 0;

/** @param {string} text a stored body's head @param {number} total its full size */
function pretty(text, total) {
  if (text && new TextEncoder().encode(text).length >= total) {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch { /* SSE or not JSON */ }
  }
  return text;
}

/**
 * Shows an entry: its meta, why it missed, its request and its answer.
 *
 * @param {string} key a key or its 12-digit prefix
 * @param {string} kind how the call that named it was served, when opened from a call
 */
async function openEntry(key, kind) {
  const gen = ++openGen;
  openKey = null;
  const dlg = dialog("entry");
  $("entryErr").hidden = true;
  $("entryMeta").replaceChildren();
  $("why").hidden = true;
  $("requestBox").hidden = true;
  setText("entryKeyShort", String(key).slice(0, 12));
  setText("entryBody", "Loading…");
  setText("entryBodyNote", "");
  showConfirm(false);
  button("invalidate").disabled = true;
  if (!dlg.open) dlg.showModal();
  if (kind === "ERROR" || kind === "BYPASS") {
    $("entryErr").textContent =
      `A call served as ${kind} leaves no entry: only a complete answer of status 200 is stored.`;
    $("entryErr").hidden = false;
    setText("entryBody", "");
    return;
  }
  let e;
  try {
    e = await json("/cache/entries/" + encodeURIComponent(key));
  } catch (err) {
    if (gen !== openGen) return;
    const gone = err instanceof ApiError && err.status === 404;
    $("entryErr").textContent = gone
      ? "This entry is no longer in the cache (expired, evicted or invalidated)."
      : "Could not load the entry: " + messageOf(err);
    $("entryErr").hidden = false;
    setText("entryBody", "");
    return;
  }
  if (gen !== openGen) return;
  openKey = e.key;
  setText("entryKeyShort", String(e.key).slice(0, 12));
  const tok = usageTotals(e.usage);
  /** @type {[string, string | Node][]} */
  const meta = [
    ["Key", el("span", { class: "mono", text: e.key })],
    ["Model", e.model || "–"],
    ["Namespace", e.namespace || "(default)"],
    ["Status · type", `${e.status || "–"} · ${e.contentType || "–"}`],
    ["Size", `${fmtBytes(e.size)} (${fmtInt(e.size)} bytes)`],
    ["Hits", fmtInt(e.hitCount)],
    ["Tokens", `${fmtInt(tok.input)} in · ${fmtInt(tok.output)} out`],
    ["Created", fmtDate(e.createdAt)],
    ["Last hit", e.hitCount ? fmtDate(e.lastHitAt) : "never"],
    ["Expires", fmtDate(e.expiresAt)],
  ];
  $("entryMeta").replaceChildren(
    ...meta.map(([k, v]) => el("div", null, el("dt", { text: k }), el("dd", null, v))),
  );
  if (typeof e.requestHead === "string") {
    setText("entryRequest", pretty(e.requestHead, e.requestBytes));
    setText(
      "entryRequestNote",
      e.requestBytes > new TextEncoder().encode(e.requestHead).length
        ? `first ${fmtBytes(new TextEncoder().encode(e.requestHead).length)} of ${
          fmtBytes(e.requestBytes)
        }`
        : fmtBytes(e.requestBytes),
    );
    $("requestBox").hidden = false;
  }
  const body = typeof e.bodyHead === "string" ? e.bodyHead : "";
  const shown = new TextEncoder().encode(body).length;
  setText("entryBody", pretty(body, e.bodyBytes) || "(empty)");
  setText(
    "entryBodyNote",
    e.bodyBytes > shown
      ? `first ${fmtBytes(shown)} of ${fmtBytes(e.bodyBytes)}`
      : fmtBytes(e.bodyBytes),
  );
  button("invalidate").disabled = false;
  showWhy(e.key, gen).catch(() => {});
}

/** Why the entry's request missed, under its meta. @param {string} key @param {number} gen */
async function showWhy(key, gen) {
  const why = await json(`/cache/entries/${encodeURIComponent(key)}/why`);
  if (gen !== openGen) return;
  const list = $("whyDiff");
  list.replaceChildren();
  if (!why.requestKept) {
    setText(
      "whyReason",
      "This entry was stored without its request, so its miss cannot be explained.",
    );
    setText("whyNote", "");
  } else if (!why.nearest) {
    setText(
      "whyReason",
      "Nothing like it was stored before: no other request of the same route, model and namespace.",
    );
    setText("whyNote", "");
  } else {
    setText("whyReason", why.reason);
    setText(
      "whyNote",
      `nearest: ${String(why.nearest.key).slice(0, 12)}, ${fmtRel(why.nearest.createdAt)}`,
    );
    for (const d of why.diff.slice(0, 50)) {
      const mark = { added: "+", removed: "−", changed: "~" }[/** @type {"added"} */ (d.kind)] ??
        "~";
      list.append(el(
        "li",
        null,
        el("span", { class: "path", text: `${mark} ${d.path}` }),
        d.before === null ? null : el("span", { class: "before", text: "− " + d.before }),
        d.after === null ? null : el("span", { class: "after", text: "+ " + d.after }),
      ));
    }
    if (why.diff.length > 50) {
      list.append(el("li", { class: "muted", text: `… ${fmtInt(why.diff.length - 50)} more` }));
    }
  }
  $("why").hidden = false;
}

/** @param {boolean} on */
function showConfirm(on) {
  $("confirmBar").hidden = !on;
  $("invalidate").hidden = on;
  setText(
    "invalidateNote",
    on
      ? "Remove this answer? The next identical call goes upstream."
      : "Invalidating removes the stored answer: the next identical call goes upstream.",
  );
  if (on) button("confirmInvalidate").focus();
}
$("entryClose").addEventListener("click", () => dialog("entry").close());
$("entry").addEventListener("click", (ev) => {
  if (ev.target === $("entry")) dialog("entry").close();
});
$("entry").addEventListener("close", () => {
  openGen++;
  openKey = null;
});
$("invalidate").addEventListener("click", () => showConfirm(true));
$("cancelInvalidate").addEventListener("click", () => {
  showConfirm(false);
  button("invalidate").focus();
});
$("confirmInvalidate").addEventListener("click", async () => {
  const key = openKey;
  if (!key) return;
  const btn = button("confirmInvalidate");
  btn.disabled = true;
  try {
    const res = await api("/cache/entries/" + encodeURIComponent(key), { method: "DELETE" });
    await res.body?.cancel().catch(() => {});
    if (!res.ok && res.status !== 404) throw new Error("HTTP " + res.status);
    dialog("entry").close();
    toast(
      res.ok
        ? `Invalidated ${key.slice(0, 12)}: the next identical call goes upstream.`
        : "That entry was already gone.",
    );
    loadEntries().catch(report);
    scheduleStats(0);
  } catch (e) {
    $("entryErr").textContent = "Could not invalidate: " + messageOf(e);
    $("entryErr").hidden = false;
  } finally {
    btn.disabled = false;
  }
});

/**
 * Wraps an async job so that schedule(ms) runs it once within ms: a pending run is kept (or
 * brought forward), never pushed back, so a steady stream of events cannot starve it.
 *
 * @param {() => Promise<void>} job
 * @returns {(delay: number) => void}
 */
function throttled(job) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */ let timer;
  let due = Infinity;
  return (delay) => {
    const at = Date.now() + delay;
    if (at >= due) return;
    clearTimeout(timer);
    due = at;
    timer = setTimeout(() => {
      due = Infinity;
      job().catch(report);
    }, delay);
  };
}

// ---------- start ----------
setText("host", location.host);
waitingText = "Waiting for calls… Point a client at ANTHROPIC_BASE_URL=" + location.origin;
setText("callsEmpty", waitingText);
fillFilters();
refreshStats().catch(report);
loadHistory().catch(report);
loadEntries().catch(report);
monitor().catch(report);
setInterval(() => refreshStats().catch(report), 5000);
setInterval(renderUptime, 1000);
setInterval(scheduleCharts, 15000);
