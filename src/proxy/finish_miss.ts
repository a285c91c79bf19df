/**
 * The end of a miss: say how its answer ended, store it if it is a complete
 * 200 under its key and tier aliases, then release the fleet's lock on it, so
 * waiters wake up to a stored answer.
 *
 * @module
 */
import { entryFor, type Recording } from "../cache/recorder.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { StorageError } from "../store/storage_error.ts";
import type { CacheStore } from "../store/store.ts";
import { answerOf, type Outcome, outcomeOf, SHORT_KEY } from "./call_report.ts";
import type { BodyEnd } from "./flight.ts";
import type { MissedCall } from "./miss_explanation.ts";
import type { Lease } from "./shared_flight.ts";

/** What storing an answer uses. */
export interface FinishContext {
  readonly config: Config;
  readonly store: CacheStore;
  readonly now: () => number;
  readonly log: Logger;
}

/** What a miss stores besides the answer: the request, its tier aliases and TTL. */
export interface MissPlan {
  readonly body: Uint8Array;
  readonly aliases: readonly string[];
  readonly ttlSec: number;
  /** The fleet-wide lock on this key, released once the answer is stored (or not). */
  readonly lease: Lease | undefined;
}

/**
 * Reads what the answer used, stores it if it is a complete 200, and never throws.
 *
 * @param ctx the store, clock, configuration and log
 * @param call the call that missed
 * @param plan what to store besides the answer, and the lock to release
 * @param recording the answer as received
 * @param end how its body ended
 * @returns what the call used and said, for its report
 */
export async function finishMiss(
  ctx: FinishContext,
  call: MissedCall,
  plan: MissPlan,
  recording: Recording,
  end: BodyEnd,
): Promise<Outcome> {
  try {
    logEnd(ctx, call, end);
    return await record(ctx, call, plan, recording, end);
  } finally {
    await plan.lease?.release(); // after the put: waiters wake up to a stored answer
  }
}

/** One line for an answer that did not end normally or outgrew the recording cap. */
function logEnd(ctx: FinishContext, call: MissedCall, end: BodyEnd): void {
  const short = call.key.slice(0, SHORT_KEY);
  if (end.oversize) {
    ctx.log.info(
      `Answer ${short} is larger than CACHE_MAX_ANSWER_BYTES (${ctx.config.maxAnswerBytes}): ` +
        "relayed to its clients, not stored",
    );
  }
  if (end.how === "broken") {
    ctx.log.error(
      `Upstream broke off answer ${short}: ${(end.error as Error)?.message ?? end.error}`,
    );
  } else if (end.how === "timeout") {
    ctx.log.error(
      `Upstream sent nothing for ${ctx.config.upstreamTimeoutMs / 1000} s on answer ${short}: ` +
        "call closed, clients told (timeout_error)",
    );
  } else if (end.how === "left") {
    ctx.log.debug(`Every client of answer ${short} left: upstream call closed`);
  }
}

async function record(
  ctx: FinishContext,
  call: MissedCall,
  plan: MissPlan,
  recording: Recording,
  end: BodyEnd,
): Promise<Outcome> {
  const answer = answerOf(recording);
  const outcome = outcomeOf(answer, end, plan.body);
  if (end.how !== "complete" || end.oversize) return outcome;
  const entry = entryFor({
    key: call.key,
    path: call.path,
    model: outcome.model,
    now: ctx.now(),
    ttlSec: plan.ttlSec,
    usage: outcome.usage,
    snippet: outcome.snippet,
    namespace: call.namespace,
    body: plan.body,
  }, answer);
  if (!entry) return outcome;
  try {
    await ctx.store.put(entry, plan.aliases);
  } catch (e) {
    logStoreFailure(ctx, "Cache write failed, the answer was served but not kept", e);
  }
  return outcome;
}

/** At error level, unless the store logged this kind of failure already (once, not per call). */
export function logStoreFailure(ctx: FinishContext, what: string, e: unknown): void {
  const line = `${what}: ${(e as Error).message}`;
  if (e instanceof StorageError && e.reported) ctx.log.debug(line);
  else ctx.log.error(line);
}
