import assert from "node:assert/strict";
import { chunkReader } from "../../src/proxy/_chunk_reader.ts";
import { joinChunks } from "../../src/cache/recorder.ts";

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

Deno.test("a fetch body is read into 4 KiB buffers that grow while reads fill them", async () => {
  const parts = [pattern(100, 1), pattern(10_000, 2), pattern(150_000, 3)];
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
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
  const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
  const chunks = await readAll(res.body!);
  assert.deepEqual(joinChunks(chunks), joinChunks(parts));
  const sizes = chunks.map((c) => c.buffer.byteLength);
  assert.equal(sizes[0], 4096, `the first 100 bytes came in a ${sizes[0]}-byte buffer`);
  assert.ok(sizes.every((s) => s <= 64 * 1024), `buffers ${sizes}`);
  assert.ok(sizes.includes(64 * 1024), `150 KB read in buffers that grew: ${sizes}`);
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
