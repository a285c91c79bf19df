/**
 * Why a request missed: which stored request of the same route and model is
 * nearest, and what differs in a few words fit for a response header
 * (`x-cache-miss`), within a budget of bytes parsed per miss. The top-level
 * `metadata` is ignored, as the cache key ignores it.
 *
 * @module
 */
import { Lru } from "../lru.ts";
import type { SimilarRequest } from "../store/store.ts";
import {
  equal,
  IGNORED_FIELD,
  isObject,
  type Json,
  type JsonObject,
  messagesOf,
  parseBody,
  sharedPrefix,
  unionKeys,
} from "./_request_json.ts";

const SAME_BODY = "same body; headers differ (anthropic-version, anthropic-beta or namespace)";

const REASON_WIDTH = 80;

const REASON_ITEMS = 3;

const PLURAL_FIELDS = new Set(["tools", "stop_sequences", "messages", "mcp_servers"]);

/**
 * The stored request nearest to `request`: the fewest messages apart, then the
 * longest run of identical leading messages, then the newest.
 *
 * @param request the body of the request that missed
 * @param candidates stored requests of the same route and model
 * @returns the nearest candidate; undefined when none is comparable or `request` is not JSON
 * @example
 * ```ts
 * const near = nearest(body, await store.similar({ path, model, namespace, limit: 50 }));
 * ```
 */
export function nearest(
  request: Uint8Array,
  candidates: readonly SimilarRequest[],
): SimilarRequest | undefined {
  const body = parseBody(request);
  if (body === undefined) return undefined;
  return nearestParsed(body, parsedCandidates(candidates, Infinity))?.candidate;
}

/**
 * Why `request` did not match `candidate`, in a few ASCII words for the
 * `x-cache-miss` header: the top-level fields and message indexes that differ
 * (never a value from the prompt), the first few then `+N more`.
 *
 * @param request the body of the request that missed
 * @param candidate the stored request to compare with, usually {@link nearest}'s answer
 * @returns e.g. `system differs, 2 more messages`; undefined when either body is not JSON
 */
export function missReason(
  request: Uint8Array,
  candidate: Pick<SimilarRequest, "request">,
): string | undefined {
  const mine = parseBody(request);
  const theirs = parseBody(candidate.request);
  return mine === undefined || theirs === undefined ? undefined : reasonOf(mine, theirs);
}

/** A request body parsed once, for {@link boundedMissReason}. */
export interface ParsedRequest {
  /** The body's length in bytes. */
  readonly bytes: number;
  /** The body, or undefined when it is not a JSON object. */
  readonly body: JsonObject | undefined;
  /** Its `model`, when it names one. */
  readonly model: string | undefined;
}

/**
 * Parses a request body for {@link boundedMissReason}.
 *
 * @param request the body bytes
 * @returns the parse, its size and model
 */
export function parseRequest(request: Uint8Array): ParsedRequest {
  const body = parseBody(request);
  const model = body?.["model"];
  return { bytes: request.byteLength, body, model: typeof model === "string" ? model : undefined };
}

/**
 * {@link missReason} against the {@link nearest} candidate, parsing each
 * stored request once and at most `maxBytes` bytes in all, the request's own
 * included: each candidate in the order given (newest first) that fits in
 * what is left. A candidate past the budget is never decoded, so a huge
 * stored request costs a miss nothing.
 *
 * @param request the request that missed, from {@link parseRequest}
 * @param candidates stored requests of the same route and model, newest first
 * @param maxBytes the most body bytes parsed, request and candidates together
 * @param memo parses kept from earlier calls: used for free, and added to
 * @returns the reason; undefined when nothing comparable fits the budget
 */
export function boundedMissReason(
  request: ParsedRequest,
  candidates: readonly SimilarRequest[],
  maxBytes: number,
  memo?: ParsedRequests,
): string | undefined {
  const mine = request.body;
  if (mine === undefined || request.bytes > maxBytes) return undefined;
  const parsed = parsedCandidates(candidates, maxBytes - request.bytes, memo);
  const near = nearestParsed(mine, parsed);
  return near && reasonOf(mine, near.body);
}

/** Memory a parsed body takes per byte of its JSON text, about (V8 objects and strings). */
const PARSE_BYTES = 4;

/**
 * Stored requests already parsed, by entry key, within a memory budget: the
 * misses of a conversation or a burst compare with the same few newest
 * requests, so each is parsed once, not once per miss. A key names one
 * request (up to its `metadata`, which explanations ignore), so a remembered
 * parse never goes stale.
 */
export class ParsedRequests {
  #parsed: Lru<string, JsonObject | null>;

  /** @param maxBytes memory for parses, counted as 4× the bytes of each parsed request */
  constructor(maxBytes: number) {
    this.#parsed = new Lru(maxBytes);
  }

