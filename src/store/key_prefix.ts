/**
 * Finding an entry from what a person types: a full cache key or a unique
 * hex prefix of it, as the cache browser API and `explore` accept. The
 * answer is a plain result; each caller words its own errors (HTTP statuses,
 * exit codes).
 *
 * @module
 */
import type { CacheStore } from "./store.ts";

/** The fewest hex digits accepted as a key prefix. */
export const MIN_PREFIX_DIGITS = 8;

/** The most hex digits a key has (SHA-256). */
export const MAX_KEY_DIGITS = 64;

/** How many of the matches an ambiguous prefix reports. */
const SHOWN_MATCHES = 3;

/** What a typed key or prefix resolved to. */
export type KeyResolution =
  /** Exactly one entry: its full key. */
  | { readonly kind: "found"; readonly key: string }
  /** Not 8 to 64 hex digits; `given` is the text as typed. */
  | { readonly kind: "invalid"; readonly given: string }
  /** Well formed, but no entry starts with `prefix` (lower-cased). */
  | { readonly kind: "none"; readonly prefix: string }
  /** Several entries start with `prefix`; `matches` holds the first few of their keys. */
  | { readonly kind: "ambiguous"; readonly prefix: string; readonly matches: readonly string[] };

/**
 * Resolves a full key or a unique hex prefix of at least {@link MIN_PREFIX_DIGITS} digits
 * (case-insensitive) to the key of the one entry it names. Only reads the store.
 *
 * @param store where the entries are
 * @param given the key or prefix as typed
 * @returns the key, or why there is none
 * @example
 * ```ts
 * const found = await resolveKeyPrefix(store, "3FA9C1D2");
 * if (found.kind === "found") await store.delete(found.key);
 * ```
 */
export async function resolveKeyPrefix(
  store: Pick<CacheStore, "list">,
  given: string,
): Promise<KeyResolution> {
  const prefix = given.toLowerCase();
  if (!isKeyPrefix(prefix)) return { kind: "invalid", given };
  const matches = await store.list({ keyPrefix: prefix, limit: SHOWN_MATCHES });
  const [first] = matches;
  if (first === undefined) return { kind: "none", prefix };
  if (matches.length === 1) return { kind: "found", key: first.key };
  return { kind: "ambiguous", prefix, matches: matches.map((m) => m.key) };
}

/**
 * Whether `text` has the shape of a key prefix: 8 to 64 lower-case hex digits.
 *
 * @param text the candidate, already lower-cased
 * @returns true when it may name an entry
 */
export function isKeyPrefix(text: string): boolean {
  return text.length >= MIN_PREFIX_DIGITS && text.length <= MAX_KEY_DIGITS &&
    /^[0-9a-f]+$/.test(text);
}
