/**
 * `deno task bench`: measures the proxy as its own process in front of the
 * mock Anthropic API (also its own process) and prints a markdown table
 * (`--json`: one JSON object) of
 *
 * 1. hit throughput and latency at concurrency 32 (wrk) for a ~2 KB JSON and
 *    a ~20 KB SSE entry, beside a bare `Deno.serve` answering the same bytes;
 * 2. the time to first byte that a miss adds, proxy against direct (and
 *    against a bare fetch pass-through, the floor of any Deno proxy);
 * 3. sequential hit latency with 1 and with 100,000 entries in the store;
 * 4. start-up time, spawn to the listening line and to the first `/health` 200;
 * 5. the same hit from the SQLite store and from a shared Redis store (a real
 *    `redis-server`, Debian package `redis-server`).
 *
 * Progress goes to stderr. Needs `wrk` (Debian package `wrk`).
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
  type Running,
  start,
} from "./_bench_proc.ts";
import {
  type Load,
  type Results,
  type StoreRun,
  toMarkdown,
  withTargets,
} from "./_bench_report.ts";
import { summarize } from "./_bench_stats.ts";
import { RUN_FLAGS } from "./compile.ts";
import { entryRequest, fillHome } from "./_bench_store.ts";
import { runWrk, writePostScript, wrkAvailable } from "./_bench_wrk.ts";

const WARMUP_S = 1;
const MEASURE_S = 4;
const HIT_ROUNDS = 3;
const CONNECTIONS = 32;
const MISS_ROUNDS = 50;
const STORE_ENTRIES = 100_000;
const SEQUENTIAL_REQUESTS = 2_000;
const BLOCK = 100;
const STARTUPS = 5;
const HIT_CASES = [
  { name: "JSON ~2 KB", body: messageBody("[mock:big:1560] bench json entry") },
  { name: "SSE ~20 KB", body: messageBody("[mock:big:18500] bench sse entry", { stream: true }) },
];

function progress(message: string): void {
  console.error(`[bench] ${message}`);
}

async function startProxy(res: Resources, home: string, upstream: string): Promise<Running> {
  const { args, env } = proxyCommand(home, upstream);
  return res.track(await start(args, env));
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

/** Primes one entry (a MISS, then a verified HIT) and returns the bytes the hit replays. */
async function prime(proxy: string, body: string) {
  const miss = await post(proxy, body);
  const hit = await post(proxy, body);
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

async function hitThroughput(res: Resources, proxy: Running, dir: string) {
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
    const viaProxy: Load[] = [];
    const viaBare: Load[] = [];
    for (let round = 1; round <= HIT_ROUNDS; round++) {
      progress(`hit throughput, ${name}: proxy, then bare (round ${round}/${HIT_ROUNDS})`);
      viaProxy.push(await load(proxy, script));
      viaBare.push(await load(bare, script));
    }
    await bare.stop();
    const [p, b] = [medianLoad(viaProxy), medianLoad(viaBare)];
    rows.push({ name, bytes: hit.bytes.byteLength, proxy: p, bare: b });
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

async function missFirstByte(res: Resources, proxy: string, mock: string) {
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
  ] as const;
  const round = async (i: number) => {
    const ms: Record<string, number> = {};
    for (let k = 0; k < targets.length; k++) {
      const [via, url] = targets[(i + k) % targets.length]!; // rotate the order
      const body = messageBody(`[mock:slow:200] ${nonce} ${i} ${via}`, { stream: true });
      const got = await firstByte(url, body);
      if (via === "proxy" && got.cache !== "MISS") throw new Error(`not a MISS: ${got.cache}`);
      ms[via] = got.ms;
    }
    return ms as Record<(typeof targets)[number][0], number>;
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
  const sizes = [1, STORE_ENTRIES];
  const runs = [];
  for (const entries of sizes) {
    progress(`store of ${entries} entries: filling`);
    const home = await res.tempDir(`store${entries}`);
    const entry = { body: stored.bytes, contentType: stored.contentType };
    const fillMs = await fillHome(home, mock, entries, entry);
    const proxy = await startProxy(res, home, mock);
    runs.push({ proxy, fillMs, startMs: (await proxy.listening).at - proxy.spawnedAt });
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
  const result = runs.map((r, i): StoreRun => ({
    fillMs: r.fillMs,
    startMs: r.startMs,
    oneKey: one[i]!,
    randomKeys: rand[i]!,
  }));
  await Promise.all(runs.map((r) => r.proxy.stop()));
  return { entries: STORE_ENTRIES, requests: n, one: result[0]!, big: result[1]! };
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

async function startup(res: Resources, mock: string): Promise<Results["startup"]> {
  progress(`start-up: 1 warm-up spawn, then ${STARTUPS}`);
  const home = await res.tempDir("startup");
  const listening: number[] = [];
  const health: number[] = [];
  for (let i = 0; i <= STARTUPS; i++) {
    const port = freePort();
    const { args, env } = proxyCommand(home, mock, port);
    const child = res.track(launch(args, env));
    const healthAt = await firstHealth(port, child.spawnedAt + 10_000);
    const listeningAt = (await child.listening).at;
    await child.stop();
    if (i === 0) continue;
    health.push(healthAt - child.spawnedAt);
    listening.push(listeningAt - child.spawnedAt);
  }
  return { listening, health };
}

async function main(): Promise<number> {
  if (!(await wrkAvailable())) {
    console.error("install wrk: apt-get install wrk");
    return 1;
  }
  const res = new Resources();
  const loadBefore = await loadAverage();
  try {
    const mock = res.track(await start(["--allow-net", "--allow-read", "scripts/_bench_mock.ts"]));
    const work = await res.tempDir("work");
    const hitsHome = await res.tempDir("hits");
    const proxy = await startProxy(res, hitsHome, mock.url);
    const { rows, stored } = await hitThroughput(res, proxy, work);
    const observers = await observerCost(res, hitsHome, mock.url, work);
    const miss = await missFirstByte(res, proxy.url, mock.url);
    await proxy.stop();
    const store = await storeSize(res, mock.url, stored);
    const results = withTargets({
      hits: rows,
      observers,
      miss,
      store,
      startup: await startup(res, mock.url),
      backends: await storeBackends(res, mock.url, work),
      machine: { cores: navigator.hardwareConcurrency, loadBefore, loadAfter: await loadAverage() },
    });
    console.log(
      Deno.args.includes("--json") ? JSON.stringify(results, null, 2) : toMarkdown(results),
    );
    return 0;
  } finally {
    await res.release();
  }
}

if (import.meta.main) Deno.exit(await main());
