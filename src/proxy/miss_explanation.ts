/**
 * A miss explains itself (`x-cache-miss`, the replay-mode 404): which stored
 * request of the same route and model is nearest and what differs, bounded in
 * bytes parsed and computed while upstream thinks, never before a first byte.
 *
 * @module
 */
import { boundedMissReason, type ParsedRequests, parseRequest } from "../cache/miss_reason.ts";
import type { Logger } from "../log.ts";
import type { CacheStore } from "../store/store.ts";

/**
 * The most request bytes one miss parses to explain itself, its own body
 * included: ~2–4 ms of CPU at worst. A stored request that does not fit is
 * never read; a request bigger than this is not explained.
 */
export const EXPLAIN_MAX_BYTES = 2 * 1024 * 1024;
/** How long upstream keeps the head before a miss starts explaining itself, in ms. */
export const EXPLAIN_AFTER_MS = 5;
/** Memory for the parses of stored requests that later explanations reuse. */
export const EXPLAIN_MEMO_BYTES = 16 * 1024 * 1024;

/** The call that missed: where it went, its key and key space. */
export interface MissedCall {
  /** Path and query, as keyed and stored. */
  readonly path: string;
  readonly key: string;
  readonly namespace: string;
}

/** What an explanation reads. */
export interface ExplainContext {
  readonly store: CacheStore;
  /** Stored requests parsed by earlier explanations. */
  readonly parsedRequests: ParsedRequests;
  readonly log: Logger;
}

/** An explanation under way: `value` is set once it is done. */
export interface Explaining<T> {
  readonly value: T | undefined;
}

/**
 * Runs `explain` once upstream has kept the answer's head for
 * {@link EXPLAIN_AFTER_MS}, and not at all if the head comes first: the
 * header could no longer carry it. So the explanation never delays a first
 * byte or a hit queued behind it, and costs nothing when upstream is fast; an
 * API call takes far longer than that to answer. Whoever relays the head
 * reads `value` as it is then, without waiting for it.
 */
export function whileWaiting<T>(
  head: Promise<unknown>,
  explain: () => Promise<T | undefined>,
): Explaining<T> {
  const explaining: { value: T | undefined } = { value: undefined };
  const timer = setTimeout(
    () => explain().then((value) => explaining.value = value, () => {}),
    EXPLAIN_AFTER_MS,
  );
  head.then(() => clearTimeout(timer), () => clearTimeout(timer));
  return explaining;
}

/**
 * Why this request missed, in a few words, when a stored request of the same
 * route and model is near; computed beside the upstream call, never before it,
 * parsing at most {@link EXPLAIN_MAX_BYTES}.
 *
 * @param body the request body
 * @param call where it went, its key and key space
 * @param ctx the store and the memo of parsed requests
 * @returns a few words, or undefined when nothing near is stored or it does not fit
 */
export async function explainMiss(
  body: Uint8Array,
  call: MissedCall,
  ctx: ExplainContext,
): Promise<string | undefined> {
  if (body.byteLength > EXPLAIN_MAX_BYTES) return undefined;
  try {
    const request = parseRequest(body);
    if (request.body === undefined) return undefined;
    const candidates = await ctx.store.similar({
      path: call.path,
      model: request.model,
      namespace: call.namespace,
      limit: 20,
      maxRequestBytes: EXPLAIN_MAX_BYTES - body.byteLength,
    });
    const others = candidates.filter((c) => c.key !== call.key);
    return boundedMissReason(request, others, EXPLAIN_MAX_BYTES, ctx.parsedRequests);
  } catch (e) {
    ctx.log.debug(`No miss explanation: ${(e as Error).message}`);
    return undefined;
  }
}
