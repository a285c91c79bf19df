/**
 * The bench's sizes and the steps every part of it shares: starting the
 * proxy and v2, one wrk load, priming an entry, picking the median run.
 *
 * @module
 */
import { messageBody } from "../tests/support/proxy.ts";
import { post, sequentialHits } from "./_bench_http.ts";
import {
  cpuSince,
  cpuSnapshot,
  proxyCommand,
  Resources,
  type Running,
  start,
} from "./_bench_proc.ts";
import { startV2, type V2 } from "./_bench_v2.ts";
import { type Load } from "./_bench_report.ts";
import { summarize } from "./_bench_stats.ts";
import { runWrk } from "./_bench_wrk.ts";

/** wrk's warm-up before each measured run, in s. */
export const WARMUP_S = 1;
/** Length of each measured wrk run, in s. */
export const MEASURE_S = 4;
/** Measured runs per hit case; the median is kept. */
export const HIT_ROUNDS = 3;
/** wrk connections for hit throughput. */
export const CONNECTIONS = 32;
/**
 * Rounds of the first-byte measurement of a miss. With 50, the median moved by
 * up to 0.1 ms from one run to the next (as much as the target's margin); each
 * round takes a few ms.
 */
export const MISS_ROUNDS = 150;
/** Sequential hits per store size and per store backend. */
export const SEQUENTIAL_REQUESTS = 2_000;
/** Sequential hits sent to one target before switching to the next. */
export const BLOCK = 100;
/** Timed start-ups after a warm-up one. */
export const STARTUPS = 5;
/** Concurrent clients sending distinct misses. */
export const MISS_CONCURRENCY = 16;
/** The entry cap of the past-the-cap run. */
export const PAST_CAP = 5_000;

/** An entry cap above every store the bench makes. */
export const NO_CAP = "10000000";

/** Sizes of the runs; `--quick` shrinks them for a trial of the bench itself. */
export const SIZES = Deno.args.includes("--quick")
  ? { storeEntries: 50_000, distinctMisses: 4_000, pastCapMisses: 20_000 }
  : { storeEntries: 1_000_000, distinctMisses: 20_000, pastCapMisses: 100_000 };

export const HIT_CASES = [
  { name: "JSON ~2 KB", body: messageBody("[mock:big:1560] bench json entry") },
  { name: "SSE ~20 KB", body: messageBody("[mock:big:18500] bench sse entry", { stream: true }) },
];

export function progress(message: string): void {
  console.error(`[bench] ${message}`);
}

export async function startProxy(
  res: Resources,
  home: string,
  upstream: string,
  settings: Record<string, string> = {},
): Promise<Running> {
  const { args, env } = proxyCommand(home, upstream);
  return res.track(await start(args, { ...env, ...settings }));
}

/** v2 in a fresh home of its own, or undefined when it could not be installed. */
export async function startOld(
  res: Resources,
  v2: V2,
  upstream: string,
  settings: Record<string, string> = {},
): Promise<Running | undefined> {
  if (!("entry" in v2)) return undefined;
  return res.track(await startV2(v2.entry, await res.tempDir("v2home"), upstream, settings));
}

/** A 1 s wrk warm-up, then the measured run, with the server's CPU use during it. */
export async function load(server: Running, script: string): Promise<Load> {
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
export async function prime(proxy: string, body: string): ReturnType<typeof post> {
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
export function medianLoad(loads: Load[]): Load {
  return [...loads].sort((a, b) => a.rps - b.rps)[loads.length >> 1]!;
}

/** `n` distinct random integers in [0, max). */
export function sample(n: number, max: number): number[] {
  const picked = new Set<number>();
  while (picked.size < n) picked.add(Math.floor(Math.random() * max));
  return [...picked];
}

/** Sequential hits on two proxies in alternating blocks, so drift hits both alike. */
export async function alternate(
  urls: readonly string[],
  bodies: readonly string[][],
): Promise<ReturnType<typeof summarize>[]> {
  const times: number[][] = urls.map(() => []);
  for (let at = 0; at < bodies[0]!.length; at += BLOCK) {
    for (let k = 0; k < urls.length; k++) {
      const j = (at / BLOCK + k) % urls.length;
      times[j]!.push(...await sequentialHits(urls[j]!, bodies[j]!.slice(at, at + BLOCK)));
    }
  }
  return times.map(summarize);
}

export async function firstHealth(port: number, deadline: number): Promise<number> {
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
