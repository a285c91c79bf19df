/**
 * The cache browser's API: `GET /cache/entries` (paged, searchable),
 * `GET /cache/entries/:key` (meta, the body's head and the stored request's),
 * `GET /cache/entries/:key/why` (why its request missed, as `explore --why`
 * says) and `DELETE /cache/entries/:key`, where `:key` is a full key or a
 * unique hex prefix of at least 8 digits.
 *
 * @module
 */
import { MAX_KEY_DIGITS, MIN_PREFIX_DIGITS, resolveKeyPrefix } from "../store/key_prefix.ts";
import { explainEntry, whyJson } from "../cache/why.ts";
import type { CacheEntry, CacheStore, EntrySummary } from "../store/store.ts";
import { HttpError } from "./errors.ts";

const BODY_HEAD_BYTES = 4096;
const REQUEST_HEAD_BYTES = 16_384;
const WHY = "/why";
const MAX_PAGE = 500;

/**
 * Answers a request under `/cache/entries`.
 *
 * @param req the request
 * @param path its path, e.g. `/cache/entries/3fa9c1d2`
 * @param store the cache store
 * @returns the JSON response
 * @throws {HttpError} 400 for a bad key or query, 404 when nothing matches
 */
export async function handleEntries(
  req: Request,
  path: string,
  store: CacheStore,
): Promise<Response> {
  const rest = path.slice("/cache/entries".length);
  if (rest === "" || rest === "/") {
    if (req.method !== "GET") throw notAllowed(req.method, path);
    return Response.json(await listEntries(new URL(req.url).searchParams, store));
  }
  const why = rest.endsWith(WHY);
  const given = decodeURIComponent(rest.slice(1, why ? -WHY.length : undefined));
  const key = await resolveKey(given, store);
  if (req.method === "GET") {
    const entry = await store.inspect(key);
    if (!entry) throw notFound(key);
    if (why) return Response.json(await whyView(store, entry));
    const { body, request, ...meta } = entry;
    return Response.json({
      ...meta,
      size: body.byteLength,
      bodyHead: head(body, BODY_HEAD_BYTES),
      bodyBytes: body.byteLength,
      requestHead: request === undefined ? null : head(request, REQUEST_HEAD_BYTES),
      requestBytes: request?.byteLength ?? null,
    });
  }
  if (why) throw notAllowed(req.method, path);
  if (req.method === "DELETE") {
    if (!(await store.delete(key))) throw notFound(key);
    return Response.json({ deleted: true, key });
  }
  throw notAllowed(req.method, path);
}

/** Why the entry's request missed; `reason` null when nothing compares or no request was kept. */
async function whyView(store: CacheStore, entry: CacheEntry): Promise<Record<string, unknown>> {
  const { request } = entry;
  if (request === undefined) {
    return { ...whyJson(entry.key, undefined), requestKept: false };
  }
  return {
    ...whyJson(entry.key, await explainEntry(store, { ...entry, request })),
    requestKept: true,
  };
}

function head(bytes: Uint8Array, max: number): string {
  return new TextDecoder().decode(bytes.subarray(0, max));
}

async function listEntries(params: URLSearchParams, store: CacheStore) {
  const limit = whole(params.get("limit"), 50, 1, MAX_PAGE, "limit");
  const offset = whole(params.get("offset"), 0, 0, Number.MAX_SAFE_INTEGER, "offset");
  const query = params.get("q")?.trim() ?? "";
  const entries: EntrySummary[] = await store.list({ limit, offset, query });
  return { entries, limit, offset };
}

/** A full key, from itself or from a unique prefix of it. */
async function resolveKey(given: string, store: CacheStore): Promise<string> {
  const found = await resolveKeyPrefix(store, given);
  switch (found.kind) {
    case "found":
      return found.key;
    case "invalid":
      throw new HttpError(
        400,
        "invalid_request_error",
        `"${given}" is not a cache key: give ${MIN_PREFIX_DIGITS} to ${MAX_KEY_DIGITS} hex digits`,
      );
    case "none":
      throw notFound(found.prefix);
    case "ambiguous":
      throw new HttpError(
        400,
        "invalid_request_error",
        `Key prefix ${found.prefix} matches several entries; give more digits`,
      );
  }
}

function whole(
  raw: string | null,
  fallback: number,
  min: number,
  max: number,
  name: string,
): number {
  if (raw === null || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new HttpError(
      400,
      "invalid_request_error",
      `${name}=${raw} must be a whole number from ${min} to ${max}`,
    );
  }
  return n;
}

function notFound(key: string): HttpError {
  return new HttpError(404, "not_found_error", `No cache entry ${key}`);
}

function notAllowed(method: string, path: string): HttpError {
  return new HttpError(405, "invalid_request_error", `${method} is not allowed on ${path}`);
}
