// @ts-check
/**
 * The dashboard's requests: every call carries the token (`x-cache-auth`)
 * once one is known, a 401 asks for it in a small form (one form for every
 * refused request) and retries, and `/monitor` is read with `fetch` and
 * parsed as SSE, since `EventSource` cannot send a header.
 *
 * @module
 */

const TOKEN_KEY = "llm-cache-proxy.token";

/** An answer other than 2xx, with the proxy's message. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let token = "";
try {
  token = sessionStorage.getItem(TOKEN_KEY) ?? "";
} catch { /* storage disabled */ }
/** @type {Promise<void> | null} */
let authWait = null;

/**
 * Asks for the token; the page supplies the form.
 *
 * @typedef {(refused: boolean) => Promise<string>} TokenPrompt
 */
/** @type {TokenPrompt} */
let prompt = () => Promise.reject(new Error("no token form"));

/**
 * Sets how the page asks for a token.
 *
 * @param {TokenPrompt} ask resolves with the token typed in
 */
export function onTokenNeeded(ask) {
  prompt = ask;
}

/**
 * Fetches a proxy path with the token, asking for it on a 401 and retrying.
 *
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
export async function api(path, init = {}) {
  for (;;) {
    const sent = token;
    const headers = new Headers(init.headers ?? {});
    if (sent) headers.set("x-cache-auth", sent);
    const res = await fetch(path, { ...init, headers, cache: "no-store" });
    if (res.status !== 401) return res;
    await res.body?.cancel().catch(() => {});
    await askToken(sent);
  }
}

/**
 * Fetches JSON, throwing the proxy's error message on a failure.
 *
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<any>}
 */
export async function json(path, init) {
  const res = await api(path, init);
  let body = null;
  try {
    body = await res.json();
  } catch { /* not JSON */ }
  if (!res.ok) throw new ApiError(res.status, body?.error?.message ?? `HTTP ${res.status}`);
  return body;
}

/**
 * Resolves once a token other than the one just refused is set.
 *
 * @param {string} refused
 * @returns {Promise<void>}
 */
function askToken(refused) {
  if (token !== refused) return Promise.resolve();
  authWait ??= prompt(refused !== "").then((value) => {
    token = value;
    try {
      sessionStorage.setItem(TOKEN_KEY, value);
    } catch { /* storage disabled */ }
    authWait = null;
  });
  return authWait;
}

/**
 * Reads an SSE body, calling `onEvent` per event and `onActivity` per chunk.
 *
 * @param {ReadableStream<Uint8Array>} body
 * @param {(event: string, data: string) => void} onEvent
 * @param {() => void} onActivity
 */
export async function readSse(body, onEvent, onActivity) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = "", event = "";
  /** @type {string[]} */
  let data = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onActivity();
      buf += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        let line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.endsWith("\r")) line = line.slice(0, -1);
        if (line === "") {
          if (data.length) onEvent(event || "message", data.join("\n"));
          event = "";
          data = [];
          continue;
        }
        if (line[0] === ":") continue;
        const c = line.indexOf(":");
        const field = c < 0 ? line : line.slice(0, c);
        let val = c < 0 ? "" : line.slice(c + 1);
        if (val[0] === " ") val = val.slice(1);
        if (field === "event") event = val;
        else if (field === "data") data.push(val);
      }
    }
  } finally {
    reader.releaseLock();
  }
}
