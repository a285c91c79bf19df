/**
 * `deno task bench`: measures the proxy as its own process in front of the
 * mock Anthropic API (also its own process), beside llm-cache-proxy v2 (the
 * npm package, installed into a temp folder with npm and run with node) and
 * the bare servers, and prints a markdown report (`--json`: one JSON object)
 * of
 *
 * 1. hit throughput and latency at concurrency 32 (wrk) for a ~2 KB JSON and
 *    a ~20 KB SSE entry: proxy, a bare `Deno.serve` answering the same bytes, v2;
 * 2. the time to first byte that a miss adds, against direct, a bare fetch
 *    pass-through (the floor of any Deno proxy) and v2;
 * 3. distinct misses at concurrency 16 (proxy, v2, pass-through), then hits
 *    spread over 20,000 of the entries they stored;
 * 4. 100,000 distinct misses with CACHE_MAX_ENTRIES=5000, in tenths: rate,
 *    RSS and database file size;
 * 5. a store of 1,000,000 entries against one of 1: start-up, sequential hit
 *    latency on one key and on random keys, RSS;
 * 6. start-up on an empty home, spawn to the first `/health` 200 (and v2's);
 * 7. the same hit from the SQLite store and from a shared Redis store (a real
 *    `redis-server`, Debian package `redis-server`);
 *
 * then each target of the performance issue with its verdict. The report is
 * also written to `--out FILE` (default: a file in $TMPDIR, named at the end).
 * `--quick` shrinks the runs (50,000 entries, 4,000 and 20,000 misses) to try
 * the bench itself. Progress goes to stderr. Needs `wrk` (Debian package
 * `wrk`); v2 needs `npm` and `node`.
 *
 * @module
 */
import { freePort } from "../tests/support/harness.ts";
import { messageBody } from "../tests/support/proxy.ts";
import { startRedis } from "../tests/support/redis.ts";
import { firstByte, HEADERS, post, sequentialHits } from "./_bench_http.ts";
import {
  cpuSince,
  cpuSnapshot,
  launch,
  loadAverage,
  proxyCommand,
  Resources,
  rssBytes,
  type Running,
  start,
} from "./_bench_proc.ts";
import { distinctMisses, pastTheCap, spreadHits, storedBodies } from "./_bench_misses.ts";
import { installV2, startV2, type V2, V2_PACKAGE } from "./_bench_v2.ts";
import {
  type Load,
  type Results,
  type StoreRun,
  toMarkdown,
  withTargets,
} from "./_bench_report.ts";
import { percentile, summarize } from "./_bench_stats.ts";
import { RUN_FLAGS } from "./compile.ts";
import { entryRequest, fillHome } from "./_bench_store.ts";
import { runWrk, writePostScript, wrkAvailable } from "./_bench_wrk.ts";

const WARMUP_S = 1;
const MEASURE_S = 4;
const HIT_ROUNDS = 3;
const CONNECTIONS = 32;
const MISS_ROUNDS = 50;
const SEQUENTIAL_REQUESTS = 2_000;
const BLOCK = 100;
const STARTUPS = 5;
const MISS_CONCURRENCY = 16;
const PAST_CAP = 5_000;
/** An entry cap above every store the bench makes. */
const NO_CAP = "10000000";

/** Sizes of the runs; `--quick` shrinks them for a trial of the bench itself. */
const SIZES = Deno.args.includes("--quick")
  ? { storeEntries: 50_000, distinctMisses: 4_000, pastCapMisses: 20_000 }
  : { storeEntries: 1_000_000, distinctMisses: 20_000, pastCapMisses: 100_000 };
const HIT_CASES = [
  { name: "JSON ~2 KB", body: messageBody("[mock:big:1560] bench json entry") },
  { name: "SSE ~20 KB", body: messageBody("[mock:big:18500] bench sse entry", { stream: true }) },
];

function progress(message: string): void {
  console.error(`[bench] ${message}`);
}

