/**
 * The proxy with its observers detached, for `scripts/bench.ts`: the same
 * handler, store and event reports as `serve`, but an event bus with no
 * listeners (no ledger, metrics, monitor or call log), so the difference in
 * hit throughput is what observing calls costs.
 *
 * Usage: like `serve` (CACHE_HOME, CACHE_UPSTREAM, CACHE_PORT=0); prints
 * `quiet proxy listening on http://127.0.0.1:PORT` and runs until SIGTERM.
 *
 * @module
 */
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/log.ts";
import { createHandler } from "../src/proxy/server.ts";
import { EventBus } from "../src/stats/events.ts";
import { openStats } from "../src/stats/stats.ts";
import { SqliteStore } from "../src/store/sqlite.ts";

if (import.meta.main) {
  const config = await loadConfig(Deno.env.toObject());
  const log = createLogger(config.logLevel);
  const store = SqliteStore.open(config.dbPath, { maxEntries: config.maxEntries });
  const stats = { ...(await openStats(store, config, log)), events: new EventBus() };
  const handler = createHandler({ config, store, stats, log });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const stop = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGTERM", () => stop.resolve());
  console.log(`quiet proxy listening on http://127.0.0.1:${server.addr.port}`);
  await stop.promise;
  await server.shutdown();
  await stats.close();
  await store.close();
}
