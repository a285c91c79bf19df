/**
 * The bench's scale parts: a store of a million entries, and misses far past the entry cap.
 *
 * @module
 */
import type { Results } from "./_bench_report.ts";
import { Resources, rssBytes, type Running, start } from "./_bench_proc.ts";
import { distinctMisses, pastTheCap, spreadHits, storedBodies } from "./_bench_misses.ts";
import { type V2 } from "./_bench_v2.ts";
import {
  MEASURE_S,
  MISS_CONCURRENCY,
  NO_CAP,
  PAST_CAP,
  progress,
  SIZES,
  startOld,
  startProxy,
} from "./_bench_common.ts";

/**
 * Distinct misses at concurrency 16 into an uncapped store, then hits spread
 * over 20,000 of the entries they stored; the same for v2; and the misses
 * through a bare fetch pass-through, the floor of any Deno proxy.
 */
export async function manyEntries(
  res: Resources,
  v2: V2,
  mock: string,
  dir: string,
): Promise<Results["many"]> {
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
export async function pastCap(
  res: Resources,
  v2: V2,
  mock: string,
  dir: string,
): Promise<Results["pastCap"]> {
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
