/**
 * Load runs of `scripts/bench.ts` that need many distinct requests: miss
 * throughput (every request new), hits spread over the entries those misses
 * stored, and misses far past `CACHE_MAX_ENTRIES`, in tenths.
 *
 * @module
 */
import { messageBody } from "../tests/support/proxy.ts";
import { HEADERS } from "./_bench_http.ts";
import { rssBytes, type Running } from "./_bench_proc.ts";
import { entryRequest } from "./_bench_store.ts";
import { runWrk, writeDistinctScript, writeSpreadScript, type WrkResult } from "./_bench_wrk.ts";

/** Requests a wrk chunk may leave in flight when it stops: their numbers are not reused. */
const IN_FLIGHT = 64;

/** Distinct misses sent in chunks of wrk runs. */
export interface MissRun {
  /** Answers received. */
  readonly misses: number;
  /** Wall time of the chunks, s. */
  readonly seconds: number;
  /** Misses per second. */
  readonly rate: number;
  /** The slowest chunk's median and 99th percentile latency, ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Non-2xx answers and socket errors, as wrk words them. */
  readonly errors: string[];
  /** The request numbers answered for sure (each chunk's last {@link IN_FLIGHT} left out). */
  readonly answered: readonly (readonly [number, number])[];
  /** The first request number that no chunk used. */
  readonly next: number;
}

/** One tenth of a past-the-cap run. */
export interface Tenth {
  readonly misses: number;
  readonly rate: number;
  readonly rssBytes: number;
  /** cache.db with its WAL, bytes; NaN when the server keeps no such file. */
  readonly fileBytes: number;
}

/**
 * Sends distinct `bench entry N` requests (N from `first` on) at concurrency
 * `connections` until `count` are answered, in wrk runs of `chunkS` seconds.
 *
 * @param server where to send
 * @param dir a folder for the Lua script
 * @param options the first number, how many, concurrency and chunk length
 * @returns what was sent and how fast
 */
export async function distinctMisses(
  server: Running,
  dir: string,
  options: { first: number; count: number; connections: number; chunkS: number; maxS?: number },
): Promise<MissRun> {
  const script = await writeDistinctScript(
    dir,
    "distinct",
    messageBody("bench entry __N__"),
    { ...HEADERS },
  );
  const url = `${server.url}/v1/messages`;
  const runs: WrkResult[] = [];
  const answered: [number, number][] = [];
  let next = options.first;
  let misses = 0;
  const t0 = performance.now();
  const deadline = t0 + (options.maxS ?? Infinity) * 1000;
  while (misses < options.count && performance.now() < deadline) {
    const run = await runWrk(url, script, options.chunkS, options.connections, [String(next)]);
    runs.push(run);
    misses += run.requests;
    if (run.requests > IN_FLIGHT) answered.push([next, next + run.requests - IN_FLIGHT - 1]);
    next += run.requests + IN_FLIGHT;
  }
  const seconds = (performance.now() - t0) / 1000;
  const slowest = runs.reduce((a, b) => (b.p99Ms > a.p99Ms ? b : a));
  return {
    misses,
    seconds,
    rate: misses / seconds,
    p50Ms: slowest.p50Ms,
    p99Ms: slowest.p99Ms,
    errors: runs.flatMap((r) => r.errors),
    answered,
    next,
  };
}

/**
 * The bodies of `count` requests that a {@link distinctMisses} run stored, spread over its range.
 *
 * @param run the run
 * @param count how many bodies
 * @returns request bodies, each stored
 */
export function storedBodies(run: MissRun, count: number): string[] {
  const numbers = run.answered.flatMap(([from, to]) =>
    Array.from({ length: to - from + 1 }, (_, i) => from + i)
  );
  const step = Math.max(1, numbers.length / count);
  return Array.from(
    { length: Math.min(count, numbers.length) },
    (_, i) => entryRequest(numbers[Math.floor(i * step)]!),
  );
}

/**
 * Hits at concurrency 32 on keys picked at random among `bodies`.
 *
 * @param server where to send
 * @param dir a folder for the script and bodies
 * @param bodies stored request bodies
 * @param seconds how long
 * @returns wrk's report
 */
export async function spreadHits(
  server: Running,
  dir: string,
  bodies: readonly string[],
  seconds: number,
): Promise<WrkResult> {
  const script = await writeSpreadScript(dir, "spread", bodies, { ...HEADERS });
  await runWrk(`${server.url}/v1/messages`, script, 1, 32); // warm-up
  return await runWrk(`${server.url}/v1/messages`, script, seconds, 32);
}

/**
 * Distinct misses in ten equal runs, with the server's RSS and file size
 * after each. A tenth stops early after `maxS` seconds: a slow server sends
 * fewer, and its tenths still compare.
 *
 * @param server a server started with a small entry cap
 * @param dir a folder for the script
 * @param options the first request number, misses per tenth and seconds at most, concurrency,
 *   the database path
 * @returns the ten tenths
 */
export async function pastTheCap(
  server: Running,
  dir: string,
  options: {
    first: number;
    perTenth: number;
    maxS: number;
    connections: number;
    dbPath?: string;
  },
): Promise<Tenth[]> {
  const tenths: Tenth[] = [];
  let next = options.first;
  for (let i = 0; i < 10; i++) {
    const run = await distinctMisses(server, dir, {
      first: next,
      count: options.perTenth,
      connections: options.connections,
      chunkS: 2,
      maxS: options.maxS,
    });
    next = run.next;
    tenths.push({
      misses: run.misses,
      rate: run.rate,
      rssBytes: await rssBytes(server.pid),
      fileBytes: options.dbPath ? await fileBytes(options.dbPath) : NaN,
    });
  }
  return tenths;
}

async function fileBytes(dbPath: string): Promise<number> {
  let total = 0;
  for (const path of [dbPath, `${dbPath}-wal`]) {
    total += await Deno.stat(path).then((s) => s.size, () => 0);
  }
  return total;
}
