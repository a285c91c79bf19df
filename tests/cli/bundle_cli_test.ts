import assert from "node:assert/strict";
import { main } from "../../src/cli/mod.ts";
import { RUN_FLAGS } from "../../src/cli/self.ts";
import { exportBundle } from "../../src/store/bundle.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { CacheStore, NewEntry, StoredEntry } from "../../src/store/store.ts";
import { denoDir } from "../support/cli.ts";
import { newEntry } from "../support/entry.ts";
import { baseEnv, ROOT } from "../support/process.ts";
import { messageBody, postMessage, startProxy } from "../support/proxy.ts";
import { tempHome } from "../support/harness.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Run {
  readonly code: number;
  readonly stdout: Uint8Array;
  readonly out: string;
  readonly err: string;
}

/** Runs the CLI as a subprocess with binary stdin and stdout (bundles are gzip). */
async function cli(
  args: string[],
  home: string,
  stdin?: Uint8Array,
  env: Record<string, string> = {},
): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...RUN_FLAGS, "src/main.ts", ...args],
    cwd: ROOT,
    clearEnv: true,
    env: {
      ...baseEnv(),
      DENO_DIR: denoDir(),
      NO_COLOR: "1",
      HOME: home,
      CACHE_HOME: home,
      ...env,
    },
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  try {
    if (stdin) {
      const writer = child.stdin.getWriter();
      await writer.write(stdin).catch(() => {});
      await writer.close().catch(() => {});
    }
    const out = await child.output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: out.stdout, out: text(out.stdout), err: text(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

async function seed(home: string, entries: [NewEntry, string[]][]): Promise<void> {
  await using store = SqliteStore.open(`${home}/cache.db`, { maxEntries: 100 });
  for (const [entry, aliases] of entries) await store.put(entry, aliases);
}

/** Everything a store holds, hit statistics aside. */
async function contents(path: string): Promise<Omit<StoredEntry, "hitCount" | "lastHitAt">[]> {
  await using store = SqliteStore.open(path, { maxEntries: 100 });
  const all = await Array.fromAsync(store.entries());
  return all.map(({ hitCount: _h, lastHitAt: _l, ...rest }) => rest);
}

async function gunzip(file: Uint8Array): Promise<string> {
  const stream = new Blob([file as BlobPart]).stream().pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}

async function bundleLines(file: Uint8Array): Promise<Record<string, unknown>[]> {
  return (await gunzip(file)).trimEnd().split("\n").map((line) => JSON.parse(line));
}

async function bundleKeys(path: string): Promise<unknown[]> {
  const lines = await bundleLines(await Deno.readFile(path));
  return lines.filter((line) => line.type === "entry").map((line) => line.key);
}

const bytes = (text: string) => new TextEncoder().encode(text);

function sample(now: number): [NewEntry, string[]][] {
  return [
    [newEntry("k-old", { createdAt: now - 2 * DAY, expiresAt: now - DAY }), []],
    [
      newEntry("k-ci", {
        createdAt: now - HOUR,
        namespace: "ci",
        request: bytes('{"model":"m"}'),
        timing: [[5, 10], [13, 42]],
        body: new Uint8Array([0, 1, 254, 255]),
      }),
      ["k-ci-normalized"],
    ],
    [newEntry("k-new", { createdAt: now - 60_000, request: bytes("{}") }), ["k-new-suffix"]],
  ];
}

Deno.test("export and import carry a cache to another home, through a file or a pipe, once", async () => {
  await using aDir = await tempHome("bundle_cli_");
  const a = aDir.path;
  await using bDir = await tempHome("bundle_cli_");
  const b = bDir.path;
  await using cDir = await tempHome("bundle_cli_");
  const c = cDir.path;
  await seed(a, sample(Date.now()));
  const original = await contents(`${a}/cache.db`);
  const file = `${a}/out.bundle`;

  const exported = await cli(["export", "--json", file], a);
  assert.equal(exported.code, 0, exported.err);
  const report = JSON.parse(exported.out);
  assert.deepEqual({ ...report, bytes: 0 }, {
    file,
    entries: 3,
    expired: 1,
    bytes: 0,
    namespace: null,
    since: null,
  });
  assert.equal(report.bytes, (await Deno.stat(file)).size);
  assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600, "a bundle holds prompts: private");

  const imported = await cli(["import", file], b);
  assert.equal(imported.code, 0, imported.err);
  assert.equal(
    imported.out,
    `imported 3 new, 0 replaced, 0 kept (same or newer here) from ${file}; ` +
      "1 of them had expired: stored, but not served\n",
  );
  assert.deepEqual(await contents(`${b}/cache.db`), original);
  const again = await cli(["import", "--json", file], b);
  assert.equal(again.code, 0, again.err);
  const second = JSON.parse(again.out);
  assert.deepEqual([second.added, second.replaced, second.kept], [0, 0, 3], "idempotent");
  assert.deepEqual(await contents(`${b}/cache.db`), original);

  const piped = await cli(["export", "-"], a);
  assert.equal(piped.code, 0, piped.err);
  assert.deepEqual([...piped.stdout.slice(0, 2)], [0x1f, 0x8b], "stdout carries the gzip bundle");
  assert.equal(
    piped.err,
    `exported 3 entries (${piped.stdout.byteLength} B) to stdout, ` +
      "1 of them expired (not served after import)\n",
  );
  const fromStdin = await cli(["import", "-"], c, piped.stdout);
  assert.equal(fromStdin.code, 0, fromStdin.err);
  assert.match(fromStdin.out, /^imported 3 new, 0 replaced, 0 kept .* from stdin/);
  assert.deepEqual(await contents(`${c}/cache.db`), original);
});

Deno.test("export --namespace and --since choose the entries", async () => {
  await using homeDir = await tempHome("bundle_cli_");
  const home = homeDir.path;
  const now = Date.now();
  await seed(home, [
    ...sample(now),
    [newEntry("k-ci-6d", { createdAt: now - 6 * DAY, namespace: "ci" }), []],
    [newEntry("k-ci-8d", { createdAt: now - 8 * DAY, namespace: "ci" }), []],
  ]);
  const recent = await cli(
    ["export", "--namespace", "ci", "--since", "7d", `${home}/ci.bundle`],
    home,
  );
  assert.equal(recent.code, 0, recent.err);
  assert.deepEqual(await bundleKeys(`${home}/ci.bundle`), ["k-ci", "k-ci-6d"]);
  const since = new Date(now - 3 * DAY).toISOString();
  const all = await cli(
    ["export", `--since=${since}`, "--namespace=", `${home}/default.bundle`],
    home,
  );
  assert.equal(all.code, 0, all.err);
  assert.deepEqual(await bundleKeys(`${home}/default.bundle`), ["k-new", "k-old"]);
  assert.match(all.out, /^exported 2 entries \(\d+ B\) to .*default\.bundle/);
});

Deno.test("import refuses a file that is not a bundle with exit 1 and says what it expected", async () => {
  await using homeDir = await tempHome("bundle_cli_");
  const home = homeDir.path;
  await seed(home, sample(Date.now()));
  const cases: [string, Uint8Array | undefined, RegExp][] = [
    [
      `${home}/cache.db`,
      undefined,
      /it is not gzip-compressed\); expected a file written by "llm-cache-proxy export"/,
    ],
    [
      `${home}/foreign.gz`,
      await gzipText('{"format":"tarball"}\n'),
      /its header names format "tarball", not "llm-cache-proxy-bundle"/,
    ],
    [
      `${home}/missing.bundle`,
      undefined,
      /cannot read .*missing\.bundle: .*Check the path, or use - for stdin/,
    ],
  ];
  for (const [file, content, message] of cases) {
    if (content) await Deno.writeFile(file, content);
    const run = await cli(["import", file], home);
    assert.equal(run.code, 1, run.err);
    assert.equal(run.out, "");
    assert.match(run.err, new RegExp(`^llm-cache-proxy import: cannot (import|read) ${file}`));
    assert.match(run.err, message);
    assert.equal(run.err.trimEnd().split("\n").length, 1, run.err);
  }
  assert.equal((await contents(`${home}/cache.db`)).length, 3, "the cache is untouched");
});

