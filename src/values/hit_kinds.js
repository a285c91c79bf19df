// @ts-check
/**
 * The kinds of call answered from the cache, without an upstream call of
 * their own: one list for the proxy (`call_kind.ts`) and for the dashboard,
 * which loads this very file. Plain JavaScript so that the browser can run it
 * as it is.
 *
 * @module
 */

/** Kinds answered from the cache. */
export const HIT_KIND_NAMES = /** @type {const} */ ([
  "HIT",
  "HIT-NORM",
  "HIT-SUFFIX",
  "HIT-COALESCED",
  "HIT-V2",
  "STALE",
]);
