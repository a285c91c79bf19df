/**
 * The Redis store's connection and commands: a node-redis client that fails
 * fast, one command with a deadline, a Lua script run by its SHA-1, and client
 * errors put in words that say what is wrong, where, and what to do. Private
 * to `src/store/`; `redis.ts` builds the store on it.
 *
 * Fail fast: commands are never queued while disconnected (they reject at
 * once), each one times out after the command timeout, the client reconnects
 * in the background every {@link RETRY_EVERY_MS} ms, and a dropped connection
 * is an error event, never a crash. {@link firstAttempt} returns within about
 * a second even when Redis is down.
 *
 * Never stuck: a connection that goes silent (a handshake nobody answers, or
 * commands that time out with no reply at all since) is abandoned after
 * {@link STUCK_MS} and a new client made, since the client itself would wait
 * on such a socket forever.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createClient, ErrorReply, RESP_TYPES, TimeoutError } from "redis";
import type { Script } from "./_redis_scripts.ts";
import type { RedisTls } from "../_config_tls.ts";
import { guardTls, isTlsAlert, tlsProblem, unguardTls } from "./_redis_tls.ts";

/** How often a lost connection is retried, in ms. */
export const RETRY_EVERY_MS = 500;

/** How long `open()` waits for a first connection, in ms. */
const CONNECT_TIMEOUT_MS = 1000;

/** A connection silent this long (no handshake reply, no reply after a timeout) is replaced, in ms. */
export const STUCK_MS = 3000;

/** How often a connection is checked for being stuck, in ms. */
const WATCH_EVERY_MS = 500;

/** The node-redis client the store talks through. */
export type Client = ReturnType<typeof newClient>;

/** Per-command options of the client (a timeout, a reply type mapping). */
export type CommandOptions = NonNullable<Parameters<Client["sendCommand"]>[1]>;

/** Replies with bulk strings as Buffers: bodies are bytes, not text. */
export const BUFFERS: CommandOptions = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } };

/** A client and what its commands and error messages need. */
export interface Connection {
  /** The client, replaced when it is stuck; its owner closes it with {@link disconnect}. */
  client: Client;
  /** `host:port[/db]`, without credentials, for messages. */
  readonly where: string;
  /** A command fails after this many ms unless its options say otherwise. */
  readonly timeoutMs: number;
  /** The last connection error, cleared once the client is ready again. */
  lastError: Error | undefined;
  /** Set when the store closes: commands then fail as "closed". */
  closed: boolean;
  /** When the client last connected, failed, or became ready (ms since the epoch). */
  progressAt: number;
  /** Since when commands time out without any reply coming (ms since the epoch). */
  silentSince: number | undefined;
  /** Makes a new client (also when one is stuck). */
  readonly fresh: () => Client;
  /** Checks for a stuck client; stopped by {@link disconnect}. */
  readonly watch: ReturnType<typeof setInterval>;
}

/** One Lua script call: the script and its ARGV (the key prefix first). */
export interface ScriptCall {
  /** The script, run by its SHA-1. */
  readonly script: Script;
  /** ARGV, the key prefix first. */
  readonly argv: readonly (string | Buffer)[];
}

/**
 * A fail-fast client for `url`, not yet connecting (see {@link firstAttempt}),
 * that remembers its last connection error for messages.
 *
 * @param url `redis://[user:pass@]host:port[/db]`, or `rediss://` for TLS
 * @param timeoutMs the default command timeout, in ms
 * @param tls a CA, client certificate and key for `rediss://` (PEM texts)
 * @returns the connection
 * @throws {TypeError} when `url` is not a Redis URL (the message never echoes it)
 */
export function connection(url: string, timeoutMs: number, tls?: RedisTls): Connection {
  const where = describe(url);
  const conn: Connection = {
    client: newClient(url, timeoutMs, tls),
    where,
    timeoutMs,
    lastError: undefined,
    closed: false,
    progressAt: Date.now(),
    silentSince: undefined,
    fresh: () => newClient(url, timeoutMs, tls),
    watch: setInterval(() => renewIfStuck(conn), WATCH_EVERY_MS),
  };
  Deno.unrefTimer(Number(conn.watch));
  listen(conn, conn.client);
  if (url.toLowerCase().startsWith("rediss:")) guardTls(conn);
  return conn;
}

function listen(conn: Connection, client: Client): void {
  const progress = () => conn.progressAt = Date.now();
  // Without an error listener, a dropped connection would be an uncaught error event.
  client.on("error", (e: Error) => {
    // The closed socket that follows a TLS alert says less than the alert did.
    if (!(isTlsAlert(conn.lastError) && /closed unexpectedly/i.test(e.message))) {
      conn.lastError = e;
    }
    progress();
  });
  client.on("connect", progress);
  client.on("ready", () => {
    conn.lastError = undefined;
    progress();
  });
}

/** Replaces a client that went silent: connecting but not answering, or not replying at all. */
function renewIfStuck(conn: Connection): void {
  const { client } = conn;
  if (conn.closed || !client.isOpen) return;
  const now = Date.now();
  const handshake = !client.isReady && now - conn.progressAt > STUCK_MS;
  const silent = conn.silentSince !== undefined && now - conn.silentSince > STUCK_MS;
  if (!handshake && !silent) return;
  conn.lastError = new Error(`no answer for ${STUCK_MS / 1000} s: the connection was abandoned`);
  conn.silentSince = undefined;
  conn.progressAt = now;
  conn.client = conn.fresh();
  listen(conn, conn.client);
  conn.client.connect().catch(() => {}); // rejects only once closed; it retries until then
  client.destroy();
}

