// @ts-check
/**
 * The charts over time and their filters: `/stats/history` for the range
 * chosen, continued with the live calls `/monitor` sends, drawn for the kind,
 * model and namespace chosen.
 *
 * @module
 */
import { json } from "./api.js";
import { $, el, report, select } from "./dom.js";
import { drawPanels } from "./panels.js";
import { BIN_MS, rowOfCall, RowSet, SPAN_MS } from "./series.js";
import { addCall, filterCalls } from "./recent_calls.js";
import { state } from "./state.js";
import { shortModel } from "./text.js";

/** @typedef {import("./series.js").Range} Range */
/** @typedef {import("./recent_calls.js").Call} Call */

/** @type {Range} */
let range = "1h";
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
let historyGen = 0;
/** Calls that arrived before the history did. @type {Call[]} */
const early = [];

/** Loads the range's history, then draws it (a newer load wins over an older one). */
export async function loadHistory() {
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
    for (const call of early.splice(0)) takeCall(call);
  }
  fillFilters();
  drawCharts();
}

/**
 * Adds a live call to the charts and the recent calls, unless the history
 * loaded counts it already; keeps it for later while none has loaded yet.
 *
 * @param {Call} call
 */
export function takeCall(call) {
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

/** Whether the history loaded counts this call already. @param {Call} call */
const counted = (call) => state.server === history.startedAt && call.seq <= history.seq;

/** @param {string | null} model @param {string | undefined} namespace */
function rememberNames(model, namespace) {
  state.known.models.add(model ?? "(none)");
  if (namespace) state.known.namespaces.add(namespace);
}

/** Keeps each filter's options in step with the names seen, and its choice. */
export function fillFilters() {
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
  const { known, filter } = state;
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
    state.filter[key] = select(id).value;
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
/** Draws the charts at the next frame, once however often it is asked. */
export function scheduleCharts() {
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
  drawPanels({ rows: history.rows.list(), bounds: history.bounds }, state.filter, range);
}
for (const id of ["chart", "rateChart", "savedChart", "latChart", "errChart"]) {
  new ResizeObserver(() => scheduleCharts()).observe($(id));
}
