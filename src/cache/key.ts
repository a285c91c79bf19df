/**
 * The cache key: what makes two requests the same request.
 *
 * SHA-256 (`node:crypto`) over the upstream base URL, method, path and query,
 * `anthropic-version`, the set of `anthropic-beta` values, the namespace
 * (`x-cache-namespace`; the default "" adds nothing, so keys made before
 * namespaces existed still match) and the body in canonical JSON without its
 * `metadata` object (`metadata.user_id` names a user and session, never
 * changes the answer, and Claude Code sends a fresh one on every run) and,
 * unless switched off, without Claude Code's per-request billing block (see
 * `normalize.ts`). A body that is not JSON, or has no one canonical form
 * (a duplicate member name, nesting past `MAX_JSON_DEPTH`: see
 * `canonical_json.ts`), is keyed by its raw bytes, never shares a key with
 * another spelling and has no tier keys. Credentials are never part of the key.
 *
 * {@link tierKeys} gives the keys of the looser tiers: `normalized` (after
 * `normalize.json`'s strip patterns and ignored fields) and `suffix` (that,
 * with only the last messages). Their hashed head names the tier and the
 * rules, so a tier key never equals an exact key, and aliases stored under
 * other rules stop matching when `normalize.json` changes.
 *
 * @module
 */
import {
  canonicalize,
  canonicalJson,
  isJsonObject,
  type JsonObject,
  type JsonTree,
  parseJsonTree,
} from "./canonical_json.ts";
import { activeTiers, BILLING_MARKER, dropBillingBlock, normalizeBody } from "./normalize.ts";
import { NO_RULES, type NormalizeRules } from "../values/normalize_rules.ts";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
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
  /** The `x-cache-namespace` header; "" (the default) is the shared key space. */
  readonly namespace: string;
  /** The request body bytes. */
  readonly body: Uint8Array;
}

/** The keys of the looser tiers; a tier that is off or does not apply is absent. */
export interface TierKeys {
  /** The `HIT-NORM` key: the body after strip patterns and ignored fields. */
  readonly normalized?: string;
  /** The `HIT-SUFFIX` key: that body with only the last `suffix_turns` messages. */
  readonly suffix?: string;
}

/** Bumped whenever the key derivation changes, so old entries are never matched. */
const KEY_SCHEME = "llm-cache-proxy/key/1";
const IGNORED_BODY_FIELDS = ["metadata"];

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Computes the exact cache key of a request.
 *
 * @param request the method, path, version, betas, namespace and body
 * @param upstream the upstream base URL: a different upstream is a different cache
 * @param rules the normalization rules; only the built-in billing rule touches this key
 * @default rules {@link NO_RULES}
 * @returns 64 lower-case hex characters
 * @example
 * ```ts
 * const key = await cacheKey({ method: "POST", path: "/v1/messages",
 *   anthropicVersion: "2023-06-01", anthropicBeta: null, namespace: "", body },
 *   "https://api.anthropic.com");
 * ```
 */
export function cacheKey(
  request: KeyRequest,
  upstream: string,
  rules: NormalizeRules = NO_RULES,
): Promise<string> {
  const text = decodeUtf8(request.body);
  // Only a body that spells the marker can hold the block: others skip the tree walk.
  const transform = rules.claudeCodeBilling && text?.includes(BILLING_MARKER)
    ? { transform: withoutBilling }
    : {};
  const canonical = text === undefined
    ? undefined
    : canonicalJson(text, { omitTopLevel: IGNORED_BODY_FIELDS, ...transform });
  const label = canonical === undefined ? "raw" : "json";
  const extra = request.namespace === "" ? [] : [request.namespace];
  return hexDigest(`${head(request, upstream, label, extra)}\n`, canonical ?? request.body);
}

/**
 * Computes the keys of the normalized and suffix tiers that `rules` switch on.
 *
 * @param request the request parts
 * @param upstream the upstream base URL
 * @param rules the normalization rules
 * @returns the tier keys; none for a body that is not a JSON object or is keyed by its raw bytes
 */
export async function tierKeys(
  request: KeyRequest,
  upstream: string,
  rules: NormalizeRules,
): Promise<TierKeys> {
  const tiers = activeTiers(rules);
  if (!tiers.normalized && !tiers.suffix) return {};
  const text = decodeUtf8(request.body);
  const body = text === undefined ? undefined : parseJsonTree(text);
  if (!isJsonObject(body)) return {};
  for (const field of IGNORED_BODY_FIELDS) delete body[field];
  if (rules.claudeCodeBilling) dropBillingBlock(body);
  normalizeBody(body, rules);
  const fingerprint = rulesFingerprint(rules);
  const keys: { normalized?: string; suffix?: string } = {};
  if (tiers.normalized) {
    keys.normalized = await tierDigest(request, upstream, ["normalized", fingerprint], body);
  }
  if (tiers.suffix && Array.isArray(body.messages)) {
    body.messages = body.messages.slice(-rules.suffixTurns);
    const label: [string, ...unknown[]] = ["suffix", rules.suffixTurns, fingerprint];
    keys.suffix = await tierDigest(request, upstream, label, body);
  }
  return keys;
}

/**
 * A {@link cacheKey} (and {@link tierKeys}) that remembers the keys of
 * requests it has seen, so an exact repeat costs a map lookup instead of a
 * parse and a hash.
 */
export class KeyMemo {
  #upstream: string;
  #rules: NormalizeRules;
  #seen: Lru<string, { exact: string; tiers?: TierKeys }>;
  /** The request last asked about and its identity: a miss asks three times. */
  #lastRequest: KeyRequest | undefined;
  #lastIdentity = "";

