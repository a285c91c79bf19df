/**
 * The v2 tier: answers imported from llm-cache-proxy v2 (`import --from-v2`)
 * are found by v2's key of the raw body, once every other tier has missed.
 * It costs nothing until an import has stored some, and serves only what v2
 * itself would have: `/v1/messages`, outside any namespace. A hit is kept
 * again under this release's keys, so the next repeat is an ordinary `HIT`.
 *
 * @module
 */
import type { TierKeys } from "../cache/key.ts";
import { v2Key } from "../cache/v2_key.ts";
import { V2_COUNTERS } from "../stats/ledger.ts";
import { modelOf } from "./call_report.ts";
import type { Logger } from "../log.ts";
import type { Stats } from "../stats/stats.ts";
import type { CachedAnswer, CacheStore } from "../store/store.ts";

/** What the tier needs to know of the call. */
export interface V2Lookup {
  readonly route: string;
  readonly path: string;
  readonly namespace: string;
  /** This release's key of the request. */
  readonly key: string;
  readonly body: Uint8Array;
  readonly tiers: TierKeys;
}

/**
 * The imported v2 answer for a request, if any; found, it is stored again
 * under the request's own keys (in the background: the client is not kept waiting).
 *
 * @param call the request and its keys
 * @param ctx the store, stats and log
 * @returns the entry, or undefined
 */
export async function v2Hit(
  call: V2Lookup,
  ctx: { readonly store: CacheStore; readonly stats: Stats; readonly log: Logger },
): Promise<CachedAnswer | undefined> {
  if (call.route !== "/v1/messages" || call.namespace !== "") return undefined;
  if (ctx.stats.ledger.counter(V2_COUNTERS.entries) === 0) return undefined;
  const entry = await ctx.store.get(await v2Key(modelOf(call.body) ?? "", call.body));
  if (!entry) return undefined;
  const aliases = [call.tiers.normalized, call.tiers.suffix].filter((k): k is string =>
    k !== undefined
  );
  ctx.store.put({ ...entry, key: call.key, path: call.path, request: call.body }, aliases)
    .catch((e) => ctx.log.error(`Cache write failed, a v2 answer was not kept: ${e.message}`));
  return entry;
}