Deno.test("import into a full cache says how many entries made room", async () => {
  await using fromDir = await tempHome("bundle_cli_");
  await using toDir = await tempHome("bundle_cli_");
  await seed(fromDir.path, sample(Date.now()));
  const file = await Deno.open(`${fromDir.path}/out.bundle`, { write: true, create: true });
  {
    await using store = SqliteStore.open(`${fromDir.path}/cache.db`, { maxEntries: 100 });
    await exportBundle(store, file.writable);
  }
  const run = await cli(["import", `${fromDir.path}/out.bundle`], toDir.path, undefined, {
    CACHE_MAX_ENTRIES: "2",
  });
  assert.equal(run.code, 0, run.err);
  assert.match(run.out, /^imported 3 new/);
  assert.equal(
    run.err,
    "llm-cache-proxy import: the cache is full (CACHE_MAX_ENTRIES=2): 1 least recently used " +
      "entry made room. Raise CACHE_MAX_ENTRIES to keep more\n",
  );
});

async function gzipText(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("export and import take bad flags as usage errors (exit 2)", async () => {
  const { error } = console;
  let err = "";
  console.error = (...parts: unknown[]) => void (err += parts.join(" ") + "\n");
  try {
    for (
      const [args, message] of [
        [["export"], /missing FILE/],
        [["import"], /missing FILE/],
        [["export", "a", "b"], /unexpected argument "b"/],
        [["export", "--since", "yesterday", "x"], /--since "yesterday" must be an ISO date/],
        [["export", "--since", "2025-13-45", "x"], /--since "2025-13-45" must be/],
      ] as const
    ) {
      err = "";
      assert.equal(await main([...args]), 2, args.join(" "));
      assert.match(err, message);
    }
  } finally {
    console.error = error;
  }
});

const CLIENT_KEY = "sk-ant-api03-SECRETCLIENTKEY0123456789abcdefghijklmnopqrstuvwxyz";
const BEARER = "SECRETBEARERTOKEN0123456789abcdefghijklmnop";
const REAL_KEY = "sk-ant-api03-SECRETREALKEY0123456789abcdefghijklmnopqrstuvwxyz";

Deno.test("a bundle never contains credentials: keys and tokens sent to the proxy stay out", async () => {
  await using homeDir = await tempHome("bundle_cli_");
  const home = homeDir.path;
  const store = SqliteStore.open(`${home}/cache.db`, { maxEntries: 100 });
  await using proxy = await startProxy({ store, env: { ANTHROPIC_API_KEY_REAL: REAL_KEY } });
  const headers = { "x-api-key": CLIENT_KEY, authorization: `Bearer ${BEARER}` };
  for (const body of [messageBody("hello"), messageBody("stream me", { stream: true })]) {
    const res = await postMessage(proxy, body, headers);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
  await waitFor(async () => (await proxy.store.count()) === 2, "both answers stored");
  const stored = await Array.fromAsync((proxy.store as CacheStore).entries());

  // Exported by another process while the proxy runs, as a user would.
  const run = await cli(["export", `${home}/out.bundle`], home);
  assert.equal(run.code, 0, run.err);
  const file = await Deno.readFile(`${home}/out.bundle`);
  const text = await gunzip(file);
  const lines = await bundleLines(file);
  assert.equal(lines.filter((line) => line.type === "entry").length, 2);
  // Bodies and requests are base64: look inside them too.
  const decoded = lines.flatMap((line) => [line.body, line.request])
    .filter((v): v is string => typeof v === "string")
    .map((v) => new TextDecoder().decode(Uint8Array.fromBase64(v)));
  for (const secret of [CLIENT_KEY, BEARER, REAL_KEY, "SECRET", "sk-ant-api03"]) {
    for (const haystack of [text, ...decoded]) assert.ok(!haystack.includes(secret), secret);
  }
  assert.doesNotMatch(text, /x-api-key|authorization|bearer/i);
  assert.ok(stored.every((entry) => entry.request !== undefined), "the proxy keeps requests");
  assert.ok(decoded.some((d) => d.includes("stream me")), "requests were exported, and searched");
});

async function waitFor(probe: () => Promise<boolean>, what: string, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("an import reaches a running proxy: the next identical request is a hit, upstream untouched", async () => {
  await using fromDir = await tempHome("bundle_cli_");
  await using toDir = await tempHome("bundle_cli_");
  const body = messageBody("carry me over", { stream: true });
  const fromStore = SqliteStore.open(`${fromDir.path}/cache.db`, { maxEntries: 100 });
  await using source = await startProxy({ store: fromStore });
  const miss = await postMessage(source, body);
  assert.equal(miss.headers.get("x-cache"), "MISS");
  await miss.body?.cancel();
  await waitFor(async () => (await source.store.count()) === 1, "the answer stored");
  // The same upstream: it is part of the cache key.
  const toStore = SqliteStore.open(`${toDir.path}/cache.db`, { maxEntries: 100 });
  await using target = await startProxy({ store: toStore, upstream: source.mock.url });

  const exported = await cli(["export", "-"], fromDir.path);
  assert.equal(exported.code, 0, exported.err);
  const imported = await cli(["import", "-"], toDir.path, exported.stdout);
  assert.equal(imported.code, 0, imported.err);
  assert.match(imported.out, /^imported 1 new/);
  const hit = await postMessage(target, body);
  assert.equal(hit.headers.get("x-cache"), "HIT");
  await hit.body?.cancel();
  assert.equal(source.mock.count("/v1/messages"), 1, "only the first call went upstream");
});