async function startProxy(
  res: Resources,
  home: string,
  upstream: string,
  settings: Record<string, string> = {},
): Promise<Running> {
  const { args, env } = proxyCommand(home, upstream);
  return res.track(await start(args, { ...env, ...settings }));
}

/** v2 in a fresh home of its own, or undefined when it could not be installed. */
async function startOld(
  res: Resources,
  v2: V2,
  upstream: string,
  settings: Record<string, string> = {},
): Promise<Running | undefined> {
  if (!("entry" in v2)) return undefined;
  return res.track(await startV2(v2.entry, await res.tempDir("v2home"), upstream, settings));
}

/** A 1 s wrk warm-up, then the measured run, with the server's CPU use during it. */
async function load(server: Running, script: string): Promise<Load> {
  const url = `${server.url}/v1/messages`;
  await runWrk(url, script, WARMUP_S, CONNECTIONS);
  const before = await cpuSnapshot(server.pid);
  const result = await runWrk(url, script, MEASURE_S, CONNECTIONS);
  const cpu = await cpuSince(before);
  if (result.errors.length > 0) progress(`wrk reported errors at ${url}: ${result.errors}`);
  return { ...result, serverCpuPct: cpu.processPct, machineIdlePct: cpu.machineIdlePct };
}

/**
 * Primes one entry (a MISS, then a verified HIT) and returns the bytes the hit
 * replays. The answer may reach the client just before it is stored: a repeat
 * sent at once can still join the flight (HIT-COALESCED), so it is tried again.
 */
async function prime(proxy: string, body: string) {
  const miss = await post(proxy, body);
  let hit = await post(proxy, body);
  for (let tries = 0; hit.cache !== "HIT" && tries < 20; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    hit = await post(proxy, body);
  }
  if (miss.status !== 200 || hit.status !== 200 || hit.cache !== "HIT") {
    throw new Error(
      `priming failed: ${miss.status} ${miss.cache}, then ${hit.status} ${hit.cache}`,
    );
  }
  return hit;
}

/**
 * The run with the median throughput. Proxy and bare runs alternate, so a
 * noisy neighbour on this shared machine slows both sides alike.
 */
function medianLoad(loads: Load[]): Load {
  return [...loads].sort((a, b) => a.rps - b.rps)[loads.length >> 1]!;
}

async function hitThroughput(
  res: Resources,
  proxy: Running,
  old: Running | undefined,
  dir: string,
) {
  const rows: Results["hits"] = [];
  for (const [i, { name, body }] of HIT_CASES.entries()) {
    const hit = await prime(proxy.url, body);
    const file = `${dir}/entry-${i}.bin`;
    await Deno.writeFile(file, hit.bytes);
    const bareArgs = [
      "--allow-net",
      "--allow-read",
      "scripts/_bench_bare.ts",
      file,
      hit.contentType,
    ];
    const bare = res.track(await start(bareArgs));
    const script = await writePostScript(dir, `case-${i}`, body, { ...HEADERS });
    if (old) await prime(old.url, body);
    const viaProxy: Load[] = [];
    const viaBare: Load[] = [];
    const viaOld: Load[] = [];
    for (let round = 1; round <= HIT_ROUNDS; round++) {
      progress(`hit throughput, ${name}: proxy, bare, v2 (round ${round}/${HIT_ROUNDS})`);
      viaProxy.push(await load(proxy, script));
      viaBare.push(await load(bare, script));
      if (old) viaOld.push(await load(old, script));
    }
    await bare.stop();
    const [p, b] = [medianLoad(viaProxy), medianLoad(viaBare)];
    const v2 = old ? medianLoad(viaOld) : undefined;
    rows.push({ name, bytes: hit.bytes.byteLength, proxy: p, bare: b, v2 });
  }
  return { rows, stored: await prime(proxy.url, HIT_CASES[0]!.body) };
}

/**
 * What observing calls costs: hit throughput of the proxy with its ledger,
 * metrics and a connected /monitor client, against the same handler with an
 * event bus nobody listens to, on the same store. Both log at `error`: the
 * per-call log line at `info` is a cost of its own, shown by the hits table.
 */
