/**
 * A cache entry for store tests: a small JSON answer from Sonnet, fresh for an hour, in the
 * default namespace, without chunk timing or request.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { NO_USAGE } from "../../src/values/usage.ts";
import type { NewEntry } from "../../src/store/store.ts";

/**
 * Builds an entry whose body and snippet name `key`, unless `overrides` say otherwise.
 *
 * @param key the cache key
 * @param overrides fields to set
 * @returns the entry
 */
export function newEntry(key: string, overrides: Partial<NewEntry> = {}): NewEntry {
  const now = Date.now();
  return {
    key,
    status: 200,
    contentType: "application/json",
    model: "claude-sonnet-4-5-20250929",
    path: "/v1/messages",
    createdAt: now,
    expiresAt: now + 3_600_000,
    body: new TextEncoder().encode(`{"key":"${key}"}`),
    usage: { ...NO_USAGE, input_tokens: 3, output_tokens: 4 },
    snippet: `answer ${key}`,
    namespace: "",
    timing: [],
    request: undefined,
    ...overrides,
  };
}

/**
 * Entries in a SQLite cache file, counted through a read-only connection of its own (not the
 * store's), to compare with what the store says.
 *
 * @param path the cache.db
 * @returns the number of rows in `entries`
 */
export function rowsInFile(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return Number(db.prepare("SELECT count(*) AS n FROM entries").get()?.n);
  } finally {
    db.close();
  }
}
