// @ts-check
/**
 * The entry view: an entry's meta, why its request missed (as
 * `explore --why` says), its stored request and answer, and Invalidate,
 * which asks before it deletes.
 *
 * @module
 */
import { api, ApiError, json } from "./api.js";
import { $, button, dialog, el, messageOf, setText, toast } from "./dom.js";
import { fmtBytes, fmtDate, fmtInt, fmtRel, usageTotals } from "./text.js";

/** Told after an entry was invalidated. */
let invalidated = () => {};

/**
 * Sets what happens after an entry was invalidated (the page refreshes its lists).
 *
 * @param {() => void} then
 */
export function onInvalidated(then) {
  invalidated = then;
}

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
export async function openEntry(key, kind) {
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
  // An errored call had no entry to serve and stored none: nothing to ask for.
  if (kind === "ERROR") return showMissing(kind);
  let e;
  try {
    e = await json("/cache/entries/" + encodeURIComponent(key));
  } catch (err) {
    if (gen !== openGen) return;
    if (err instanceof ApiError && err.status === 404) return showMissing(kind);
    $("entryErr").textContent = "Could not load the entry: " + messageOf(err);
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

/**
 * Says why there is no entry to show.
 *
 * @param {string} kind how the call that named it was served, or ""
 */
function showMissing(kind) {
  $("entryErr").textContent = kind === "ERROR" || kind === "BYPASS"
    ? `A call served as ${kind} leaves no entry: only a complete answer of status 200 is stored.`
    : "This entry is no longer in the cache (expired, evicted or invalidated).";
  $("entryErr").hidden = false;
  setText("entryBody", "");
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
    invalidated();
  } catch (e) {
    $("entryErr").textContent = "Could not invalidate: " + messageOf(e);
    $("entryErr").hidden = false;
  } finally {
    btn.disabled = false;
  }
});
