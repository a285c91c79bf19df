/**
 * A TCP relay for tests of connections that go silent: it either forwards
 * each connection to a target, or swallows what it is sent and never answers
 * (as a black-holed network path or a frozen server would).
 *
 * @module
 */

/** A running relay; dispose it when done. */
export interface Relay extends AsyncDisposable {
  /** The loopback port it listens on. */
  readonly port: number;
  /** New connections are forwarded to the target. */
  forward(): void;
  /** New connections, and every one open now, swallow traffic from here on. */
  swallow(): void;
}

/**
 * Starts a relay to `targetPort` on loopback, swallowing at first.
 *
 * @param targetPort where forwarded connections go
 * @returns the relay
 */
export function startRelay(targetPort: number): Relay {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<{ swallowed: boolean; close(): void }>();
  let forwarding = false;
  const serve = async (client: Deno.TcpConn) => {
    const link = { swallowed: !forwarding, close: () => {} };
    open.add(link);
    const target = forwarding
      ? await Deno.connect({ hostname: "127.0.0.1", port: targetPort }).catch(() => undefined)
      : undefined;
    link.close = () => {
      for (const conn of [client, target]) {
        try {
          conn?.close();
        } catch { /* already closed */ }
      }
    };
    const pump = async (from: Deno.TcpConn, to: Deno.TcpConn | undefined) => {
      const buffer = new Uint8Array(64 * 1024);
      try {
        for (let n = await from.read(buffer); n !== null; n = await from.read(buffer)) {
          if (!link.swallowed && to) await to.write(buffer.subarray(0, n));
        }
      } catch { /* closed */ }
      open.delete(link);
      link.close();
    };
    pump(client, target);
    if (target) pump(target, client);
  };
  (async () => {
    try {
      for await (const conn of listener) serve(conn);
    } catch { /* closed */ }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    forward: () => forwarding = true,
    swallow: () => {
      forwarding = false;
      for (const link of open) link.swallowed = true;
    },
    [Symbol.asyncDispose]: () => {
      listener.close();
      for (const link of open) link.close();
      return Promise.resolve();
    },
  };
}
