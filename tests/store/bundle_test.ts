import assert from "node:assert/strict";
import {
  BundleError,
  exportBundle,
  importBundle,
  type ImportResult,
} from "../../src/store/bundle.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { CacheStore, NewEntry, StoredEntry } from "../../src/store/store.ts";
import { newEntry } from "../support/entry.ts";

const NOW = 1_750_000_000_000;
const now = () => NOW;
const bytes = (text: string) => new TextEncoder().encode(text);

function memoryStore(): SqliteStore {
  return SqliteStore.open(":memory:", { maxEntries: 1000, now });
}

function entry(key: string, overrides: Partial<NewEntry> = {}): NewEntry {
  return newEntry(key, { createdAt: NOW - 1000, expiresAt: NOW + 60_000, ...overrides });
}

/** A store holding entries with every kind of field: binary, unicode, empty, expired, large. */
async function filledStore(): Promise<SqliteStore> {
  const store = memoryStore();
  const large = new Uint8Array(200_000).map((_, i) => (i * 7919) % 251);
  await store.put(
    entry("k1", {
      body: Uint8Array.from({ length: 256 }, (_, i) => i),
      request: bytes('{"messages":[{"role":"user","content":"ä\\n\\"é\\" 🎉"}]}\n'),
      contentType: "text/event-stream",
      namespace: "team-a",
      timing: [[12, 340], [256, 1210.5]],
      usage: {
        input_tokens: 1,
        cache_creation_input_tokens: 2,
        ephemeral_5m_input_tokens: 3,
        ephemeral_1h_input_tokens: 4,
        cache_read_input_tokens: 5,
        output_tokens: 6,
      },
      snippet: 'Line one\nline "two" — ü',
      createdAt: NOW - 3000,
    }),
    ["k1-normalized", "k1-suffix"],
  );
  await store.put(entry("k2", {
    model: undefined,
    path: "/v1/messages/count_tokens",
    body: new Uint8Array(),
    expiresAt: NOW - 1, // already expired
    createdAt: NOW - 2000,
  }));
  await store.put(entry("k3", { body: large, request: large.slice(0, 5000) }));
  return store;
}

async function exported(
  store: Pick<CacheStore, "entries">,
  options: { namespace?: string; since?: number } = {},
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const result = await exportBundle(
    store,
    new WritableStream({ write: (c) => void chunks.push(c) }),
    {
      ...options,
      now,
    },
  );
  const all = new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer());
  assert.equal(result.bytes, all.byteLength);
  return all;
}

/** The bundle as a stream of small chunks, so lines and gzip blocks split across reads. */
function streamOf(file: Uint8Array, size = 997): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= file.byteLength) return controller.close();
      controller.enqueue(file.slice(at, at += size));
    },
  });
}

function imported(store: CacheStore, file: Uint8Array): Promise<ImportResult> {
  return importBundle(store, streamOf(file), { now });
}

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function gunzip(file: Uint8Array): Promise<string> {
  const stream = new Blob([file as BlobPart]).stream().pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}

/** Everything a store holds, hit statistics aside (they belong to the cache that served). */
async function contents(store: CacheStore): Promise<Omit<StoredEntry, "hitCount" | "lastHitAt">[]> {
  const all = await Array.fromAsync(store.entries());
  return all.map(({ hitCount: _h, lastHitAt: _l, ...rest }) => rest);
}

Deno.test("a bundle carries every entry into an empty store exactly: bytes, requests, timing, aliases, usage, namespace", async () => {
  await using source = await filledStore();
  await using target = memoryStore();
  const file = await exported(source);
  const result = await imported(target, file);
  assert.deepEqual(
    { ...result, header: undefined },
    { header: undefined, entries: 3, added: 3, replaced: 0, kept: 0, expired: 1 },
  );
  assert.equal(result.header.createdAt, new Date(NOW).toISOString());
  const copied = await contents(target);
  assert.deepEqual(copied, await contents(source));
  assert.deepEqual(copied.map((e) => e.key), ["k3", "k2", "k1"]);
  assert.deepEqual(await exported(target), file, "exporting the copy writes the same file");
});

Deno.test("importing a bundle twice changes nothing the second time", async () => {
  await using source = await filledStore();
  await using target = memoryStore();
  const file = await exported(source);
  await imported(target, file);
  const before = await contents(target);
  const again = await imported(target, file);
  assert.deepEqual([again.added, again.replaced, again.kept, again.expired], [0, 0, 3, 0]);
  assert.deepEqual(await contents(target), before);
});

Deno.test("importing keeps the newer copy of a key, whichever side holds it", async () => {
  await using older = memoryStore();
  await using newer = memoryStore();
  await older.put(entry("k", { createdAt: NOW - 500, body: bytes("old") }), ["old-alias"]);
  await older.put(entry("only-old", { createdAt: NOW - 500 }));
  await newer.put(entry("k", { createdAt: NOW - 100, body: bytes("new") }), ["new-alias"]);
  const fromNewer = await imported(older, await exported(newer));
  assert.deepEqual([fromNewer.added, fromNewer.replaced, fromNewer.kept], [0, 1, 0]);
  assert.equal(new TextDecoder().decode((await older.inspect("k"))?.body), "new");
  assert.equal((await older.get("new-alias"))?.key, "k", "aliases come along");
  await using stale = memoryStore();
  await stale.put(entry("k", { createdAt: NOW - 900, body: bytes("older still") }));
  const intoNewer = await imported(newer, await exported(stale));
  assert.deepEqual([intoNewer.added, intoNewer.replaced, intoNewer.kept], [0, 0, 1]);
  assert.equal(new TextDecoder().decode((await newer.inspect("k"))?.body), "new");
});

