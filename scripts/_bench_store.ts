/**
 * Builds a CACHE_HOME whose cache.db already holds N entries that the proxy
 * will hit: keys are the real keys of distinct request bodies.
 *
 * @module
 */
import { cacheKey } from "../src/cache/key.ts";
import { buildConfig } from "../src/config.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { DatabaseSync } from "node:sqlite";
import { messageBody } from "../tests/support/proxy.ts";
import { HEADERS } from "./_bench_http.ts";

const MODEL = "claude-sonnet-4-5-20250929";
const DAY_MS = 86_400_000;

/** The request body of the `i`-th stored entry. */
export function entryRequest(i: number): string {
  return messageBody(`bench entry ${i}`);
}

/**
 * Fills `${home}/cache.db` with `count` entries for {@link entryRequest}(0..count-1).
 *
 * The store creates the file and schema; the rows then go in with one SQLite
 * transaction (`SqliteStore.put` commits once per entry: ~0.25 ms each here).
 *
 * @param home the CACHE_HOME folder (created if needed)
 * @param upstream the CACHE_UPSTREAM the proxy will run with
 * @param count how many entries
 * @param stored the response to store under every key
 * @returns how long the inserts took, in ms
 */
export async function fillHome(
  home: string,
  upstream: string,
  count: number,
  stored: { body: Uint8Array; contentType: string },
): Promise<number> {
  const config = buildConfig({ CACHE_UPSTREAM: upstream }, home);
  await SqliteStore.open(config.dbPath, { maxEntries: count }).close();
  const t0 = performance.now();
  const keys = await allKeys(count, config.upstream);
  const db = new DatabaseSync(config.dbPath);
  try {
    const insert = db.prepare(
      "INSERT INTO entries (key, status, content_type, model, path, created_at, expires_at, " +
        "last_hit_at, hit_count, size, body) VALUES (?, 200, ?, ?, '/v1/messages', ?, ?, ?, 0, ?, ?)",
    );
    const now = Date.now();
    db.exec("BEGIN");
    for (const key of keys) {
      insert.run(
        key,
        stored.contentType,
        MODEL,
        now,
        now + DAY_MS,
        now,
        stored.body.byteLength,
        stored.body,
      );
    }
    db.exec("COMMIT");
  } finally {
    db.close();
  }
  const store = SqliteStore.open(config.dbPath, { maxEntries: count });
  const found = await store.count();
  await store.close();
  if (found !== count) throw new Error(`${config.dbPath} holds ${found} entries, not ${count}`);
  return performance.now() - t0;
}

/** Keys in batches of 64: one `Promise.all` over 100,000 Web Crypto digests is 6× slower. */
async function allKeys(count: number, upstream: string): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; i < count; i += 64) {
    const batch = Array.from({ length: Math.min(64, count - i) }, (_, j) => keyOf(i + j, upstream));
    keys.push(...await Promise.all(batch));
  }
  return keys;
}

function keyOf(i: number, upstream: string): Promise<string> {
  return cacheKey({
    method: "POST",
    path: "/v1/messages",
    anthropicVersion: HEADERS["anthropic-version"]!,
    anthropicBeta: null,
    namespace: "",
    body: new TextEncoder().encode(entryRequest(i)),
  }, upstream);
}