  /**
   * Remembers keys for one upstream and one set of rules.
   *
   * @param upstream the upstream base URL
   * @param options `maxBytes`: memory for remembered requests @default 16 MiB;
   *   `rules`: the normalization rules @default {@link NO_RULES}
   */
  constructor(upstream: string, options: { maxBytes?: number; rules?: NormalizeRules } = {}) {
    this.#upstream = upstream;
    this.#rules = options.rules ?? NO_RULES;
    // Enough for the repeats of a working set of tens of thousands of short requests, and
    // small enough that a stream of distinct requests (all misses) does not grow the heap much.
    this.#seen = new Lru(options.maxBytes ?? 16 * 1024 * 1024);
  }

  /**
   * The key of `request`, from memory when this exact request was seen before.
   *
   * @param request the request parts
   * @returns the cache key
   */
  async key(request: KeyRequest): Promise<string> {
    const identity = this.#identity(request);
    const known = this.#seen.get(identity);
    if (known !== undefined) return known.exact;
    const exact = await cacheKey(request, this.#upstream, this.#rules);
    // The size counts room for tier keys added later by tiers().
    this.#seen.set(identity, { exact }, identity.length * 2 + 256);
    return exact;
  }

  /**
   * The remembered key of `request`, without computing anything: the hit
   * path asks this first and stays synchronous when the answer is known.
   *
   * @param request the request parts
   * @returns the cache key, or undefined if this request was not seen
   */
  known(request: KeyRequest): string | undefined {
    return this.#seen.get(this.#identity(request))?.exact;
  }

  /**
   * The {@link tierKeys} of `request`, remembered beside its exact key once
   * {@link KeyMemo.key} has seen it.
   *
   * @param request the request parts
   * @returns the tier keys
   */
  async tiers(request: KeyRequest): Promise<TierKeys> {
    const entry = this.#seen.get(this.#identity(request));
    if (entry?.tiers !== undefined) return entry.tiers;
    const tiers = await tierKeys(request, this.#upstream, this.#rules);
    if (entry !== undefined) entry.tiers = tiers;
    return tiers;
  }

  /** The memo's key for `request`, worked out once per request (for a 125 KB body, ~10 µs). */
  #identity(request: KeyRequest): string {
    if (this.#lastRequest !== request) {
      this.#lastRequest = request;
      this.#lastIdentity = requestIdentity(request);
    }
    return this.#lastIdentity;
  }
}

function withoutBilling(tree: JsonTree): JsonTree {
  return isJsonObject(tree) ? dropBillingBlock(tree) : tree;
}

/** The hashed head: JSON, so no two different heads spell alike, and never a line break. */
function head(request: KeyRequest, upstream: string, label: string, extra: unknown[]): string {
  return JSON.stringify([
    KEY_SCHEME,
    upstream,
    request.method.toUpperCase(),
    request.path,
    request.anthropicVersion,
    betaSet(request.anthropicBeta),
    label,
    ...extra,
  ]);
}

function tierDigest(
  request: KeyRequest,
  upstream: string,
  [label, ...rest]: [string, ...unknown[]],
  body: JsonObject,
): Promise<string> {
  const line = head(request, upstream, label, [request.namespace, ...rest]);
  return hexDigest(`${line}\n${canonicalize(body)}`);
}

const fingerprints = new WeakMap<NormalizeRules, string>();

/** The rules that shape a tier's body, as text for the head. */
function rulesFingerprint(rules: NormalizeRules): string {
  let known = fingerprints.get(rules);
  if (known === undefined) {
    known = JSON.stringify([
      rules.systemStrip.map((r) => r.source),
      rules.messageStrip.map((r) => r.source),
      rules.ignoreFields.map((p) => p.source),
      rules.claudeCodeBilling,
      // Only with a profile, so that aliases stored before profiles existed keep matching.
      ...(rules.profile === undefined ? [] : [rules.profile, rules.keepGitStatus]),
    ]);
    fingerprints.set(rules, known);
  }
  return known;
}

/**
 * Everything the key depends on, as one string, so that no two requests
 * spell alike: the body as one character per byte (latin1 maps every byte
 * to its own character, whatever the bytes). That takes ~5 µs for a 125 KB
 * Claude Code request, against ~40 µs to decode it as strict UTF-8, and a
 * hit pays it.
 */
function requestIdentity(request: KeyRequest): string {
  const { buffer, byteOffset, byteLength } = request.body;
  const body = Buffer.from(buffer, byteOffset, byteLength).toString("latin1");
  // Header values cannot hold NUL or line breaks, so "\0" stands for an absent header.
  return `${request.method} ${request.path}\n${request.anthropicVersion ?? "\0"}\n` +
    `${request.anthropicBeta ?? "\0"}\n${JSON.stringify(request.namespace)}\n${body}`;
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

/**
 * SHA-256 of the parts in order (a string as its UTF-8 bytes), as hex.
 * `node:crypto` hashes in place in ~1 µs; `crypto.subtle.digest` took 10–30
 * µs a key (a task on another thread and a promise), a fifth of a miss's CPU.
 * A string goes in as it is: encoding a 125 KB canonical body with
 * `TextEncoder` first took 133 µs, hashing it straight from the string 61 µs
 * in all. (The canonical text has no lone surrogate, which is the one place
 * where encoders could differ: JSON.stringify escapes them.)
 */
function hexDigest(...parts: (string | Uint8Array)[]): Promise<string> {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return Promise.resolve(hash.digest("hex"));
}
