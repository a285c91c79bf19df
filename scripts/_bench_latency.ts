/**
 * The bench's latency parts: the first byte a miss adds, hit latency against store size, and start-up.
 *
 * @module
 */
import { freePort } from "../tests/support/harness.ts";
import { messageBody } from "../tests/support/proxy.ts";
import { firstByte } from "./_bench_http.ts";
import { launch, proxyCommand, Resources, rssBytes, start } from "./_bench_proc.ts";
import { startV2, type V2 } from "./_bench_v2.ts";
import { type Results, type StoreRun } from "./_bench_report.ts";
import { percentile, summarize } from "./_bench_stats.ts";
import { entryRequest, fillHome } from "./_bench_store.ts";
import {
  alternate,
  BLOCK,
  firstHealth,
  MISS_ROUNDS,
  NO_CAP,
  progress,
  sample,
  SEQUENTIAL_REQUESTS,
  SIZES,
  startProxy,
  STARTUPS,
} from "./_bench_common.ts";

export async function missFirstByte(
  res: Resources,
  proxy: string,
  mock: string,
  old?: string,
): Promise<Results["miss"]> {
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

export async function storeSize(
  res: Resources,
  mock: string,
  stored: { bytes: Uint8Array; contentType: string },
): Promise<Results["store"]> {
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

/** Spawns the proxy on `home` once to warm up, then {@link STARTUPS} times, timing each. */
export async function startup(
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
export async function oldStartup(res: Resources, v2: V2, mock: string): Promise<number[]> {
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
