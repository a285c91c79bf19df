/**
 * The ceiling for `scripts/bench.ts`: a bare `Deno.serve` that reads the
 * request body and answers fixed bytes with a fixed content type.
 *
 * Usage: `deno run --allow-net --allow-read scripts/_bench_bare.ts BODY_FILE CONTENT_TYPE`;
 * prints `bare listening on http://127.0.0.1:PORT` and runs until SIGTERM.
 *
 * @module
 */

if (import.meta.main) {
  const [file, contentType] = Deno.args;
  if (!file || !contentType) throw new Error("usage: _bench_bare.ts BODY_FILE CONTENT_TYPE");
  const body = await Deno.readFile(file);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.arrayBuffer();
    return new Response(body, { headers: { "content-type": contentType } });
  });
  const stop = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGTERM", () => stop.resolve());
  console.log(`bare listening on http://127.0.0.1:${server.addr.port}`);
  await stop.promise;
  await server.shutdown();
}
