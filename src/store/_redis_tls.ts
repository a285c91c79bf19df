/**
 * TLS failures of the Redis client (private to `_redis_client.ts`): what to
 * do about one, in words, and a guard for the one Deno does not report.
 *
 * Deno's TLS sockets throw a fatal alert that comes during the handshake
 * (the server wants a client certificate) outside any listener, which would
 * end the process: while a `rediss://` connection is open, such an alert is
 * caught here and becomes each one's last error instead.
 *
 * @module
 */

/** What a guarded connection exposes: where its last error goes. */
export interface Guarded {
  lastError: Error | undefined;
}

/**
 * What to do about a TLS failure.
 *
 * @param why the client's error message
 * @returns the advice, or undefined when `why` is not a TLS failure
 */
export function tlsProblem(why: string): string | undefined {
  if (/CertificateRequired|certificate required/i.test(why)) {
    return "it requires a client certificate: set CACHE_REDIS_CERT and CACHE_REDIS_KEY";
  }
  if (/certificate|fatal alert|handshake|altnames|\bSSL\b|\bTLS\b/i.test(why)) {
    return "check that CACHE_REDIS_CA names the CA that signed the server's certificate, " +
      "and CACHE_REDIS_CERT and CACHE_REDIS_KEY the client certificate it accepts";
  }
  return undefined;
}

/**
 * Whether `error` is a TLS alert the server sent.
 *
 * @param error an error, if any
 * @returns true for an alert
 */
export function isTlsAlert(error: Error | undefined): boolean {
  return error !== undefined && /^received fatal alert: /.test(error.message);
}

const guarded = new Set<Guarded>();

/**
 * Catches TLS alerts for `conn` until {@link unguardTls}.
 *
 * @param conn a connection to a `rediss://` server
 */
export function guardTls(conn: Guarded): void {
  if (guarded.size === 0) globalThis.addEventListener("error", onAlert);
  guarded.add(conn);
}

/**
 * Stops catching alerts for `conn` (and at all, once none is left).
 *
 * @param conn a connection given to {@link guardTls}, or any other
 */
export function unguardTls(conn: Guarded): void {
  if (guarded.delete(conn) && guarded.size === 0) {
    globalThis.removeEventListener("error", onAlert);
  }
}

function onAlert(event: ErrorEvent): void {
  if (!(event.error instanceof Error) || !isTlsAlert(event.error)) return;
  event.preventDefault();
  for (const conn of guarded) conn.lastError = event.error;
}