Deno.test("exportBundle() filters by namespace and creation time, and records the filters", async () => {
  await using store = memoryStore();
  await store.put(entry("a", { createdAt: NOW - 4000 }));
  await store.put(entry("b", { createdAt: NOW - 3000, namespace: "ci" }));
  await store.put(entry("c", { createdAt: NOW - 2000 }));
  await store.put(entry("d", { createdAt: NOW - 1000, namespace: "ci" }));
  const keysOf = async (file: Uint8Array) =>
    (await gunzip(file)).trim().split("\n").map((line) => JSON.parse(line))
      .filter((line) => line.type === "entry").map((line) => line.key);
  assert.deepEqual(await keysOf(await exported(store, { namespace: "ci" })), ["d", "b"]);
  assert.deepEqual(await keysOf(await exported(store, { since: NOW - 3000 })), ["d", "c", "b"]);
  const both = await exported(store, { namespace: "", since: NOW - 3000 });
  assert.deepEqual(await keysOf(both), ["c"]);
  const [header] = (await gunzip(both)).split("\n");
  assert.deepEqual(JSON.parse(header!), {
    format: "llm-cache-proxy-bundle",
    version: 1,
    createdAt: new Date(NOW).toISOString(),
    namespace: "",
    since: new Date(NOW - 3000).toISOString(),
  });
});

Deno.test("a bundle is built from named fields only: nothing else an entry holds gets out", async () => {
  await using store = memoryStore();
  await store.put(entry("k"));
  const [stored] = await Array.fromAsync(store.entries());
  const leaky = {
    async *entries() {
      yield {
        ...stored!,
        headers: { "x-api-key": "sk-ant-api03-LEAK", authorization: "Bearer LEAK" },
        usage: { ...stored!.usage, apiKey: "LEAK" },
      } as StoredEntry;
    },
  };
  const text = await gunzip(await exported(leaky));
  assert.doesNotMatch(text, /LEAK|headers|apiKey/);
  assert.match(text, /"key":"k"/);
});

Deno.test("importBundle() refuses what is not a version 1 bundle, saying what it expected", async (t) => {
  const header = '{"format":"llm-cache-proxy-bundle","version":1,"createdAt":"x"}';
  const cases: [string, Uint8Array | Promise<Uint8Array>, RegExp][] = [
    [
      "an SQLite file",
      bytes("SQLite format 3\0..."),
      /not an llm-cache-proxy bundle \(it is not gzip-compressed\); expected a file written by "llm-cache-proxy export"/,
    ],
    ["an empty file", new Uint8Array(), /not an llm-cache-proxy bundle \(the file is empty\)/],
    [
      "gzip of nothing",
      gzip(""),
      /not an llm-cache-proxy bundle \(it is empty once decompressed\)/,
    ],
    [
      "gzip of text",
      gzip("hello\n"),
      /not an llm-cache-proxy bundle \(its first line is not JSON\)/,
    ],
    ["gzip of one long line", gzip("x".repeat(100_000)), /its first line is not a bundle header/],
    [
      "another format",
      gzip('{"format":"tarball","version":1}\n'),
      /header names format "tarball", not "llm-cache-proxy-bundle"/,
    ],
    [
      "another version",
      gzip(header.replace('"version":1', '"version":2') + "\n"),
      /the bundle is version 2; this llm-cache-proxy reads version 1 only/,
    ],
  ];
  for (const [name, file, message] of cases) {
    await t.step(name, async () => {
      await using store = memoryStore();
      const error = await imported(store, await file).catch((e) => e);
      assert.ok(error instanceof BundleError, String(error));
      assert.match(error.message, message);
      assert.equal(await store.count(), 0);
    });
  }
});

Deno.test("importBundle() stops at a damaged or truncated bundle, after merging what came before", async (t) => {
  await using source = await filledStore();
  const file = await exported(source);
  const lines = (await gunzip(file)).trimEnd().split("\n");
  const body = (line: string) => line.replace(/"body":"[^"]*"/, '"body":"not base64!"');
  const cases: [string, Uint8Array | Promise<Uint8Array>, RegExp, number][] = [
    ["cut short", file.slice(0, file.byteLength - 100), /the file is damaged or truncated/, -1],
    [
      "no end line",
      gzip(lines.slice(0, 3).join("\n") + "\n"),
      /ends after 2 entries, without its end line: it is truncated/,
      2,
    ],
    [
      "a bad field",
      gzip([...lines.slice(0, 2), body(lines[2]!), ...lines.slice(3)].join("\n")),
      /line 3: "body" is not base64/,
      1,
    ],
    [
      "a missing field",
      gzip(lines[0] + "\n" + '{"type":"entry","key":"k"}\n'),
      /line 2: "usage" is not an object/,
      0,
    ],
    [
      "a wrong count",
      gzip([...lines.slice(0, 4), '{"type":"end","entries":7}'].join("\n")),
      /line 5: the end line counts 7 entries, but 3 came before it/,
      3,
    ],
    [
      "lines after the end",
      gzip([...lines, lines[1]].join("\n")),
      /line 6 follows the end line/,
      3,
    ],
    [
      "an unknown line",
      gzip([lines[0], '{"type":"comment"}'].join("\n")),
      /line 2: unknown line type "comment"/,
      0,
    ],
  ];
  for (const [name, damaged, message, merged] of cases) {
    await t.step(name, async () => {
      await using store = memoryStore();
      const error = await imported(store, await damaged).catch((e) => e);
      assert.ok(error instanceof BundleError, String(error));
      assert.match(error.message, message);
      if (merged >= 0) {
        const entries = merged === 1 ? "1 entry" : `${merged} entries`;
        assert.match(error.message, new RegExp(`${entries} merged so far`));
        assert.equal(await store.count(), merged);
      }
    });
  }
});
