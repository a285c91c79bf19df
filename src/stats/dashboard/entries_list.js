// @ts-check
/**
 * The cache browser: `/cache/entries` a page at a time, newest first or
 * matching a search, a row per entry that opens it.
 *
 * @module
 */
import { json } from "./api.js";
import { $, button, el, input, messageOf, report, setText, throttled } from "./dom.js";
import { openEntry } from "./entry.js";
import { fmtBytes, fmtInt, fmtRel, shortModel } from "./text.js";

const PAGE = 50;

let entriesOffset = 0, entriesQuery = "", entriesGen = 0;

/** Reloads the list once within the delay given (ms). */
export const scheduleEntries = throttled(() => loadEntries());

/** Whether the list shows its first page, where new entries appear. */
export const onFirstPage = () => entriesOffset === 0;

/** Loads the page of entries asked for and shows it (a newer load wins over an older one). */
export async function loadEntries() {
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
  for (const e of list) tbody.append(entryRow(e));
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

/** A row of the list, which opens the entry. @param {any} e an entry of `/cache/entries` */
function entryRow(e) {
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
  return tr;
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