async function observerCost(res: Resources, home: string, mock: string, dir: string) {
  const port = freePort(); // at `error` the proxy prints no listening line
  const { args, env } = proxyCommand(home, mock, port); // the same upstream, so the same keys: hits
  const quietEnv = { ...env, CACHE_LOG_LEVEL: "error", CACHE_PORT: "0" };
  const launched = res.track(launch(args, { ...env, CACHE_LOG_LEVEL: "error" }));
  await firstHealth(port, launched.spawnedAt + 10_000);
  const full: Running = { ...launched, url: `http://127.0.0.1:${port}` };
  const quiet = res.track(await start([...RUN_FLAGS, "scripts/_bench_quiet.ts"], quietEnv));
  for (const server of [full, quiet]) await prime(server.url, HIT_CASES[0]!.body);
  const script = await writePostScript(dir, "observers", HIT_CASES[0]!.body, { ...HEADERS });
  const on: Load[] = [];
  const unwatched: Load[] = [];
  const off: Load[] = [];
  for (let round = 1; round <= HIT_ROUNDS; round++) {
    progress(
      `observers: on with a /monitor client, on without, off (round ${round}/${HIT_ROUNDS})`,
    );
    const watcher = await watchMonitor(full.url);
    on.push(await load(full, script));
    await watcher.stop();
    unwatched.push(await load(full, script));
    off.push(await load(quiet, script));
  }
  await full.stop();
  await quiet.stop();
  return { on: medianLoad(on), unwatched: medianLoad(unwatched), off: medianLoad(off) };
}

/** A /monitor client that reads every event and throws it away. */
async function watchMonitor(base: string) {
  const res = await fetch(`${base}/monitor`);
  const reader = res.body!.getReader();
  const reading = (async () => {
    while (!(await reader.read()).done);
  })().catch(() => {});
  return {
    async stop() {
      await reader.cancel().catch(() => {});
      await reading;
    },
  };
}

async function missFirstByte(res: Resources, proxy: string, mock: string, old?: string) {
  progress(`miss first byte: ${MISS_ROUNDS} rounds of slow:200 streams`);
  const passthrough = res.track(
    await start(["--allow-net", "scripts/_bench_passthrough.ts", mock]),
  );
  const jsPassthrough = res.track(
    await start(["--allow-net", "scripts/_bench_passthrough.ts", mock, "--js"]),
  );
  const nonce = crypto.randomUUID().slice(0, 8);
  const targets = [
    ["direct", mock],
    ["passthrough", passthrough.url],
    ["jsPassthrough", jsPassthrough.url],
    ["proxy", proxy],
    ...(old ? [["v2", old] as const] : []),
  ] as const;
  const round = async (i: number) => {
    const ms: Record<string, number> = {};
    for (let k = 0; k < targets.length; k++) {
      const [via, url] = targets[(i + k) % targets.length]!; // rotate the order
      const body = messageBody(`[mock:slow:200] ${nonce} ${i} ${via}`, { stream: true });
      const got = await firstByte(url, body);
      if ((via === "proxy" || via === "v2") && got.cache !== "MISS") {
        throw new Error(`${via}: not a MISS: ${got.cache}`);
      }
      ms[via] = got.ms;
    }
    return ms as Record<(typeof targets)[number][0] | "v2", number>;
  };
  for (let i = 0; i < 6; i++) await round(1000 + i); // warm-up
  const rounds = [];
  for (let i = 0; i < MISS_ROUNDS; i++) rounds.push(await round(i));
  await passthrough.stop();
  await jsPassthrough.stop();
  return {
    rounds: MISS_ROUNDS,
    direct: summarize(rounds.map((r) => r.direct)),
    passthrough: summarize(rounds.map((r) => r.passthrough)),
    proxy: summarize(rounds.map((r) => r.proxy)),
    jsPassthrough: summarize(rounds.map((r) => r.jsPassthrough)),
    passthroughAdded: summarize(rounds.map((r) => r.passthrough - r.direct)),
    jsPassthroughAdded: summarize(rounds.map((r) => r.jsPassthrough - r.direct)),
    added: summarize(rounds.map((r) => r.proxy - r.direct)),
    v2Added: old ? summarize(rounds.map((r) => r.v2 - r.direct)) : undefined,
  };
}

