/**
 * Opens the store a configuration names: the embedded SQLite file, or a Redis
 * store shared by a fleet, wrapped so that the proxy fails open while Redis is
 * unreachable (at start or later) and resumes caching by itself when it is back.
 * A SQLite file that is corrupt is set aside and the proxy starts on a fresh one.
 *
 * @module
 */
import { type Config } from "../config.ts";
import { redactUrl } from "../config_addresses.ts";
import type { Logger } from "../log.ts";
import { FailOpenStore } from "./fail_open.ts";
import type { RedisStore } from "./redis.ts";
import { exists } from "../fs.ts";
import { SqliteStore } from "./sqlite.ts";
import { problemOf } from "./storage_error.ts";
import type { CacheStore } from "./store.ts";

/** An open store and how to name it in the start-up line. */
export interface OpenStore {
  readonly store: CacheStore;
  /** e.g. `/home/u/.llm-cache-proxy/cache.db` or `redis://cache:6379 (shared)`. */
  readonly where: string;
}

/**
 * Opens the configured store.
 *
 * @param config the configuration (`storeUrl`, `dbPath`, `maxEntries`, `staleSec`)
 * @param log where a Redis outage, a failing disk or a corrupt file set aside is reported
 * @param now the clock that names a corrupt file set aside @default Date.now
 * @returns the store, ready to serve (degraded when Redis is down)
 * @throws when the SQLite file cannot be opened (read-only, disk full), saying what to do
 */
export async function openStore(
  config: Config,
  log: Logger,
  now: () => number = Date.now,
): Promise<OpenStore> {
  if (config.storeUrl === undefined) {
    return { store: openSqlite(config, log, now), where: config.dbPath };
  }
  let redis: RedisStore;
  try {
    redis = await openRedis(config, config.storeUrl, log);
  } catch (e) {
    throw new Error(
      `cannot open the cache at ${redactUrl(config.storeUrl)} (${(e as Error).message})`,
    );
  }
  const store = new FailOpenStore(redis, log);
  await store.check();
  return { store, where: `${redactUrl(config.storeUrl)} (shared)` };
}

/**
 * Opens the configured store for a command (`stats`, `explore`, `export`,
 * `import`, `validate`): Redis as is, so an outage is an error the command
 * reports; the SQLite file only if it exists, unless `create` (an empty
 * in-memory store stands in, so reading a cache never creates one).
 *
 * @param config the configuration
 * @param create create the SQLite file when it does not exist (for `import`)
 * @returns the store and its name
 * @throws when it cannot be opened, with where it was looked for
 */
export async function openForCommand(config: Config, create = false): Promise<OpenStore> {
  if (config.storeUrl !== undefined) {
    return { store: await openRedis(config, config.storeUrl), where: redactUrl(config.storeUrl) };
  }
  try {
    const path = create || (await exists(config.dbPath)) ? config.dbPath : ":memory:";
    return {
      store: SqliteStore.open(path, { maxEntries: config.maxEntries }),
      where: config.dbPath,
    };
  } catch (e) {
    if (problemOf(e) !== undefined) throw e; // it says what happened and what to do
    throw notOpened(config, e);
  }
}

function notOpened(config: Config, e: unknown): Error {
  return new Error(
    `cannot open the cache at ${config.dbPath} (${(e as Error).message}); ` +
      `check that CACHE_HOME (${config.home}) is a readable, writable folder`,
  );
}

/**
 * The SQLite store; a file that is not a database, or is damaged, is moved
 * aside (logged once, at error level) and a fresh one takes its place, so a
 * broken cache never keeps the proxy from serving.
 */
function openSqlite(config: Config, log: Logger, now: () => number): SqliteStore {
  try {
    return SqliteStore.open(config.dbPath, {
      maxEntries: config.maxEntries,
      log,
      now,
      setAsideCorrupt: true,
      checkpointInBackground: true,
    });
  } catch (e) {
    if (problemOf(e) === undefined) throw notOpened(config, e);
    throw e; // it says what happened and what to do
  }
}

/**
 * The Redis store, its client loaded only when it is used: the npm client
 * costs a SQLite-only proxy about 100 ms of start-up.
 */
async function openRedis(config: Config, url: string, log?: Logger): Promise<RedisStore> {
  const { RedisStore } = await import("./redis.ts");
  return await RedisStore.open(url, {
    ...log ? { note: (message: string) => log.info(message) } : {},
    maxEntries: config.maxEntries,
    staleMs: config.staleSec * 1000,
    tls: config.redisTls,
  });
}
