/**
 * The floors for a miss in `scripts/bench.ts`: a bare `Deno.serve` that
 * forwards each request to UPSTREAM with `fetch` and streams the answer back,
 * doing nothing else. With `--js` the answer goes through an identity
 * `TransformStream` first: the least any proxy pays that sees the bytes it
 * streams (to record them), since Deno can no longer pipe fetch to serve natively.
 *
 * Usage: `deno run --allow-net scripts/_bench_passthrough.ts UPSTREAM [--js]`; prints
 * `passthrough listening on http://127.0.0.1:PORT` and runs until SIGTERM.
 *
 * @module
 */

if (import.meta.main) {
  const [upstream, mode] = Deno.args;
  if (!upstream) throw new Error("usage: _bench_passthrough.ts UPSTREAM");
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const body = await req.arrayBuffer();
    const res = await fetch(`${upstream}${url.pathname}${url.search}`, {
      method: req.method,
      headers: req.headers,
      body,
    });
    const answer = mode === "--js" ? res.body?.pipeThrough(new TransformStream()) : res.body;
    return new Response(answer, { status: res.status, headers: res.headers });
  });
  const stop = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGTERM", () => stop.resolve());
  console.log(`passthrough listening on http://127.0.0.1:${server.addr.port}`);
  await stop.promise;
  await server.shutdown();
}
