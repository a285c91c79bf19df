/**
 * Talks to a running proxy the way the commands need it: where it listens
 * (from the config), with the auth token, and with short timeouts so a
 * command never hangs on a proxy that does not answer.
 *
 * @module
 */
import type { Config } from "../config.ts";

/** What `GET /health` answers. */
export interface Health {
  readonly status: string;
  /** Absent from llm-cache-proxy v2's answer. */
  readonly pid: number;
  readonly version: string;
  /** `degraded` while a shared store is unreachable (the proxy bypasses the cache). */
  readonly store?: "ok" | "degraded";
  /** The cache home the proxy serves (`CACHE_HOME`). */
  readonly home?: string;
}

/** What answers at a proxy's address: the proxy of this home, another home's, or nothing. */
export interface Probe {
  /** The proxy of this client's cache home. */
  readonly health: Health | undefined;
  /** An llm-cache-proxy serving another cache home on the same address. */
  readonly foreign: Health | undefined;
}

const TIMEOUT_MS = 2000;

/** A client of one proxy's control and stats routes. */
export class ProxyClient {
  /** e.g. `http://127.0.0.1:4000`. */
  readonly base: string;
  #headers: Record<string, string>;
  #home: string | undefined;

  /**
   * @param base the proxy's origin
   * @param token the `x-cache-auth` token, if the proxy needs one
   * @param home the cache home whose proxy this client looks for; a proxy
   *   answering for another home is not taken for it
   */
  constructor(base: string, token?: string, home?: string) {
    this.base = base;
    this.#headers = token === undefined ? {} : { "x-cache-auth": token };
    this.#home = home;
  }

  /**
   * The client for the proxy `config` describes; a wildcard bind address is
   * reached through loopback.
   *
   * @param config the configuration the proxy runs with
   * @returns the client
   */
  static for(config: Config): ProxyClient {
    let host = config.host.replace(/^\[|\]$/g, "");
    if (host === "0.0.0.0" || host === "localhost") host = "127.0.0.1";
    if (host === "::") host = "::1";
    const origin = host.includes(":") ? `[${host}]` : host;
    return new ProxyClient(`http://${origin}:${config.port}`, config.authToken, config.home);
  }

  /**
   * `GET /health` of this home's proxy, or undefined when nothing answers in
   * time or the proxy there serves another cache home.
   *
   * @param timeoutMs how long to wait
   * @returns the health, or undefined
   */
  async health(timeoutMs = TIMEOUT_MS): Promise<Health | undefined> {
    return (await this.probe(timeoutMs)).health;
  }

  /**
   * Asks `GET /health` who answers at this address.
   *
   * @param timeoutMs how long to wait
   * @returns this home's proxy, another home's, or neither
   */
  async probe(timeoutMs = TIMEOUT_MS): Promise<Probe> {
    let health: Health | undefined;
    try {
      const res = await this.request("/health", { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) await res.body?.cancel();
      else {
        const body = await res.json();
        if (typeof body?.status === "string") health = body as Health;
      }
    } catch {
      // Nothing answers, or not in time.
    }
    if (health === undefined || this.#home === undefined) return { health, foreign: undefined };
    // A proxy that does not name its home (llm-cache-proxy v2, an older build) is not ours to
    // stop, restart or report on.
    if (health.home === undefined) return { health: undefined, foreign: health };
    return await sameFolder(health.home, this.#home)
      ? { health, foreign: undefined }
      : { health: undefined, foreign: health };
  }

  /**
   * Reads a JSON route.
   *
   * @param path e.g. `/stats`
   * @param init method and the like
   * @returns the parsed body
   * @throws {Error} naming the route and status when the proxy refuses
   */
  async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const res = await this.request(path, { signal: AbortSignal.timeout(TIMEOUT_MS), ...init });
    const text = await res.text();
    if (!res.ok) {
      let message = text.slice(0, 200);
      try {
        message = JSON.parse(text)?.error?.message ?? message;
      } catch {
        // Not JSON: show the start of the text.
      }
      throw new Error(`${path} answered ${res.status}: ${message}`);
    }
    return JSON.parse(text) as T;
  }

  /**
   * Sends a request to the proxy with the auth header.
   *
   * @param path e.g. `/monitor`
   * @param init method, body, signal
   * @returns the response
   */
  request(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.base}${path}`, {
      ...init,
      headers: { ...this.#headers, ...(init.headers as Record<string, string> | undefined) },
    });
  }
}

/** Whether two paths name one folder (through symlinks, and when they do not exist yet). */
async function sameFolder(a: string, b: string): Promise<boolean> {
  const real = (path: string) => Deno.realPath(path).catch(() => path.replace(/\/+$/, ""));
  const [ra, rb] = await Promise.all([real(a), real(b)]);
  return ra === rb;
}