/** `n` distinct random integers in [0, max). */
function sample(n: number, max: number): number[] {
  const picked = new Set<number>();
  while (picked.size < n) picked.add(Math.floor(Math.random() * max));
  return [...picked];
}

/** Sequential hits on two proxies in alternating blocks, so drift hits both alike. */
async function alternate(urls: readonly string[], bodies: readonly string[][]) {
  const times: number[][] = urls.map(() => []);
  for (let at = 0; at < bodies[0]!.length; at += BLOCK) {
    for (let k = 0; k < urls.length; k++) {
      const j = (at / BLOCK + k) % urls.length;
      times[j]!.push(...await sequentialHits(urls[j]!, bodies[j]!.slice(at, at + BLOCK)));
    }
  }
  return times.map(summarize);
}

async function storeSize(
  res: Resources,
  mock: string,
  stored: { bytes: Uint8Array; contentType: string },
) {
  const sizes = [1, SIZES.storeEntries];
  const runs = [];
  for (const entries of sizes) {
    progress(`store of ${entries} entries: filling`);
    const home = await res.tempDir(`store${entries}`);
    const entry = { body: stored.bytes, contentType: stored.contentType };
    const fillMs = await fillHome(home, mock, entries, entry);
    const proxy = await startProxy(res, home, mock, { CACHE_MAX_ENTRIES: NO_CAP });
    runs.push({ proxy, home, fillMs });
  }
  const urls = runs.map((r) => r.proxy.url);
  const n = SEQUENTIAL_REQUESTS;
  const oneKey = Array<string>(n).fill(entryRequest(0));
  // Random keys miss the proxy's key memo; with 1 entry a fresh metadata.user_id (not part of
  // the key) does the same, so both sides pay the same key computation.
  const random = sizes.map((entries) =>
    entries === 1
      ? Array.from(
        { length: 2 * n },
        (_, i) => messageBody("bench entry 0", { metadata: { user_id: `u${i}` } }),
      )
      : sample(2 * n, entries).map(entryRequest)
  );
  progress(`${n} sequential hits on each store, alternating blocks of ${BLOCK}`);
  await alternate(urls, [oneKey.slice(0, 200), oneKey.slice(0, 200)]);
  const one = await alternate(urls, [oneKey, oneKey]);
  await alternate(urls, random.map((bodies) => bodies.slice(n, n + 200)));
  const rand = await alternate(urls, random.map((bodies) => bodies.slice(0, n)));
  const rss = await Promise.all(runs.map((r) => rssBytes(r.proxy.pid)));
  await Promise.all(runs.map((r) => r.proxy.stop()));
  // After the hits: right after the fill, the kernel still writes the new file back to disk.
  const startMs: number[] = [];
  for (const [i, r] of runs.entries()) {
    progress(`store of ${sizes[i]} entries: start-up`);
    const started = await startup(res, mock, r.home, { CACHE_MAX_ENTRIES: NO_CAP });
    startMs.push(percentile(started.health, 50));
  }
  const result = runs.map((r, i): StoreRun => ({
    fillMs: r.fillMs,
    startMs: startMs[i]!,
    oneKey: one[i]!,
    randomKeys: rand[i]!,
    rssBytes: rss[i]!,
  }));
  return { entries: SIZES.storeEntries, requests: n, one: result[0]!, big: result[1]! };
}

