// @ts-check
/**
 * The live connection: `/monitor` read as SSE over `fetch`, each call passed
 * to the charts and the recent calls, the numbers and the cache browser
 * refreshed after, reconnecting with a growing pause, and the state shown in
 * the header's pill.
 *
 * @module
 */
import { api, readSse } from "./api.js";
import { $, report } from "./dom.js";
import { onFirstPage, scheduleEntries } from "./entries_list.js";
import { loadHistory, takeCall } from "./history_charts.js";
import { HIT_KINDS } from "./series.js";
import { state } from "./state.js";
import { scheduleStats } from "./stats_panel.js";

let lastSeq = 0;

/**
 * Shows the connection's state in the header.
 *
 * @param {string} kind the pill's class: "live", "wait" or "down"
 * @param {string} text
 */
export function setConn(kind, text) {
  const c = $("conn");
  c.className = "pill " + kind;
  c.textContent = text;
}
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** @param {string} event @param {string} data */
function onSse(event, data) {
  let msg;
  try {
    msg = JSON.parse(data);
  } catch {
    return;
  }
  if (event === "connected") {
    if (state.server !== msg.startedAt) {
      if (state.server) loadHistory().catch(report); // the proxy restarted: its history is fresher
      state.server = msg.startedAt;
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
  takeCall(msg);
  scheduleStats(150);
  if (onFirstPage() && (HIT_KINDS.has(msg.kind) || msg.kind === "MISS")) scheduleEntries(700);
}

/** Reads `/monitor` for as long as the page is open, reconnecting when it drops. */
export async function monitor() {
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