/**
 * Starts connecting; resolves on the first success or failure, or after the
 * connect timeout. The client keeps retrying in the background.
 *
 * @param client a client from {@link connection}
 * @returns resolves after the first attempt, never rejects
 */
export function firstAttempt(client: Client): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off("ready", done).off("error", done);
      resolve();
    };
    const timer = setTimeout(done, CONNECT_TIMEOUT_MS);
    client.on("ready", done).on("error", done);
    // Rejects only once the client is closed: it keeps retrying until then.
    client.connect().catch(() => {});
  });
}

/**
 * Sends one command with a deadline.
 *
 * @param conn the connection
 * @param args the command and its arguments
 * @param options a timeout other than the connection's, {@link BUFFERS}
 * @returns the reply
 * @throws {Error} saying what went wrong and where, the client's error as its cause
 */
export async function send<T = unknown>(
  conn: Connection,
  args: (string | Buffer)[],
  options?: CommandOptions,
): Promise<T> {
  try {
    return await command(conn, args, options) as T;
  } catch (e) {
    throw explain(conn, e);
  }
}

/**
 * Runs a script by its SHA-1, sending its text once when Redis has not seen it.
 *
 * @param conn the connection
 * @param call the script and its ARGV
 * @param options a timeout other than the connection's, {@link BUFFERS}
 * @returns the script's reply
 * @throws {Error} saying what went wrong and where, the client's error as its cause
 */
export async function evalScript(
  conn: Connection,
  call: ScriptCall,
  options?: CommandOptions,
): Promise<unknown> {
  const { script: { sha, source }, argv } = call;
  try {
    return await command(conn, ["EVALSHA", sha, "0", ...argv], options);
  } catch (e) {
    if (!(e instanceof ErrorReply && e.message.startsWith("NOSCRIPT"))) throw explain(conn, e);
  }
  return await send(conn, ["EVAL", source, "0", ...argv], options);
}

/**
 * Waits for commands in flight (at most a command timeout), then disconnects.
 *
 * @param conn the connection
 */
export async function disconnect(conn: Connection): Promise<void> {
  clearInterval(conn.watch);
  unguardTls(conn);
  if (conn.client.isReady) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gaveUp = new Promise<void>((resolve) => timer = setTimeout(resolve, conn.timeoutMs));
    await Promise.race([conn.client.close().catch(() => {}), gaveUp]);
    clearTimeout(timer);
  }
  conn.client.destroy();
}

/**
 * One command with a deadline. The client's own timeout only covers a
 * command still waiting to be written; this one also covers a written
 * command whose reply does not come (a hung server). The client still
 * matches the late reply to its command, so later replies stay in step.
 */
async function command(
  conn: Connection,
  args: (string | Buffer)[],
  options?: CommandOptions,
): Promise<unknown> {
  const reply = conn.client.sendCommand(args, options);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      conn.silentSince ??= Date.now();
      reject(new TimeoutError());
    }, options?.timeout ?? conn.timeoutMs);
  });
  // Any reply, even a late one, shows the connection is alive.
  const answered = () => conn.silentSince = undefined;
  reply.then(answered, (e) => e instanceof ErrorReply && answered());
  try {
    return await Promise.race([reply, late]);
  } finally {
    clearTimeout(timer);
    reply.catch(() => {}); // a reply given up on may still fail later
  }
}

/** A client error in words that say what is wrong and where. */
function explain(conn: Connection, e: unknown): Error {
  const where = conn.where;
  if (e instanceof ErrorReply) {
    return new Error(`Redis at ${where}: ${e.message}`, { cause: e });
  }
  if (conn.closed) {
    return new Error(`The Redis store for ${where} is closed`, { cause: e });
  }
  if (e instanceof TimeoutError) {
    return new Error(`Redis at ${where} did not answer within the command timeout`, { cause: e });
  }
  const why = conn.lastError?.message || (e as Error).message;
  const tls = tlsProblem(why);
  if (tls) return new Error(`Redis at ${where} refused the TLS connection (${why}): ${tls}`);
  return new Error(
    `Cannot reach Redis at ${where} (${why}); retrying every ${RETRY_EVERY_MS} ms. ` +
      "Check that Redis is running and that CACHE_STORE names it",
    { cause: e },
  );
}

/** A client that fails fast: no offline queue, a timeout per command, retries in the background. */
function newClient(url: string, timeoutMs: number, tls: RedisTls = {}) {
  return createClient({
    url,
    RESP: 2, // flat replies, and servers older than Redis 6 work too
    disableOfflineQueue: true,
    maintNotifications: "disabled",
    socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: RETRY_EVERY_MS, ...tls },
    commandOptions: { timeout: timeoutMs },
  });
}

/** `host:port[/db]` of a Redis URL, without credentials, for messages. */
function describe(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The URL may hold a password: never echo it.
    throw new TypeError(`Cannot parse the Redis URL: expected ${URL_SHAPE}`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new TypeError(`Cannot use a ${parsed.protocol} URL for Redis: expected ${URL_SHAPE}`);
  }
  const db = parsed.pathname.length > 1 ? parsed.pathname : "";
  return `${parsed.hostname}:${parsed.port || "6379"}${db}`;
}

const URL_SHAPE = "redis://[user:pass@]host:port[/db] or rediss://… for TLS";
