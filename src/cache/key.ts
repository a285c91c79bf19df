/**
 * The cache key: what makes two requests the same request.
 *
 * SHA-256 (Web Crypto) over the upstream base URL, method, path and query,
 * `anthropic-version`, the set of `anthropic-beta` values, and the body in
 * canonical JSON without its `metadata` object (`metadata.user_id` names a
 * user and session, never changes the answer, and Claude Code sends a fresh
 * one on every run). A body that is not JSON is keyed by its raw bytes.
 * Credentials are never part of the key.
 *
 * @module
 */
import { canonicalJson } from "./canonical_json.ts";
import { Lru } from "../lru.ts";

/** The parts of a request that decide its key. */
export interface KeyRequest {
  /** HTTP method, e.g. `POST`. */
  readonly method: string;
  /** Path and query, e.g. `/v1/messages?beta=true`. */
  readonly path: string;
  /** The `anthropic-version` header, or null. */
  readonly anthropicVersion: string | null;
  /** The `anthropic-beta` header (comma-separated, possibly repeated), or null. */
  readonly anthropicBeta: string | null;
  /** The request body bytes. */
  readonly body: Uint8Array;
}

/** Bumped whenever the key derivation changes, so old entries are never matched. */
const KEY_SCHEME = "llm-cache-proxy/key/1";
const IGNORED_BODY_FIELDS = ["metadata"];

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Computes the cache key of a request.
 *
 * @param request the method, path, version, betas and body
 * @param upstream the upstream base URL: a different upstream is a different cache
 * @returns 64 lower-case hex characters
 * @example
 * ```ts
 * const key = await cacheKey({ method: "POST", path: "/v1/messages",
 *   anthropicVersion: "2023-06-01", anthropicBeta: null, body }, "https://api.anthropic.com");
 * ```
 */
export function cacheKey(request: KeyRequest, upstream: string): Promise<string> {
  const text = decodeUtf8(request.body);
  const canonical = text === undefined
    ? undefined
    : canonicalJson(text, { omitTopLevel: IGNORED_BODY_FIELDS });
  const head = JSON.stringify([
    KEY_SCHEME,
    upstream,
    request.method.toUpperCase(),
    request.path,
    request.anthropicVersion,
    betaSet(request.anthropicBeta),
    canonical === undefined ? "raw" : "json",
  ]);
  const body = canonical === undefined ? request.body : encoder.encode(canonical);
  return hexDigest(concat(encoder.encode(`${head}\n`), body));
}

/**
 * A {@link cacheKey} that remembers the keys of requests it has seen, so an
 * exact repeat costs a map lookup instead of a parse and a hash.
 */
export class KeyMemo {
  #upstream: string;
  #seen: Lru<string, string>;

  /**
   * @param upstream the upstream base URL
   * @param options `maxBytes`: memory for remembered requests @default 64 MiB
   */
  constructor(upstream: string, options: { maxBytes?: number } = {}) {
    this.#upstream = upstream;
    this.#seen = new Lru(options.maxBytes ?? 64 * 1024 * 1024);
  }

  /**
   * The key of `request`, from memory when this exact request was seen before.
   *
   * @param request the request parts
   * @returns the cache key
   */
  async key(request: KeyRequest): Promise<string> {
    const identity = requestIdentity(request);
    if (identity === undefined) return cacheKey(request, this.#upstream);
    const known = this.#seen.get(identity);
    if (known !== undefined) return known;
    const key = await cacheKey(request, this.#upstream);
    this.#seen.set(identity, key, identity.length * 2 + 64);
    return key;
  }

  /**
   * The remembered key of `request`, without computing anything: the hit
   * path asks this first and stays synchronous when the answer is known.
   *
   * @param request the request parts
   * @returns the cache key, or undefined if this request was not seen
   */
  known(request: KeyRequest): string | undefined {
    const identity = requestIdentity(request);
    return identity === undefined ? undefined : this.#seen.get(identity);
  }
}

/** Everything the key depends on, as one string; undefined when the body is not UTF-8. */
function requestIdentity(request: KeyRequest): string | undefined {
  const text = decodeUtf8(request.body);
  if (text === undefined) return undefined;
  // Header values cannot hold NUL, so "\0" stands for an absent header unambiguously.
  return `${request.method} ${request.path}\n${request.anthropicVersion ?? "\0"}\n` +
    `${request.anthropicBeta ?? "\0"}\n${text}`;
}

/** `anthropic-beta` as a sorted set: `b, a` and `a,b` are the same betas. */
function betaSet(header: string | null): string[] {
  if (header === null) return [];
  const values = header.split(",").map((v) => v.trim()).filter((v) => v.length > 0);
  return [...new Set(values)].sort();
}

/** Decodes strict UTF-8; undefined for invalid bytes, so no two bodies decode alike. */
function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

async function hexDigest(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
