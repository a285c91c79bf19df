import assert from "node:assert/strict";
import { chunkReader } from "../../src/proxy/_chunk_reader.ts";
import { joinChunks } from "../../src/cache/recorder.ts";
import { makeCerts, type TestCerts } from "../support/tls.ts";

async function readAll(body: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const reader = chunkReader(body);
  const chunks: Uint8Array[] = [];
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    chunks.push(next.value);
  }
  return chunks;
}

function pattern(size: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 31 + seed) % 251);
}

/** A server sending `parts` as separate writes, 30 ms apart; over TLS with `certs`. */
function servePieces(parts: readonly Uint8Array[], certs?: TestCerts) {
  const tls = certs
    ? { cert: Deno.readTextFileSync(certs.serverCert), key: Deno.readTextFileSync(certs.serverKey) }
    : {};
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {}, ...tls }, () => {
    let next = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (next > 0) await new Promise((resolve) => setTimeout(resolve, 30)); // separate reads
        const part = parts[next++];
        if (part) controller.enqueue(part);
        else controller.close();
      },
    });
    return new Response(body);
  });
}

Deno.test("a fetch body, plain or over TLS, is read into 4 KiB buffers that grow while reads fill them", async (t) => {
  const parts = [pattern(100, 1), pattern(10_000, 2), pattern(150_000, 3)];
  await using certs = await makeCerts();
  for (const scheme of ["http", "https"] as const) {
    await t.step(scheme, async () => {
      await using server = servePieces(parts, scheme === "https" ? certs : undefined);
      using client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(certs.ca)] });
      const res = await fetch(`${scheme}://127.0.0.1:${server.addr.port}/`, { client });
      const chunks = await readAll(res.body!);
      assert.deepEqual(joinChunks(chunks), joinChunks(parts));
      const sizes = chunks.map((c) => c.buffer.byteLength);
      assert.equal(sizes[0], 4096, `the first 100 bytes came in a ${sizes[0]}-byte buffer`);
      assert.ok(sizes.every((s) => s <= 64 * 1024), `buffers ${sizes}`);
      // Over TLS a read returns at most a 16 KiB record, so the buffers stop growing at 32 KiB.
      assert.ok(Math.max(...sizes) >= 32 * 1024, `150 KB read in buffers that grew: ${sizes}`);
    });
  }
});

Deno.test("a byte stream that fills every read: buffers of 4, 8, 16, 32, then 64 KiB", async () => {
  let reads = 0;
  const body = new ReadableStream({
    type: "bytes",
    pull(controller) {
      const view = controller.byobRequest!.view!;
      if (reads++ === 7) {
        controller.close();
        controller.byobRequest?.respond(0);
        return;
      }
      new Uint8Array(view.buffer, view.byteOffset, view.byteLength).fill(reads);
      controller.byobRequest!.respond(view.byteLength);
    },
  });
  const sizes = (await readAll(body)).map((c) => c.byteLength);
  assert.deepEqual(sizes, [4096, 8192, 16384, 32768, 65536, 65536, 65536]);
});

Deno.test("a stream that is not a byte stream is read as it is", async () => {
  const sent = [pattern(10, 4), pattern(70_000, 5)];
  const body = ReadableStream.from(sent);
  const chunks = await readAll(body);
  assert.equal(chunks.length, 2);
  assert.ok(chunks.every((c, i) => c === sent[i]), "the same chunks, not copies");
});

Deno.test("cancel() reaches the body's source, for either kind of stream", async () => {
  for (const type of ["bytes", undefined] as const) {
    const cancelled = Promise.withResolvers<unknown>();
    const body = new ReadableStream({
      ...(type ? { type } : {}),
      pull() {
        return new Promise(() => {}); // never answers: only cancel() ends the read
      },
      cancel: (reason) => cancelled.resolve(reason ?? "cancelled"),
    }) as ReadableStream<Uint8Array>;
    const reader = chunkReader(body);
    const reading = reader.read();
    await reader.cancel();
    assert.ok(await cancelled.promise, `${type ?? "default"} stream cancelled`);
    assert.equal((await reading).done, true);
  }
});
