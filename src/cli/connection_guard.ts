/**
 * Serves HTTP like `Deno.serve`, with the connection limits a server facing a
 * network needs and `Deno.serve` lacks (measured on Deno 2.9.6: a half-sent
 * header, an idle keep-alive connection and a silent one all stay open for
 * good, and nothing caps how many are open):
 *
 * - a connection that has not sent a whole request head within the header
 *   timeout of connecting is closed (slow-header clients);
 * - a connection with no request in flight for the idle timeout is closed,
 *   which also bounds a slow header on a kept-alive connection; a response
 *   still streaming counts as in flight, however long it runs;
 * - past the cap on open connections (all the addresses it listens on
 *   together), a new one is closed as soon as it is accepted, and the ones
 *   open carry on.
 *
 * How: our own accept loop hands each connection to Deno's HTTP server through
 * `serveHttpOnConnection`, the internal function `Deno.serve` itself uses (Deno
 * has no public per-connection hook); its `shutdown()` closes that one
 * connection as `Deno.serve`'s does all of them: at once when idle or
 * half-read, after the response when one is in flight or still being written.
 * Requests are parsed and answered by the same native code as `Deno.serve`;
 * each costs a counter and its `completed` promise more, and one sweep a tick
 * (at most a second) finds the connections past a timeout.
 *
 * @module
 */
import type { Logger } from "../log.ts";

/** Limits on client connections; 0 turns one off. */
export interface ConnectionLimits {
  /** From accept to a complete first request head. */
  readonly headerTimeoutMs: number;
  /** With no request in flight. */
  readonly idleTimeoutMs: number;
  /** Open connections at most. */
  readonly maxConnections: number;
}

/** Options of {@link ConnectionGuard}. */
export interface GuardOptions {
  /** The limits. */
  readonly limits: ConnectionLimits;
  /** Where refusals and accept failures are reported. */
  readonly log: Logger;
  /** What a handler that throws, or a response body that breaks off, gets (and logs). */
  readonly onError: (error: unknown) => Response;
}

/** A listening server: what `serve` needs of one, `Deno.HttpServer` included. */
export interface Listening {
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  /** Stops accepting, lets requests in flight finish, then closes every connection. */
  shutdown(): Promise<void>;
}

type ServeHandler = (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Promise<Response>;
/** What Deno's `serveHttpOnConnection` returns: an `HttpServer` for one connection. */
interface PerConnection {
  readonly finished: Promise<void>;
  shutdown(): Promise<void>;
}
type ServeOnConnection = (
  conn: Deno.Conn,
  signal: AbortSignal | undefined,
  handler: ServeHandler,
  onError: (error: unknown) => Response,
  onListen: () => void,
) => PerConnection;

/** Deno's internal per-connection server; undefined on a Deno without it. */
const serveOnConnection = ((Deno as unknown as Record<symbol, Record<string, unknown>>)[
  (Deno as unknown as { internal: symbol }).internal
]?.serveHttpOnConnection) as ServeOnConnection | undefined;

const NOTICE_EVERY_MS = 60_000;
const ACCEPT_RETRY_MS = 100;

/** A quarter of the shortest timeout, within 10 ms and 1 s: a timeout is late by at most that. */
function sweepEvery(shortestMs: number): number {
  return Math.min(1000, Math.max(10, Math.floor(shortestMs / 4)));
}

/** One accepted connection and what the sweep needs to know of it. */
class Connection {
  /** Requests whose response is not yet handed over whole. */
  inFlight = 0;
  /** Whether a request head has arrived yet. */
  started = false;
  /** `performance.now()` when it was accepted or its last response handed over. */
  idleSince = performance.now();
  #server: PerConnection | undefined;
  #closing = false;

  /** Counts a request until its response is handed over (`info.completed`). */
  readonly track = (info: Deno.ServeHandlerInfo<Deno.NetAddr>): void => {
    this.inFlight++;
    this.started = true;
    info.completed.then(this.#done, this.#done);
  };

  #done = (): void => {
    this.inFlight--;
    this.idleSince = performance.now();
  };

  /** @param server Deno's server for this one connection */
  serve(server: PerConnection): void {
    this.#server = server;
  }

  /**
   * Closes it gracefully: at once when nothing is in flight or being written,
   * else once the response is sent (a slow reader gets all of it).
   */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#server?.shutdown().catch(() => {});
  }
}

/**
 * Serves one handler on any number of addresses within one set of limits.
 * With every limit off (or on a Deno without the per-connection server, said
 * once in the log) each address gets a plain `Deno.serve`.
 *
 * @example
 * ```ts
 * const limits = { headerTimeoutMs: 30_000, idleTimeoutMs: 75_000, maxConnections: 512 };
 * const guard = new ConnectionGuard(handler, { limits, log });
 * const server = guard.listen("127.0.0.1", 4000);
 * ```
 */
