/**
 * How a call was served: the kinds every room counts, stores and shows.
 *
 * @module
 */
import { HIT_KIND_NAMES } from "./hit_kinds.js";

/** How a call was served. */
export type CallKind =
  | "HIT"
  | "HIT-NORM"
  | "HIT-SUFFIX"
  | "HIT-COALESCED"
  | "HIT-V2"
  | "STALE"
  | "MISS"
  | "BYPASS"
  | "ERROR"
  | "PASS";

/** Kinds answered from the cache, without an upstream call of their own. */
export const HIT_KINDS: ReadonlySet<CallKind> = new Set<CallKind>(HIT_KIND_NAMES);
