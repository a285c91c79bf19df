/**
 * Starts the real proxy handler on a real port-0 server in front of the mock
 * Anthropic API, with a real SQLite store (in memory unless a path is given).
 *
 * @module
 */
import { buildConfig, type Config } from "../../src/config.ts";
import { type Env } from "../../src/config_vars.ts";
import { createLogger } from "../../src/log.ts";
import { createHandler, serveErrorHandler } from "../../src/proxy/server.ts";
import { openStats, type Stats } from "../../src/stats/stats.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { CacheStore } from "../../src/store/store.ts";
import { type MockAnthropic, startMockAnthropic } from "./mock_anthropic.ts";
import type { NormalizeRules } from "../../src/values/normalize_rules.ts";

/** A running proxy and its upstream, torn down with `await using`. */
export interface ProxyUnderTest extends AsyncDisposable {
  /** Base URL of the proxy, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** The mock upstream; counts what reaches it. */
  readonly mock: MockAnthropic;
  /** The store behind the proxy. */
  readonly store: CacheStore;
  /** The configuration the proxy runs with. */
  readonly config: Config;
  /** Log lines the proxy wrote. */
  readonly logs: string[];
  /** The event bus, ledger, monitor and metrics behind the proxy. */
  readonly stats: Stats;
  /** Sends a request to the proxy. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/** Options of {@link startProxy}. */
export interface ProxyOptions {
  /** Extra configuration variables (CACHE_*, ANTHROPIC_API_KEY_REAL). */
  readonly env?: Env;
  /** A store to use instead of a fresh in-memory SQLite one. */
  readonly store?: CacheStore;
  /** Clock for TTLs. */
  readonly now?: () => number;
  /** An upstream URL to use instead of the mock (e.g. a closed port). */
  readonly upstream?: string;
  /** The fetch the proxy calls upstream with (to delay or observe it). */
  readonly fetch?: typeof fetch;
  /** Normalization rules, as `$CACHE_HOME/normalize.json` would give them. */
  readonly normalize?: NormalizeRules;
}

/**
 * Starts a mock upstream and a proxy in front of it.
 *
 * @param options configuration overrides, store and clock
 * @returns the running pair
 */
export async function startProxy(options: ProxyOptions = {}): Promise<ProxyUnderTest> {
  const mock = await startMockAnthropic();
  const config = buildConfig(
    {
      CACHE_UPSTREAM: options.upstream ?? mock.url,
      CACHE_LOG_LEVEL: "debug",
      ...options.env,
    },
    "/nonexistent-cache-home",
    options.normalize ? { normalize: options.normalize } : {},
  );
  const store = options.store ?? SqliteStore.open(":memory:", {
    maxEntries: config.maxEntries,
    ...(options.now ? { now: options.now } : {}),
  });
  const logs: string[] = [];
  const log = createLogger(config.logLevel, (line) => logs.push(line));
  const stats = await openStats(store, config, log);
  const handler = createHandler({
    config,
    store,
    stats,
    log,
    ...(options.now ? { now: options.now } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const onError = serveErrorHandler(log);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {}, onError }, handler);
  const url = `http://127.0.0.1:${server.addr.port}`;
  return {
    url,
    mock,
    store,
    config,
    logs,
    stats,
    fetch: (path, init) => fetch(`${url}${path}`, init),
    async [Symbol.asyncDispose]() {
      await mock.close(); // ends upstream streams first, so open responses can finish
      stats.monitor.close();
      await server.shutdown();
      await stats.close();
      await store.close();
    },
  };
}

/**
 * A `/v1/messages` request body.
 *
 * @param text the user's message (may carry a `[mock:…]` directive)
 * @param extra more top-level fields, e.g. `{ stream: true }`
 * @returns the JSON text
 */
export function messageBody(text: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    model: "claude-sonnet-4-5-20250929",
    max_tokens: 1024,
    messages: [{ role: "user", content: text }],
    ...extra,
  });
}

/**
 * POSTs a message request to the proxy with the usual Anthropic headers.
 *
 * @param proxy the proxy
 * @param body the JSON body
 * @param headers extra headers
 * @returns the response
 */
export function postMessage(
  proxy: ProxyUnderTest,
  body: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return proxy.fetch("/v1/messages", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "x-api-key": "sk-ant-client-key",
      ...headers,
    },
    body,
  });
}
