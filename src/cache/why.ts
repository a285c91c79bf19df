/**
 * Why a stored entry's request missed when it was made: the nearest other
 * stored request of the same route, model and namespace, the few words the
 * proxy puts in `x-cache-miss`, and the field-level diff. What
 * `explore --why` prints and the dashboard's entry view shows.
 *
 * @module
 */
import type { CacheEntry, CacheStore } from "../store/store.ts";
import { type DiffLine, requestDiff } from "./diff.ts";
import { missReason, nearest } from "./miss_reason.ts";

/** Stored requests compared with, as the proxy does on a miss. */
const SIMILAR_LIMIT = 50;

/** An entry as a why report names it. */
export interface WhyEntry {
  readonly key: string;
  readonly createdAt: number;
  readonly snippet: string;
}

/** What was found: the entry, the stored request nearest to its own, the diff. */
export interface WhyReport {
  /** The entry asked about. */
  readonly entry: WhyEntry;
  /** The entry whose stored request is nearest to the entry's request. */
  readonly nearest: WhyEntry;
  /** The few words the proxy puts in `x-cache-miss`. */
  readonly reason: string;
  /** From the nearest request (`-`) to the entry's request (`+`). */
  readonly diff: readonly DiffLine[];
}

/**
 * Compares the request stored with `entry` with the nearest other stored
 * request of the same route, model and namespace.
 *
 * @param store the cache store
 * @param entry an entry stored with its request
 * @returns the report; undefined when no other stored request compares
 */
export async function explainEntry(
  store: CacheStore,
  entry: CacheEntry & { readonly request: Uint8Array },
): Promise<WhyReport | undefined> {
  const { path, model, namespace } = entry;
  const similar = await store.similar({ path, model, namespace, limit: SIMILAR_LIMIT });
  const near = nearest(entry.request, similar.filter((s) => s.key !== entry.key));
  if (near === undefined) return undefined;
  const summary = (await store.list({ keyPrefix: near.key, limit: 1 }))[0];
  return {
    entry: { key: entry.key, createdAt: entry.createdAt, snippet: entry.snippet },
    nearest: { key: near.key, createdAt: near.createdAt, snippet: summary?.snippet ?? "" },
    reason: missReason(entry.request, near) ?? "the requests are not JSON",
    diff: requestDiff(near.request, entry.request),
  };
}

/**
 * A report as JSON (`explore --why --json`, `GET /cache/entries/:key/why`):
 * absent values as null.
 *
 * @param key the entry's key
 * @param report what {@link explainEntry} found, or undefined
 * @returns the JSON value
 */
export function whyJson(key: string, report: WhyReport | undefined): Record<string, unknown> {
  if (report === undefined) return { key, nearest: null, reason: null, diff: [] };
  return {
    key,
    nearest: report.nearest,
    reason: report.reason,
    diff: report.diff.map((d) => ({ ...d, before: d.before ?? null, after: d.after ?? null })),
  };
}
