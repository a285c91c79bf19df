/**
 * Talks to the Anthropic API: builds the outgoing request in small named
 * steps, calls `fetch`, and turns an unreachable upstream into a 502.
 *
 * @module
 */
import { errorResponse, HttpError } from "./errors.ts";

/** Where and how to reach upstream. */
export interface UpstreamTarget {
  /** Base URL, e.g. `https://api.anthropic.com`. */
  readonly base: string;
  /** The real API key, or undefined to pass client credentials through. */
  readonly apiKey: string | undefined;
  /** The fetch to use (injected so tests can observe it). */
  readonly fetch: typeof fetch;
}

/** Options of {@link forwardRequest}. */
export interface ForwardOptions {
  /** Body to send instead of the request's own stream (the cached route has read it). */
  readonly body?: Uint8Array;
  /** Aborts the upstream call. */
  readonly signal?: AbortSignal;
}

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) plus those `fetch` sets itself. They
 * describe one connection, never the message, so they are not forwarded.
 */
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];
const SET_BY_FETCH = ["host", "content-length", "accept-encoding"];
/** `fetch` decompresses bodies, so the length and encoding it reports no longer apply. */
const STALE_AFTER_DECODING = ["content-encoding", "content-length"];

/**
 * Forwards `req` to the same path under `target.base`. Never rejects: an
 * unreachable upstream becomes a 502 with an Anthropic-shaped body.
 *
 * @param req the client request
 * @param target the upstream base URL, key and fetch
 * @param options a body already read, an abort signal
 * @returns the upstream response with headers fit for the client
 */
export async function forwardRequest(
  req: Request,
  target: UpstreamTarget,
  options: ForwardOptions = {},
): Promise<Response> {
  const url = new URL(req.url);
  const init: RequestInit = {
    method: req.method,
    headers: outgoingHeaders(req.headers, target.apiKey),
    body: (options.body as Uint8Array<ArrayBuffer> | undefined) ?? req.body,
    redirect: "manual",
    signal: options.signal ?? null,
  };
  if (init.body instanceof ReadableStream) Object.assign(init, { duplex: "half" });
  try {
    const upstream = await target.fetch(`${target.base}${url.pathname}${url.search}`, init);
    const headers = withoutHopByHop(upstream.headers);
    for (const name of STALE_AFTER_DECODING) headers.delete(name);
    return new Response(upstream.body, { status: upstream.status, headers });
  } catch (e) {
    return errorResponse(unreachable(target.base, e));
  }
}

/**
 * The headers sent upstream: hop-by-hop and `x-cache-*` control headers
 * dropped, credentials replaced by the real key when one is configured.
 *
 * @param incoming the client's request headers
 * @param apiKey the real API key, if configured
 * @returns the headers to send
 */
export function outgoingHeaders(incoming: Headers, apiKey: string | undefined): Headers {
  const headers = withoutHopByHop(incoming);
  for (const name of SET_BY_FETCH) headers.delete(name);
  stripControlHeaders(headers);
  if (apiKey !== undefined) injectCredentials(headers, apiKey);
  return headers;
}

/**
 * Copies `headers` without hop-by-hop ones, including any that `Connection` names.
 *
 * @param headers the headers to filter
 * @returns a filtered copy
 */
export function withoutHopByHop(headers: Headers): Headers {
  const named = (headers.get("connection") ?? "").split(",").map((h) => h.trim().toLowerCase());
  const out = new Headers(headers);
  for (const name of [...HOP_BY_HOP, ...named]) if (name) out.delete(name);
  return out;
}

function stripControlHeaders(headers: Headers): void {
  const control = [...headers.keys()].filter((name) => name.startsWith("x-cache-"));
  for (const name of control) headers.delete(name);
}

function injectCredentials(headers: Headers, apiKey: string): void {
  headers.delete("authorization");
  headers.set("x-api-key", apiKey);
}

function unreachable(base: string, cause: unknown): HttpError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new HttpError(
    502,
    "api_error",
    `The proxy cannot reach the Anthropic API at ${base} (${reason}). ` +
      "Check CACHE_UPSTREAM and the network; the proxy keeps running and the next request retries",
  );
}
