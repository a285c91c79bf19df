/**
 * A real `redis-server` for tests, on a free loopback port, without
 * persistence, in a temp folder. It runs under a small `sh` that kills it
 * when its stdin closes, so a test run that ends or dies (Ctrl-C, a crash)
 * never leaves a server behind, even one started for a whole test file.
 *
 * @module
 */
import { freePort } from "./harness.ts";

/** TLS for a test Redis: it then listens for TLS only. */
export interface RedisTlsOptions {
  /** PEM paths of its certificate, its key, and the CA it checks clients against. */
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  /** Require a client certificate (`tls-auth-clients yes`). @default false */
  readonly authClients?: boolean;
}

/** A running (or stopped) test Redis. */
export interface RedisServer extends AsyncDisposable {
  /** `redis://127.0.0.1:<port>`, or `rediss://…` with TLS. */
  readonly url: string;
  readonly port: number;
  /** Stops the server and waits until it exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty; resolves once it answers PING. */
  start(): Promise<void>;
}

/** How long a server may take to answer its first PING. */
const READY_TIMEOUT_MS = 5000;

/**
 * Runs `redis-server "$@"` until it exits or stdin closes, whichever comes first. A background
 * job's stdin is /dev/null, so the watcher reads the real one through fd 3.
 */
const WATCHDOG =
  'exec 3<&0; "$@" & pid=$!; (cat <&3 >/dev/null; kill $pid 2>/dev/null) & wait $pid';

/**
 * Starts `redis-server` and waits until it answers PING.
 *
 * @param tls certificates to listen with TLS only
 *
 * @returns the server; dispose it (or `stop()`) when done
 * @throws {Error} when redis-server is not installed or does not come up
 * @example
 * ```ts
 * await using redis = await startRedis();
 * const store = await RedisStore.open(redis.url, { maxEntries: 10 });
 * ```
 */
export async function startRedis(tls?: RedisTlsOptions): Promise<RedisServer> {
  await requireRedisServer();
  const dir = await Deno.makeTempDir({ prefix: "redis-test-" });
  const port = freePort();
  let child: Deno.ChildProcess | undefined;
  // A server started for a whole test file is never disposed: its folder goes with the run.
  const removeDir = () => Deno.removeSync(dir, { recursive: true });
  globalThis.addEventListener("unload", removeDir);
  const server: RedisServer = {
    url: `${tls ? "rediss" : "redis"}://127.0.0.1:${port}`,
    port,
    async stop() {
      if (!child) return;
      const stopping = child;
      child = undefined;
      stopping.ref(); // awaiting an unref'd child would let the event loop end first
      await stopping.stdin.close();
      await stopping.status;
    },
    async start() {
      if (child) return;
      child = spawn(port, dir, tls);
      await untilReady(port, child, dir, tls);
    },
    async [Symbol.asyncDispose]() {
      await server.stop();
      globalThis.removeEventListener("unload", removeDir);
      await Deno.remove(dir, { recursive: true });
    },
  };
  try {
    await server.start();
  } catch (e) {
    await server[Symbol.asyncDispose]();
    throw e;
  }
  return server;
}

async function requireRedisServer(): Promise<void> {
  try {
    await new Deno.Command("redis-server", { args: ["--version"], stdout: "null" }).output();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new Error(
      "Cannot run the Redis tests: redis-server is not installed. " +
        "Install it (apt-get install redis-server, or brew install redis) and run them again",
    );
  }
}

function spawn(port: number, dir: string, tls: RedisTlsOptions | undefined): Deno.ChildProcess {
  const listen = tls
    ? [
      ...["--port", "0", "--tls-port", String(port), "--tls-cert-file", tls.cert],
      ...["--tls-key-file", tls.key, "--tls-ca-cert-file", tls.ca],
      ...["--tls-auth-clients", tls.authClients ? "yes" : "no"],
    ]
    : ["--port", String(port)];
  const args = [...listen, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  const child = new Deno.Command("sh", {
    args: ["-c", WATCHDOG, "sh", "redis-server", ...args, "--dir", dir, "--logfile", "redis.log"],
    cwd: dir,
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref(); // never keeps a test run alive; the watchdog ends it with the run
  return child;
}

/** Polls PING until the server answers, failing early if it exited. */
async function untilReady(
  port: number,
  child: Deno.ChildProcess,
  dir: string,
  tls: RedisTlsOptions | undefined,
): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && !exited) {
    if (await answersPing(port, tls)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const log = await Deno.readTextFile(`${dir}/redis.log`).catch(() => "(no log)");
  throw new Error(
    `redis-server on port ${port} ${exited ? "exited" : "did not answer PING in 5 s"}:\n` +
      log.split("\n").slice(-10).join("\n"),
  );
}

async function answersPing(port: number, tls: RedisTlsOptions | undefined): Promise<boolean> {
  let conn: Deno.Conn | undefined;
  try {
    conn = tls
      ? await Deno.connectTls({
        hostname: "127.0.0.1",
        port,
        caCerts: [await Deno.readTextFile(tls.ca)],
        cert: await Deno.readTextFile(tls.cert), // a CA-signed certificate of the server's own
        key: await Deno.readTextFile(tls.key),
      })
      : await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const buffer = new Uint8Array(64);
    const n = await conn.read(buffer);
    return new TextDecoder().decode(buffer.subarray(0, n ?? 0)).startsWith("+PONG");
  } catch {
    return false;
  } finally {
    conn?.close();
  }
}