/** The same hit served from the SQLite file and from Redis, alternating. */
async function storeBackends(res: Resources, mock: string, dir: string) {
  await using redis = await startRedis();
  const body = HIT_CASES[0]!.body;
  const sqlite = await startProxy(res, await res.tempDir("sqlite"), mock);
  const { args, env } = proxyCommand(await res.tempDir("redis"), mock);
  const shared = res.track(await start(args, { ...env, CACHE_STORE: redis.url }));
  await prime(sqlite.url, body);
  await prime(shared.url, body);
  const n = SEQUENTIAL_REQUESTS;
  progress(`SQLite vs Redis: ${n} sequential hits each, alternating blocks of ${BLOCK}`);
  const bodies = Array<string>(n).fill(body);
  await alternate([sqlite.url, shared.url], [bodies.slice(0, 200), bodies.slice(0, 200)]);
  const [seqSqlite, seqRedis] = await alternate([sqlite.url, shared.url], [bodies, bodies]);
  const script = await writePostScript(dir, "backends", body, { ...HEADERS });
  const loads: Load[][] = [[], []];
  for (let round = 1; round <= HIT_ROUNDS; round++) {
    progress(`SQLite vs Redis throughput (round ${round}/${HIT_ROUNDS})`);
    loads[0]!.push(await load(sqlite, script));
    loads[1]!.push(await load(shared, script));
  }
  await Promise.all([sqlite.stop(), shared.stop()]);
  return {
    requests: n,
    sqlite: { sequential: seqSqlite!, load: medianLoad(loads[0]!) },
    redis: { sequential: seqRedis!, load: medianLoad(loads[1]!) },
  };
}

