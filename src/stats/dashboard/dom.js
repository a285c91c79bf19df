// @ts-check
/**
 * The page's DOM helpers: elements by id (typed), building elements, text,
 * the toast and the error banner, and a throttle for refreshes.
 *
 * @module
 */

/** @param {string} id @returns {HTMLElement} */
export const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
/** @param {string} id @returns {HTMLInputElement} */
export const input = (id) => /** @type {HTMLInputElement} */ ($(id));
/** @param {string} id @returns {HTMLSelectElement} */
export const select = (id) => /** @type {HTMLSelectElement} */ ($(id));
/** @param {string} id @returns {HTMLButtonElement} */
export const button = (id) => /** @type {HTMLButtonElement} */ ($(id));
/** @param {string} id @returns {HTMLDialogElement} */
export const dialog = (id) => /** @type {HTMLDialogElement} */ ($(id));

/**
 * A DOM element: el("td", { class: "n", title: "…" }, child or text…).
 *
 * @param {string} tag
 * @param {Record<string, unknown> | null} [attrs]
 * @param {...(Node | string | null | undefined)} kids
 * @returns {HTMLElement}
 */
export function el(tag, attrs, ...kids) {
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
/** @param {string} kind */
export const badge = (kind) =>
  el("span", { class: "badge k-" + String(kind).replace(/[^A-Z-]/g, ""), text: kind });
/** @param {string} id @param {string} text @param {string} [title] */
export function setText(id, text, title) {
  const e = $(id);
  e.textContent = text;
  if (title !== undefined) e.title = title;
}

/** @type {ReturnType<typeof setTimeout> | undefined} */ let toastTimer;
/** @param {string} msg */
export function toast(msg) {
  const t = $("toast");
  t.textContent = msg;
  t.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove("show"), 2600);
}
/** @param {string} msg */
export function showBanner(msg) {
  const b = $("banner");
  b.textContent = msg;
  b.hidden = !msg;
}
/** @param {unknown} e */
export const messageOf = (e) => e instanceof Error ? e.message : String(e);
/** @param {unknown} e */
export const report = (e) => showBanner(messageOf(e));

/**
 * Wraps an async job so that schedule(ms) runs it once within ms: a pending run is kept (or
 * brought forward), never pushed back, so a steady stream of events cannot starve it.
 *
 * @param {() => Promise<void>} job
 * @returns {(delay: number) => void}
 */
export function throttled(job) {
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