export class ConnectionGuard {
  /** Each open connection, with a promise that settles once it is closed. */
  #connections = new Map<Connection, Promise<void>>();
  #listening = 0;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #refused = 0;
  /** When each kind of notice was last logged. */
  #lastNotice = new Map<"accept" | "refused", number>();
  #handler: ServeHandler;
  #options: GuardOptions;
  #onError: (error: unknown) => Response;
  #guarded: boolean;

  /**
   * @param handler the request handler
   * @param options the limits and the logger
   */
  constructor(handler: ServeHandler, options: GuardOptions) {
    this.#handler = handler;
    this.#options = options;
    this.#onError = options.onError;
    const { headerTimeoutMs, idleTimeoutMs, maxConnections } = options.limits;
    const limited = headerTimeoutMs > 0 || idleTimeoutMs > 0 || maxConnections > 0;
    this.#guarded = limited && serveOnConnection !== undefined;
    if (limited && !this.#guarded) {
      options.log.error(
        `This Deno (${Deno.version.deno}) has no per-connection server: the header and idle ` +
          "timeouts and CACHE_MAX_CONNECTIONS are not enforced; run the released binary",
      );
    }
  }

  /**
   * Starts serving on `hostname:port`.
   *
   * @param hostname the address to bind
   * @param port the port; 0 picks a free one
   * @returns the server on that address
   * @throws {Deno.errors.AddrInUse} and the other errors of `Deno.listen`
   */
  listen(hostname: string, port: number): Listening {
    if (!this.#guarded) {
      return Deno.serve({ hostname, port, onListen() {}, onError: this.#onError }, this.#handler);
    }
    const listener = Deno.listen({ hostname, port });
    if (this.#listening++ === 0) this.#startSweeping();
    let stopping = false;
    const mine = new Set<Connection>();
    const accepting = this.#acceptLoop(listener, mine, () => stopping);
    return {
      addr: listener.addr,
      shutdown: async () => {
        stopping = true;
        listener.close();
        await accepting;
        if (--this.#listening === 0) clearInterval(this.#sweeper);
        for (const connection of mine) connection.close();
        await Promise.all([...mine].map((c) => this.#connections.get(c)));
      },
    };
  }

  async #acceptLoop(
    listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr>,
    mine: Set<Connection>,
    stopping: () => boolean,
  ): Promise<void> {
    const { maxConnections } = this.#options.limits;
    while (!stopping()) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (stopping()) return;
        // EMFILE and the like: the listener is fine, a later accept may work.
        this.#notice(
          "accept",
          `Cannot accept a connection (${(e as Error).message}); retrying. ` +
            'For "Too many open files", raise the open-files limit (ulimit -n) ' +
            "or lower CACHE_MAX_CONNECTIONS",
        );
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      if (maxConnections > 0 && this.#connections.size >= maxConnections) {
        conn.close();
        this.#refused++;
        this.#notice(
          "refused",
          `Closed a new connection: CACHE_MAX_CONNECTIONS=${maxConnections} are open ` +
            `(${this.#refused} closed since this was last said, at most once a minute); ` +
            "raise it if these are real clients",
          () => (this.#refused = 0),
        );
        continue;
      }
      this.#track(conn, mine);
    }
  }

  #track(conn: Deno.TcpConn, mine: Set<Connection>): void {
    const connection = new Connection();
    const tracked: ServeHandler = (req, info) => {
      connection.track(info);
      return this.#handler(req, info);
    };
    const server = serveOnConnection!(conn, undefined, tracked, this.#onError, () => {});
    connection.serve(server);
    // A connection reset rejects `finished`; it is closed all the same.
    const closed = server.finished.catch(() => {}).finally(() => {
      this.#connections.delete(connection);
      mine.delete(connection);
    });
    this.#connections.set(connection, closed);
    mine.add(connection);
  }

  /** One sweep a tick rather than a timer re-armed per request (~1.5 µs each on a hit). */
  #startSweeping(): void {
    const { headerTimeoutMs, idleTimeoutMs } = this.#options.limits;
    const timeouts = [headerTimeoutMs, idleTimeoutMs].filter((ms) => ms > 0);
    if (timeouts.length === 0) return;
    this.#sweeper = setInterval(() => this.#sweep(), sweepEvery(Math.min(...timeouts)));
  }

  /** Closes every connection past its header or idle timeout with nothing in flight. */
  #sweep(): void {
    const { headerTimeoutMs, idleTimeoutMs } = this.#options.limits;
    const now = performance.now();
    for (const connection of this.#connections.keys()) {
      if (connection.inFlight > 0) continue;
      const limit = connection.started ? idleTimeoutMs : headerTimeoutMs;
      if (limit > 0 && now - connection.idleSince >= limit) connection.close();
    }
  }

  /** Logs `message` at most once a minute per kind, so a flood of refusals is one line. */
  #notice(kind: "accept" | "refused", message: string, logged?: () => void): void {
    const now = performance.now();
    if (now - (this.#lastNotice.get(kind) ?? -Infinity) < NOTICE_EVERY_MS) return;
    this.#lastNotice.set(kind, now);
    this.#options.log.error(message);
    logged?.();
  }
}
