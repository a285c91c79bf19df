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
import { api, json, onTokenNeeded, readSse } from "./api.js";
import {
  $,
  badge,
  button,
  dialog,
  el,
  input,
  messageOf,
  report,
  select,
  setText,
  showBanner,
  throttled,
} from "./dom.js";
import { onInvalidated, openEntry } from "./entry.js";
import { drawPanels } from "./panels.js";
import { BIN_MS, HIT_KINDS, matches, rowOfCall, RowSet, SPAN_MS } from "./series.js";
import {
  clock,
  fmtBytes,
  fmtCompact,
  fmtDuration,
  fmtInt,
  fmtMs,
  fmtRel,
  fmtUsd,
  hhmm,
  pct,
  plural,
  shortModel,
  usageTitle,
  usageTotals,
} from "./text.js";

const MAX_CALLS = 100;
const PAGE = 50;

/** @typedef {import("./series.js").Range} Range */
/** @typedef {import("./series.js").Row} Row */
/** @typedef {import("./series.js").Filter} Filter */
/**
 * A call as `/monitor` sends it.
 *
 * @typedef {{ seq: number, time: string, kind: string, model: string | null, path: string,
 *   status: number, bytes: number, durationMs: number, usage: Record<string, number>,
 *   dollars: number, snippet: string, key: string | null, namespace?: string }} Call
 */

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
  // /stats counts a bypassed call as a miss, as v2 did; the page shows the cache's own misses.
  const hits = s.hits || 0, misses = (s.misses || 0) - (s.bypassed || 0), calls = s.calls || 0;
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
  const c = stats.store || {};
  setText("kEntries", fmtInt(c.entries));
  setText("kEntriesSub", fmtBytes(c.bytes) + " stored", fmtInt(c.bytes) + " bytes");
  $("offBanner").hidden = stats.cache !== "off";
  $("storeBanner").hidden = c.state !== "degraded";
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
 * What the charts show: stored rows plus live calls since, the last call the
 * proxy had counted (`seq` of the process `startedAt`), and the live calls
 * that arrived while a range was loading, to add to it.
 *
 * @type {{ rows: RowSet, bounds: (number | null)[], seq: number, startedAt: string,
 *   loaded: boolean, loading: number, during: Call[] }}
 */
const history = {
  rows: new RowSet(BIN_MS[range]),
  bounds: [],
  seq: 0,
  startedAt: "",
  loaded: false,
  loading: 0,
  during: [],
};
const known = {
  models: new Set(/** @type {string[]} */ ([])),
  namespaces: new Set(/** @type {string[]} */ ([])),
};
let historyGen = 0;

async function loadHistory() {
  const gen = ++historyGen;
  history.loading++;
  let view;
  try {
    view = await json("/stats/history?range=" + range);
  } finally {
    history.loading--;
  }
  if (gen !== historyGen) return;
  history.rows = new RowSet(BIN_MS[range]);
  for (const row of view.rows) {
    history.rows.add(row);
    rememberNames(row.model, row.namespace);
  }
  history.bounds = view.latencyBoundsMs;
  history.seq = view.seq;
  history.startedAt = view.startedAt;
  // Live calls that came while it loaded, and that it had not counted yet.
  for (const call of history.during.splice(0)) {
    if (!counted(call)) history.rows.add(rowOfCall(call, history.bounds, Date.parse(call.time)));
  }
  if (!history.loaded) {
    history.loaded = true;
    for (const call of view.recent) addCall(call, false);
    for (const call of early.splice(0)) onCall(call);
  }
  fillFilters();
  drawCharts();
}

/** Whether the history loaded counts this call already. @param {Call} call */
const counted = (call) => monitorServer === history.startedAt && call.seq <= history.seq;

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
  const binMs = BIN_MS[range];
  history.rows.dropBefore(Math.floor((Date.now() - SPAN_MS[range]) / binMs) * binMs);
  drawPanels({ rows: history.rows.list(), bounds: history.bounds }, filter, range);
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
  // Newest first, so the rows past the limit are the oldest (the placeholder row stays).
  [...tbody.querySelectorAll("tr:not(.placeholder)")].slice(MAX_CALLS).forEach((row) =>
    row.remove()
  );
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
  if (counted(call)) return;
  addCall(call, true);
  if (history.loading) history.during.push(call);
  history.rows.add(rowOfCall(call, history.bounds, Date.now()));
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

// ---------- start ----------
onInvalidated(() => {
  loadEntries().catch(report);
  scheduleStats(0);
});
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
