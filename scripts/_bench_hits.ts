/**
 * The bench's hit parts: throughput against a bare server and v2, the cost of the observers, and the same hit from SQLite and from Redis.
 *
 * @module
 */
import { freePort } from "../tests/support/harness.ts";
import { startRedis } from "../tests/support/redis.ts";
import { HEADERS } from "./_bench_http.ts";
import { launch, proxyCommand, Resources, type Running, start } from "./_bench_proc.ts";
import { type Load, type Results } from "./_bench_report.ts";
import { RUN_FLAGS } from "./compile.ts";
import { writePostScript } from "./_bench_wrk.ts";
import {
  alternate,
  BLOCK,
  firstHealth,
  HIT_CASES,
  HIT_ROUNDS,
  load,
  medianLoad,
  prime,
  progress,
  SEQUENTIAL_REQUESTS,
  startProxy,
} from "./_bench_common.ts";

export async function hitThroughput(
  res: Resources,
  proxy: Running,
  old: Running | undefined,
  dir: string,
): Promise<{ rows: Results["hits"]; stored: Awaited<ReturnType<typeof prime>> }> {
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
export async function observerCost(
  res: Resources,
  home: string,
  mock: string,
  dir: string,
): Promise<Results["observers"]> {
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

/** The same hit served from the SQLite file and from Redis, alternating. */
export async function storeBackends(
  res: Resources,
  mock: string,
  dir: string,
): Promise<Results["backends"]> {
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
