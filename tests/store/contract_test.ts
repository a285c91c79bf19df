/**
 * The store contract (`contract.ts`) run against every backend: SQLite on a
 * temp file (a second instance opens the same file) and Redis on a real
 * `redis-server` (one for this file; each test gets its own key prefix).
 *
 * @module
 */
import { RedisStore } from "../../src/store/redis.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { startRedis } from "../support/redis.ts";
import { needs } from "../support/tools.ts";
import { storeContract } from "./contract.ts";

storeContract("SqliteStore", async () => {
  const dir = await Deno.makeTempDir({ prefix: "store-contract-" });
  return {
    open: (options) => Promise.resolve(SqliteStore.open(`${dir}/cache.db`, options)),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
});

// Started before any test, so no test sees it as a leaked resource; it ends with the run.
// Without redis-server the Redis half is ignored (or, under .ci/run, fails with how to install it).
const { ignore } = needs("redis-server");
const redis = ignore ? undefined : await startRedis().catch((e: Error) => e);
let tests = 0;

if (redis instanceof Error) {
  Deno.test("RedisStore: contract", () => {
    throw redis;
  });
} else {
  storeContract("RedisStore", () => {
    const prefix = `contract${++tests}:`;
    return Promise.resolve({
      // No stale window: prune() removes at once what expired, as the contract has it.
      open: (options) => RedisStore.open(redis!.url, { ...options, prefix, staleMs: 0 }),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    });
  }, { ignore });
}
