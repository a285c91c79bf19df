/**
 * Why a request missed: which stored request of the same route and model is
 * nearest, what differs in a few words fit for a response header, and a
 * field-level diff for people. Pure functions over request body bytes; a body
 * that is not a JSON object, or nests deeper than the key parses, has no
 * explanation. The top-level `metadata` is ignored throughout, as the cache
 * key ignores it.
 *
 * @module
 */
import { Lru } from "../lru.ts";
import type { SimilarRequest } from "../store/store.ts";
import { nestsTooDeep } from "./canonical_json.ts";

/** One difference between two request bodies. */
export interface DiffLine {
  /** Where, e.g. `max_tokens`, `system[2].text`, `messages[3].content[0].text`. */
  readonly path: string;
  /** `added`: only in the second body; `removed`: only in the first; `changed`: in both. */
  readonly kind: "added" | "removed" | "changed";
  /** The value in the first body as JSON text, shortened; undefined when added. */
  readonly before: string | undefined;
  /** The value in the second body as JSON text, shortened; undefined when removed. */
  readonly after: string | undefined;
}

/** A number as written, so that `1` and `1.0` differ here as they do in the key. */
class JsonNumber {
  constructor(readonly source: string) {}
}
type Json = string | boolean | null | JsonNumber | Json[] | JsonObject;
/** A request body parsed by this module. */
export interface JsonObject {
  [key: string]: Json;
}

const IGNORED_FIELD = "metadata";
const SAME_BODY = "same body; headers differ (anthropic-version, anthropic-beta or namespace)";
const REASON_WIDTH = 80;
const REASON_ITEMS = 3;
const PLURAL_FIELDS = new Set(["tools", "stop_sequences", "messages", "mcp_servers"]);
/** Characters of a value a diff line shows. */
const VALUE_WIDTH = 120;
/** Unchanged characters shown before and after a change inside a long string. */
const CONTEXT = 40;
/** Characters of the changed part itself shown inside a long string. */
const CHANGE_WIDTH = 60;

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

/**
 * The differences between two request bodies, field by field, in the order
 * the fields appear (those of `a` first). A long string that changed is shown
 * around its first difference, so a changed date inside a long system prompt
 * is visible; a whole value added or removed is shown cut to its start.
 *
 * @param a the earlier body (what `removed` and `before` refer to)
 * @param b the later body (what `added` and `after` refer to)
 * @returns one line per difference; empty when equal or when either is not JSON
 */
export function requestDiff(a: Uint8Array, b: Uint8Array): DiffLine[] {
  const before = parseBody(a);
  const after = parseBody(b);
  if (before === undefined || after === undefined) return [];
  const lines: DiffLine[] = [];
  for (const field of unionKeys(before, after)) {
    if (field !== IGNORED_FIELD) walk(pathOf("", field), before[field], after[field], lines);
  }
  return lines;
}

function walk(path: string, a: Json | undefined, b: Json | undefined, out: DiffLine[]): void {
  if (a === undefined || b === undefined) {
    if (a !== undefined) out.push({ path, kind: "removed", before: shown(a), after: undefined });
    if (b !== undefined) out.push({ path, kind: "added", before: undefined, after: shown(b) });
  } else if (isObject(a) && isObject(b)) {
    for (const key of unionKeys(a, b)) walk(pathOf(path, key), a[key], b[key], out);
  } else if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) walk(`${path}[${i}]`, a[i], b[i], out);
  } else if (!equal(a, b)) {
    const [before, after] = typeof a === "string" && typeof b === "string"
      ? excerpts(a, b)
      : [shown(a), shown(b)];
    out.push({ path, kind: "changed", before, after });
  }
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

function pathOf(parent: string, key: string): string {
  const name = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? key : undefined;
  if (name === undefined) return `${parent}[${JSON.stringify(key)}]`;
  return parent === "" ? name : `${parent}.${name}`;
}

/** Both strings shown around their first difference when either is long. */
function excerpts(a: string, b: string): [string, string] {
  const x = Array.from(a);
  const y = Array.from(b);
  if (Math.max(x.length, y.length) <= VALUE_WIDTH) return [JSON.stringify(a), JSON.stringify(b)];
  let start = 0;
  while (start < x.length && start < y.length && x[start] === y[start]) start++;
  let tail = 0;
  while (
    tail < x.length - start && tail < y.length - start &&
    x[x.length - 1 - tail] === y[y.length - 1 - tail]
  ) tail++;
  return [excerpt(x, start, x.length - tail), excerpt(y, start, y.length - tail)];
}

/** The characters `from` to `to` (the changed part) with some context, quoted. */
function excerpt(chars: readonly string[], from: number, to: number): string {
  const start = Math.max(0, from - CONTEXT);
  const end = to - from > CHANGE_WIDTH ? from + CHANGE_WIDTH : Math.min(chars.length, to + CONTEXT);
  return quoted(chars.slice(start, end).join(""), start > 0, end < chars.length);
}

function quoted(text: string, cutBefore: boolean, cutAfter: boolean): string {
  return `"${cutBefore ? "…" : ""}${JSON.stringify(text).slice(1, -1)}${cutAfter ? "…" : ""}"`;
}

/** A whole value as JSON text, cut to {@link VALUE_WIDTH} characters. */
function shown(value: Json): string {
  if (typeof value === "string") {
    const chars = Array.from(value);
    const cut = chars.length > VALUE_WIDTH;
    return quoted(cut ? chars.slice(0, VALUE_WIDTH).join("") : value, false, cut);
  }
  const chars = Array.from(jsonText(value));
  return chars.length > VALUE_WIDTH
    ? `${chars.slice(0, VALUE_WIDTH - 1).join("")}…`
    : chars.join("");
}

function jsonText(value: Json): string {
  if (value instanceof JsonNumber) return value.source;
  if (Array.isArray(value)) return `[${value.map(jsonText).join(",")}]`;
  if (isObject(value)) {
    const fields = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`);
    return `{${fields.join(",")}}`;
  }
  return JSON.stringify(value);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The body as a JSON object, or undefined when it is not one or nests too deep to walk. */
function parseBody(bytes: Uint8Array): JsonObject | undefined {
  try {
    const text = strictUtf8.decode(bytes);
    if (nestsTooDeep(text)) return undefined;
    const value: Json = JSON.parse(text, keepNumberSource);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function keepNumberSource(_key: string, value: unknown, context?: { source?: string }): unknown {
  return typeof value === "number" ? new JsonNumber(context?.source ?? String(value)) : value;
}

function messagesOf(body: JsonObject): readonly Json[] {
  const messages = body["messages"];
  return Array.isArray(messages) ? messages : [];
}

function sharedPrefix(a: readonly Json[], b: readonly Json[]): number {
  let n = 0;
  while (n < a.length && n < b.length && equal(a[n]!, b[n]!)) n++;
  return n;
}

function unionKeys(a: JsonObject, b: JsonObject): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])];
}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof JsonNumber);
}

function equal(a: Json | undefined, b: Json | undefined): boolean {
  if (a instanceof JsonNumber || b instanceof JsonNumber) {
    return a instanceof JsonNumber && b instanceof JsonNumber && a.source === b.source;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
      a.every((item, i) => equal(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length &&
      keys.every((key) => Object.hasOwn(b, key) && equal(a[key], b[key]));
  }
  return a === b;
}
