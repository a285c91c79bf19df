/**
 * `llm-cache-proxy serve`: runs the proxy in the foreground until SIGINT or
 * SIGTERM. The only place that serves HTTP (through `connection_guard.ts`).
 *
 * @module
 */
import { type Config, loadConfig } from "../config.ts";
import { parseFlags } from "./args.ts";
import { formatPlural } from "../format.ts";
import { pidPath, removePid, writePid } from "./daemon.ts";
import { createLogger, type Logger } from "../log.ts";
import { LogFileError } from "../log_file.ts";
import { createHandler, type Handler, serveErrorHandler } from "../proxy/server.ts";
import { ConnectionGuard, type Listening } from "./connection_guard.ts";
import { openStats } from "../stats/stats.ts";
import { openStore } from "../store/open.ts";
import type { CacheStore } from "../store/store.ts";

/** One line for the command list. */
export const summary = "Run the proxy in the foreground (Ctrl-C stops it)";

/** The text `serve --help` prints. */
export const help = `Usage: llm-cache-proxy serve

Runs the caching proxy in the foreground until Ctrl-C or SIGTERM.
Configuration comes from the environment, then $CACHE_HOME/.env
(CACHE_PORT, CACHE_HOST, CACHE_UPSTREAM, ANTHROPIC_API_KEY_REAL, ...).

Exit codes: 0 stopped cleanly, 1 could not start, 2 bad configuration or flags.`;

/** How long in-flight responses may take to finish after a stop signal. */
const DRAIN_MS = 5000;
const PRUNE_EVERY_MS = 60 * 60 * 1000;

/**
 * Runs the proxy until a stop signal.
 *
 * @param args flags after `serve`
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  parseFlags(args, {});
  const config = await loadConfig(Deno.env.toObject());
  let log: Logger;
  try {
    log = createLogger(config.logLevel, {
      file: config.logFile,
      format: config.logFormat,
      secrets: [config.apiKey, config.authToken],
    });
  } catch (e) {
    if (!(e instanceof LogFileError)) throw e;
    console.error(`llm-cache-proxy: ${e.message}`);
    return 1;
  }
  try {
    return await serve(config, log);
  } finally {
    await log.close();
  }
}

async function serve(config: Config, log: Logger): Promise<number> {
  let store: CacheStore;
  let where: string;
  try {
    ({ store, where } = await openStore(config, log));
  } catch (e) {
    startupError(log, (e as Error).message); // it names the file and what to do
    return 1;
  }
  const stats = await openStats(store, config, log);
  const servers = listen(config, createHandler({ config, store, stats, log }), log);
  if (!servers) {
    await stats.close();
    await store.close();
    return 1;
  }
  // Expired entries stay for CACHE_STALE_SEC more, for stale-if-error.
  const prune = () => store.prune(Date.now() - config.staleSec * 1000);
  const pruner = setInterval(() => prune().catch(() => {}), PRUNE_EVERY_MS);
  await prune().catch(() => {}); // the store has logged why; serving matters more
  const stopped = stopSignal(); // before the listening line: a supervisor may signal right after it
  await writePid(config, Deno.pid).catch((e) =>
    log.error(
      `Cannot write ${
        pidPath(config)
      }: ${e.message}; "llm-cache-proxy stop" may not find this process`,
    )
  );
  log.info(
    `llm-cache-proxy listening on ${servers.map(origin).join(" and ")}` +
      ` · cache ${where} (${formatPlural(await store.count(), "entry", "entries")}${
        store.health?.() === "degraded" ? ", unreachable: bypassing until it is back" : ""
      })` +
      ` · upstream ${config.upstream}${config.off ? " · cache OFF (bypass)" : ""}`,
  );
  await log.flush(); // whoever waits for the listening line should not wait for a batch
  await stopped;
  log.info("Stopping: finishing responses in flight");
  clearInterval(pruner);
  await Promise.race([
    Promise.all(servers.map((s) => s.shutdown())),
    new Promise((resolve) => Deno.unrefTimer(setTimeout(resolve, DRAIN_MS))),
  ]);
  await stats.close(); // a store that is down keeps the last second's counts: logged, not fatal
  await store.close();
  await removePid(config, Deno.pid);
  return 0;
}

/**
 * A reason the proxy cannot start: on stderr, and in the log file too, where
 * `llm-cache-proxy on` reads it for a proxy started in the background.
 */
function startupError(log: Logger, message: string): void {
  if (log.enabled("error")) log.error(message);
  else console.error(`llm-cache-proxy: ${message}`);
}

/**
 * Binds every address of `config.host`. The loopback default listens on both
 * 127.0.0.1 and ::1, so `http://localhost:PORT` works whichever one a client
 * resolves `localhost` to.
 */
function listen(config: Config, handler: Handler, log: Logger): Listening[] | undefined {
  const [first, ...others] = bindAddresses(config.host);
  const limits = {
    headerTimeoutMs: config.headerTimeoutSec * 1000,
    idleTimeoutMs: config.idleTimeoutSec * 1000,
    maxConnections: config.maxConnections,
  };
  const onError = serveErrorHandler(log);
  const guard = new ConnectionGuard(handler, { limits, log, onError }); // one cap for every address
  const at = (hostname: string, port: number) => guard.listen(hostname, port);
  let primary: Listening;
  try {
    primary = at(first!, config.port);
  } catch (e) {
    const hint = e instanceof Deno.errors.AddrInUse
      ? "another program (or another proxy) uses it; stop it or set CACHE_PORT"
      : "check CACHE_HOST and CACHE_PORT";
    startupError(
      log,
      `cannot listen on ${first}:${config.port} (${(e as Error).message}); ${hint}`,
    );
    return undefined;
  }
  const servers = [primary];
  for (const hostname of others) {
    try {
      servers.push(at(hostname, primary.addr.port));
    } catch (e) {
      log.debug(`Not listening on ${hostname} as well: ${(e as Error).message}`);
    }
  }
  return servers;
}

function bindAddresses(host: string): string[] {
  if (host === "127.0.0.1" || host === "localhost") return ["127.0.0.1", "::1"];
  return [host.replace(/^\[|\]$/g, "")];
}

function origin(server: Listening): string {
  const { hostname, port } = server.addr;
  return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

function stopSignal(): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT", "SIGBREAK"]
    : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, () => resolve());
  return promise;
}