async function firstHealth(port: number, deadline: number): Promise<number> {
  while (performance.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      await res.body?.cancel();
      if (res.status === 200) return performance.now();
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error("no /health 200 within 10 s");
}

/** Spawns the proxy on `home` once to warm up, then {@link STARTUPS} times, timing each. */
async function startup(
  res: Resources,
  mock: string,
  home: string,
  settings: Record<string, string> = {},
): Promise<{ listening: number[]; health: number[] }> {
  const listening: number[] = [];
  const health: number[] = [];
  for (let i = 0; i <= STARTUPS; i++) {
    const port = freePort();
    const { args, env } = proxyCommand(home, mock, port);
    const child = res.track(launch(args, { ...env, ...settings }));
    const healthAt = await firstHealth(port, child.spawnedAt + 10_000);
    const listeningAt = (await child.listening).at;
    await child.stop();
    if (i === 0) continue;
    health.push(healthAt - child.spawnedAt);
    listening.push(listeningAt - child.spawnedAt);
  }
  return { listening, health };
}

/** v2's start-up on an empty home: spawn to the first `/health` 200, after a warm-up spawn. */
async function oldStartup(res: Resources, v2: V2, mock: string): Promise<number[]> {
  if (!("entry" in v2)) return [];
  const home = await res.tempDir("v2startup");
  const health: number[] = [];
  for (let i = 0; i <= STARTUPS; i++) {
    const child = await startV2(v2.entry, home, mock);
    const at = await firstHealth(Number(new URL(child.url).port), child.spawnedAt + 10_000);
    await child.stop();
    if (i > 0) health.push(at - child.spawnedAt);
  }
  return health;
}

/**
 * Distinct misses at concurrency 16 into an uncapped store, then hits spread
 * over 20,000 of the entries they stored; the same for v2; and the misses
 * through a bare fetch pass-through, the floor of any Deno proxy.
 */
async function manyEntries(res: Resources, v2: V2, mock: string, dir: string) {
  const count = SIZES.distinctMisses;
  const options = { first: 1, count, connections: MISS_CONCURRENCY, chunkS: 2 };
  const settings = { CACHE_MAX_ENTRIES: NO_CAP };
  const passthrough = res.track(
    await start(["--allow-net", "scripts/_bench_passthrough.ts", mock]),
  );
  progress(`miss throughput: ${count} distinct misses at concurrency ${MISS_CONCURRENCY}`);
  const floor = await distinctMisses(passthrough, dir, options);
  await passthrough.stop();
  const run = async (server: Running | undefined, name: string) => {
    if (!server) return undefined;
    progress(`${name}: ${count} distinct misses, then hits spread over them`);
    const misses = await distinctMisses(server, dir, options);
    const hits = await spreadHits(server, dir, storedBodies(misses, 20_000), MEASURE_S);
    const rss = await rssBytes(server.pid);
    await server.stop();
    return { misses, hits, rssBytes: rss };
  };
  const proxy = await run(
    await startProxy(res, await res.tempDir("many"), mock, settings),
    "proxy",
  );
  const old = await run(await startOld(res, v2, mock, settings), "v2");
  return { passthrough: floor, proxy: proxy!, v2: old };
}

/** {@link SIZES}.pastCapMisses distinct misses with CACHE_MAX_ENTRIES=5000, in tenths; v2 too. */
async function pastCap(res: Resources, v2: V2, mock: string, dir: string) {
  const perTenth = SIZES.pastCapMisses / 10;
  const settings = { CACHE_MAX_ENTRIES: String(PAST_CAP) };
  const home = await res.tempDir("cap");
  const options = { first: 1, perTenth, maxS: 15, connections: MISS_CONCURRENCY };
  progress(`past the cap: ${SIZES.pastCapMisses} distinct misses, cap ${PAST_CAP}, proxy`);
  const proxy = await startProxy(res, home, mock, settings);
  const ours = await pastTheCap(proxy, dir, { ...options, dbPath: `${home}/cache.db` });
  await proxy.stop();
  const old = await startOld(res, v2, mock, settings);
  progress(`past the cap: the same through v2`);
  const theirs = old ? await pastTheCap(old, dir, options) : undefined;
  await old?.stop();
  return { cap: PAST_CAP, misses: SIZES.pastCapMisses, proxy: ours, v2: theirs };
}

async function main(): Promise<number> {
  if (!(await wrkAvailable())) {
    console.error("install wrk: apt-get install wrk");
    return 1;
  }
  const res = new Resources();
  // Ctrl-C or a kill still stops every child and removes every temp folder.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => res.release().finally(() => Deno.exit(130)));
  }
  const loadBefore = await loadAverage();
  const at = Deno.args.indexOf("--out");
  const out = at >= 0 && Deno.args[at + 1]
    ? Deno.args[at + 1]!
    : `${Deno.env.get("TMPDIR") ?? "/tmp"}/llm-cache-bench-${new Date().toISOString()}.md`;
  try {
    progress(`installing ${V2_PACKAGE} from npm for the comparison`);
    const v2 = await installV2(await res.tempDir("v2"));
    if ("missing" in v2) progress(`no v2 figures: ${v2.missing}`);
    const mock = res.track(await start(["--allow-net", "--allow-read", "scripts/_bench_mock.ts"]));
    const work = await res.tempDir("work");
    const hitsHome = await res.tempDir("hits");
    const proxy = await startProxy(res, hitsHome, mock.url);
    const old = await startOld(res, v2, mock.url);
    const { rows, stored } = await hitThroughput(res, proxy, old, work);
    const observers = await observerCost(res, hitsHome, mock.url, work);
    const miss = await missFirstByte(res, proxy.url, mock.url, old?.url);
    await Promise.all([proxy.stop(), old?.stop()]);
    const many = await manyEntries(res, v2, mock.url, work);
    const cap = await pastCap(res, v2, mock.url, work);
    const store = await storeSize(res, mock.url, stored);
    progress(`start-up on an empty home: 1 warm-up spawn, then ${STARTUPS}; v2 too`);
    const results = withTargets({
      v2: "entry" in v2 ? V2_PACKAGE : v2.missing,
      hits: rows,
      observers,
      miss,
      many,
      pastCap: cap,
      store,
      startup: {
        ...(await startup(res, mock.url, await res.tempDir("startup"))),
        v2Health: await oldStartup(res, v2, mock.url),
      },
      backends: await storeBackends(res, mock.url, work),
      machine: { cores: navigator.hardwareConcurrency, loadBefore, loadAfter: await loadAverage() },
    });
    const report = toMarkdown(results);
    await Deno.writeTextFile(out, `${report}\n`);
    console.log(Deno.args.includes("--json") ? JSON.stringify(results, null, 2) : report);
    console.log(`\nFull report written to ${out}`);
    return 0;
  } finally {
    await res.release();
  }
}

if (import.meta.main) Deno.exit(await main());
