// @ts-check
/**
 * The recent calls table: the calls `/stats/history` and `/monitor` sent,
 * newest first, a row per call that opens its cache entry, hidden when the
 * filter leaves it out.
 *
 * @module
 */
import { $, badge, el, setText } from "./dom.js";
import { openEntry } from "./entry.js";
import { HIT_KINDS, matches } from "./series.js";
import { state } from "./state.js";
import { clock, fmtCompact, fmtMs, fmtUsd, shortModel, usageTitle, usageTotals } from "./text.js";

const MAX_CALLS = 100;
const WAITING = "Waiting for calls… Point a client at ANTHROPIC_BASE_URL=" + location.origin;

/**
 * A call as `/monitor` sends it.
 *
 * @typedef {{ seq: number, time: string, kind: string, model: string | null, path: string,
 *   status: number, bytes: number, durationMs: number, usage: Record<string, number>,
 *   dollars: number, snippet: string, key: string | null, namespace?: string }} Call
 */

/**
 * Puts a call on top of the table and drops the oldest past the limit.
 *
 * @param {Call} ev
 * @param {boolean} live flash the row
 */
export function addCall(ev, live) {
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
  tr.hidden = !matches(
    { kind: ev.kind, model: ev.model, namespace: ev.namespace ?? "" },
    state.filter,
  );
  tbody.prepend(tr);
  // Newest first, so the rows past the limit are the oldest (the placeholder row stays).
  [...tbody.querySelectorAll("tr:not(.placeholder)")].slice(MAX_CALLS).forEach((row) =>
    row.remove()
  );
  filterCalls();
}

/** Hides the calls the filter leaves out; says so when none is left. */
export function filterCalls() {
  const rows =
    /** @type {HTMLTableRowElement[]} */ ([...$("calls").querySelectorAll("tr:not(.placeholder)")]);
  let shown = 0;
  for (const tr of rows) {
    const d = tr.dataset;
    tr.hidden = !matches(
      { kind: d.kind ?? "", model: d.model ?? null, namespace: d.ns ?? "" },
      state.filter,
    );
    if (!tr.hidden) shown++;
  }
  const placeholder = /** @type {HTMLElement} */ ($("calls").querySelector(".placeholder"));
  placeholder.hidden = shown > 0;
  setText("callsEmpty", rows.length ? "No recent call matches the filter." : WAITING);
}

/** Tells, while no call came yet, where to point a client. */
export function showWaiting() {
  setText("callsEmpty", WAITING);
}