  /**
   * A remembered parse: the body, `null` when it is not a JSON object, undefined when unknown.
   *
   * @param key the entry key
   * @returns what {@link ParsedRequests.remember} kept
   */
  known(key: string): JsonObject | null | undefined {
    return this.#parsed.get(key);
  }

  /**
   * Keeps a parse.
   *
   * @param candidate the stored request
   * @param body its parse, or undefined when it is not a JSON object
   */
  remember(candidate: SimilarRequest, body: JsonObject | undefined): void {
    this.#parsed.set(candidate.key, body ?? null, PARSE_BYTES * candidate.request.byteLength);
  }
}

/** A candidate with its parsed body. */
interface Parsed {
  readonly candidate: SimilarRequest;
  readonly body: JsonObject;
}

/**
 * The candidates, in order, parsed: remembered ones for free, others while
 * they fit in `budget` bytes; those that are not JSON dropped.
 */
function parsedCandidates(
  candidates: readonly SimilarRequest[],
  budget: number,
  memo?: ParsedRequests,
): Parsed[] {
  const parsed: Parsed[] = [];
  let left = budget;
  for (const candidate of candidates) {
    let body = memo?.known(candidate.key);
    if (body === undefined) {
      if (candidate.request.byteLength > left) continue;
      left -= candidate.request.byteLength;
      body = parseBody(candidate.request) ?? null;
      memo?.remember(candidate, body ?? undefined);
    }
    if (body !== null) parsed.push({ candidate, body });
  }
  return parsed;
}

function nearestParsed(body: JsonObject, candidates: readonly Parsed[]): Parsed | undefined {
  const mine = messagesOf(body);
  let best: { parsed: Parsed; distance: number; shared: number } | undefined;
  for (const parsed of candidates) {
    const theirs = messagesOf(parsed.body);
    const distance = Math.abs(mine.length - theirs.length);
    if (best !== undefined && distance > best.distance) continue;
    const shared = sharedPrefix(mine, theirs);
    const better = best === undefined || distance < best.distance || shared > best.shared ||
      (shared === best.shared && parsed.candidate.createdAt > best.parsed.candidate.createdAt);
    if (better) best = { parsed, distance, shared };
  }
  return best?.parsed;
}

function reasonOf(mine: JsonObject, theirs: JsonObject): string {
  const reasons: string[] = [];
  const a = mine["messages"];
  const b = theirs["messages"];
  const byMessage = Array.isArray(a) && Array.isArray(b);
  for (const field of unionKeys(mine, theirs)) {
    if (field === IGNORED_FIELD || (byMessage && field === "messages")) continue;
    if (!equal(mine[field], theirs[field])) {
      reasons.push(differs(safeName(field) ?? "a top-level field"));
    }
  }
  // Fields first: a changed system prompt explains more than the messages after it.
  if (byMessage) reasons.push(...messageReasons(a, b));
  return reasons.length === 0 ? SAME_BODY : summarize(reasons);
}

function messageReasons(mine: readonly Json[], theirs: readonly Json[]): string[] {
  const reasons: string[] = [];
  for (let i = 0; i < Math.min(mine.length, theirs.length); i++) {
    const a = mine[i]!;
    const b = theirs[i]!;
    if (equal(a, b)) continue;
    const keys = isObject(a) && isObject(b)
      ? unionKeys(a, b).filter((key) => !equal(a[key], b[key]))
      : [];
    const only = keys.length === 1 ? safeName(keys[0]!) : undefined;
    reasons.push(`messages[${i}]${only === undefined ? "" : `.${only}`} differs`);
  }
  const extra = mine.length - theirs.length;
  const count = (n: number) => `${n} ${extra > 0 ? "more" : "fewer"} message${n === 1 ? "" : "s"}`;
  if (extra !== 0) reasons.push(count(Math.abs(extra)));
  return reasons;
}

function summarize(reasons: readonly string[]): string {
  const more = (shownCount: number) => {
    const rest = reasons.length - shownCount;
    return rest > 0 ? `, +${rest} more` : "";
  };
  const shownReasons = reasons.slice(0, 1);
  for (const reason of reasons.slice(1, REASON_ITEMS)) {
    const next = [...shownReasons, reason];
    if (next.join(", ").length + more(next.length).length > REASON_WIDTH) break;
    shownReasons.push(reason);
  }
  return shownReasons.join(", ") + more(shownReasons.length);
}

function differs(field: string): string {
  return `${field} ${PLURAL_FIELDS.has(field) ? "differ" : "differs"}`;
}

/** A field name fit for a header (it comes from the request), or undefined. */
function safeName(field: string): string | undefined {
  return /^[A-Za-z_][A-Za-z0-9_]{0,39}$/.test(field) ? field : undefined;
}
