/**
 * The figures `scripts/bench.ts` collects, the targets they are judged
 * against, and their markdown rendering.
 *
 * @module
 */
import type { MissRun, Tenth } from "./_bench_misses.ts";
import { fmt, markdownTable, percentile } from "./_bench_stats.ts";
import { judge, type Target, targetsTable } from "./_bench_targets.ts";
import type { WrkResult } from "./_bench_wrk.ts";

/** Median, 90th and 99th percentile, in ms. */
export interface Summary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

/** A wrk run and the CPU use of the server under it. */
export type Load = WrkResult & {
  /** The server process's CPU use during the run, % of one core. */
  readonly serverCpuPct: number;
  /** The whole machine's idle share during the run, %. */
  readonly machineIdlePct: number;
};

/** One store size of the store-size comparison. */
export interface StoreRun {
  /** Time to compute the keys and insert the entries, ms. */
  readonly fillMs: number;
  /** Spawn to the listening line on this store, ms. */
  readonly startMs: number;
  /** Sequential hits on one key. */
  readonly oneKey: Summary;
  /** Sequential hits on random keys (each new to the proxy's key memo). */
  readonly randomKeys: Summary;
  /** The proxy's resident memory after the hits, bytes. */
  readonly rssBytes: number;
}

/** Distinct misses, then hits spread over what they stored, on one server. */
export interface ManyRun {
  readonly misses: MissRun;
  readonly hits: WrkResult;
  readonly rssBytes: number;
}

/** Everything measured. */
export interface Results {
  /** The v2 package compared with, or why it could not run. */
  readonly v2: string;
  /** Hit throughput per entry kind: proxy, bare server, v2. */
  readonly hits: { name: string; bytes: number; proxy: Load; bare: Load; v2: Load | undefined }[];
  /** Hit throughput with the call observers (ledger, metrics, log, a monitor client) on and off. */
  readonly observers: { on: Load; unwatched: Load; off: Load };
  /**
   * First byte of a slow stream: direct, through a bare fetch pass-through and through the
   * proxy (a miss), and what each adds over direct within the same round.
   */
  readonly miss: {
    rounds: number;
    direct: Summary;
    passthrough: Summary;
    jsPassthrough: Summary;
    proxy: Summary;
    passthroughAdded: Summary;
    jsPassthroughAdded: Summary;
    added: Summary;
    v2Added: Summary | undefined;
  };
  /** Distinct misses at concurrency 16 and hits spread over 20,000 of their entries. */
  readonly many: { passthrough: MissRun; proxy: ManyRun; v2: ManyRun | undefined };
  /** Distinct misses far past a small entry cap, in tenths. */
  readonly pastCap: { cap: number; misses: number; proxy: Tenth[]; v2: Tenth[] | undefined };
  /** Sequential hit latency on a 1-entry and a big store. */
  readonly store: { entries: number; requests: number; one: StoreRun; big: StoreRun };
  /** Start-up samples in ms: spawn to listening line, spawn to first `/health` 200. */
  readonly startup: { listening: number[]; health: number[]; v2Health: number[] };
  /** The same JSON ~2 KB hit from the embedded SQLite store and from a shared Redis store. */
  readonly backends: { requests: number; sqlite: BackendRun; redis: BackendRun };
  /** Cores and load averages (1, 5, 15 min) before and after: other work skews the figures. */
  readonly machine: { cores: number; loadBefore: number[]; loadAfter: number[] };
}

/** Hits from one store backend: sequential latency and throughput at concurrency 32. */
export interface BackendRun {
  readonly sequential: Summary;
  readonly load: Load;
}

/** The results with their targets judged. */
export type Report = Results & { readonly targets: Target[] };

/**
 * Judges the targets of the performance issue.
 *
 * @param r the results
 * @returns the results and the targets
 */
export function withTargets(r: Results): Report {
  return { ...r, targets: judge(r) };
}

/**
 * Renders the report as markdown sections.
 *
 * @param r the report
 * @returns the text
 */
export function toMarkdown(r: Report): string {
  const load = (xs: number[]) => xs.length ? xs.map((x) => fmt(x)).join(" ") : "unknown";
  const machine = `Machine: ${r.machine.cores} cores; load average ${load(r.machine.loadBefore)} ` +
    `before, ${load(r.machine.loadAfter)} after.`;
  return [
    hitsTable(r),
    observersTable(r),
    missTable(r),
    manyTable(r),
    pastCapTable(r),
    storeTable(r),
    startupTable(r),
    backendsTable(r),
    targetsTable(r.targets),
    `Compared with ${r.v2}.`,
    machine,
  ]
    .join("\n\n");
}

function observersTable(r: Report): string {
  const { on, unwatched, off } = r.observers;
  const row = (name: string, l: Load) => [name, fmt(l.rps, 0), `${fmt(l.p50Ms)} / ${fmt(l.p99Ms)}`];
  return "### Observers: hit throughput, JSON ~2 KB, both at CACHE_LOG_LEVEL=error (median of 3 runs, alternating)\n\n" +
    markdownTable(["proxy", "req/s", "p50/p99 ms"], [
      row("ledger, metrics and a /monitor client reading every event", on),
      row("ledger and metrics, nobody watching /monitor", unwatched),
      row("event bus with no listeners", off),
    ]) +
    `\n\nOn/off: ${fmt(on.rps / off.rps)} with a watcher, ${fmt(unwatched.rps / off.rps)} without.`;
}

function hitsTable(r: Report): string {
  const cells = (l: Load) => [
    fmt(l.rps, 0),
    `${fmt(l.p50Ms)} / ${fmt(l.p99Ms)}`,
    `${fmt(l.serverCpuPct, 0)} / ${fmt(l.machineIdlePct, 0)}`,
  ];
  const none = ["n/a", "n/a", "n/a"];
  const rows = r.hits.map((h) => [
    h.name,
    String(h.bytes),
    ...cells(h.proxy),
    ...cells(h.bare),
    ...(h.v2 ? cells(h.v2) : none),
    fmt(h.proxy.rps / h.bare.rps),
  ]);
  const side = (who: string) => [`${who} req/s`, `${who} p50/p99 ms`, `${who} CPU/idle %`];
  const head = ["entry", "bytes", ...side("proxy"), ...side("bare"), ...side("v2"), "proxy/bare"];
  return "### Hit throughput (wrk -t1 -c32, 4 s after a 1 s warm-up; median of 3 runs, proxy, bare and v2 alternating)\n\n" +
    markdownTable(head, rows) +
    "\n\nCPU: the server process, % of one core; idle: the whole machine's idle share.";
}

function missTable(r: Report): string {
  const m = r.miss;
  const row = (name: string, s: Summary) => [name, fmt(s.p50, 3), fmt(s.p90, 3)];
  return `### Miss: first byte of a slow:200 stream (${m.rounds} sequential rounds)\n\n` +
    markdownTable(["ms", "p50", "p90"], [
      row("direct to mock", m.direct),
      row("bare fetch pass-through", m.passthrough),
      row("pass-through via a JS stream", m.jsPassthrough),
      row("proxy (MISS)", m.proxy),
      row("added by pass-through", m.passthroughAdded),
      row("added by JS-stream pass-through", m.jsPassthroughAdded),
      row("added by proxy", m.added),
      ...(m.v2Added ? [row("added by v2", m.v2Added)] : []),
    ]) +
    "\n\nAdded: (via X) − (direct) within each round, then the percentile.";
}

function storeTable(r: Report): string {
  const { one, big, entries, requests } = r.store;
  const row = (name: string, pattern: "oneKey" | "randomKeys") => [
    name,
    `${fmt(one[pattern].p50, 3)} / ${fmt(one[pattern].p99, 3)}`,
    `${fmt(big[pattern].p50, 3)} / ${fmt(big[pattern].p99, 3)}`,
    fmt(big[pattern].p50 / one[pattern].p50),
    fmt(big[pattern].p99 / one[pattern].p99),
  ];
  const head = ["pattern", "1 entry p50/p99 ms", `${entries} p50/p99 ms`, "ratio p50", "ratio p99"];
  return `### Hit latency vs store size (${requests} sequential requests each)\n\n` +
    markdownTable(head, [row("one key repeated", "oneKey"), row("random keys", "randomKeys")]) +
    `\n\nFill ${entries} entries: ${fmt(big.fillMs / 1000, 1)} s; ` +
    `spawn to the first /health 200 on it, median of 5: ${fmt(big.startMs, 1)} ms ` +
    `(1 entry: ${fmt(one.startMs, 1)} ms). RSS after the hits: ${mib(big.rssBytes)} ` +
    `(1 entry: ${mib(one.rssBytes)}).`;
}

function backendsTable(r: Report): string {
  const { requests, sqlite, redis } = r.backends;
  const row = (name: string, b: BackendRun) => [
    name,
    `${fmt(b.sequential.p50, 3)} / ${fmt(b.sequential.p99, 3)}`,
    fmt(b.load.rps, 0),
    `${fmt(b.load.p50Ms)} / ${fmt(b.load.p99Ms)}`,
  ];
  return `### Hits by store: SQLite vs Redis (JSON ~2 KB; ${requests} sequential, then wrk -c32)\n\n` +
    markdownTable(
      ["store", "sequential p50/p99 ms", "req/s at 32 connections", "p50/p99 ms at 32"],
      [row("SQLite file (hot tier in memory)", sqlite), row("Redis on loopback (hot tier)", redis)],
    ) +
    `\n\nRedis/SQLite: ${fmt(redis.sequential.p50 / sqlite.sequential.p50)}× sequential p50, ` +
    `${fmt(redis.load.rps / sqlite.load.rps)}× throughput (target: at least 0.8×).`;
}

function manyTable(r: Report): string {
  const { passthrough, proxy, v2 } = r.many;
  const misses = (name: string, m: MissRun | undefined) =>
    m
      ? [name, String(m.misses), fmt(m.rate, 0), `${fmt(m.p50Ms)} / ${fmt(m.p99Ms)}`]
      : [name, "n/a", "n/a", "n/a"];
  const hits = (name: string, run: ManyRun | undefined) =>
    run
      ? [
        name,
        fmt(run.hits.rps, 0),
        `${fmt(run.hits.p50Ms)} / ${fmt(run.hits.p99Ms)}`,
        mib(run.rssBytes),
      ]
      : [name, "n/a", "n/a", "n/a"];
  return `### Distinct misses at concurrency 16, then hits spread over 20,000 of their entries\n\n` +
    markdownTable(["misses via", "answered", "misses/s", "p50/p99 ms (slowest chunk)"], [
      misses("bare fetch pass-through", passthrough),
      misses("proxy", proxy.misses),
      misses("v2", v2?.misses),
    ]) + "\n\n" +
    markdownTable(["spread hits via", "req/s at 32", "p50/p99 ms", "RSS after"], [
      hits("proxy", proxy),
      hits("v2", v2),
    ]);
}

function pastCapTable(r: Report): string {
  const { cap, misses, proxy, v2 } = r.pastCap;
  const rows = proxy.map((t, i) => [
    String(i + 1),
    `${t.misses} at ${fmt(t.rate, 0)}`,
    mib(t.rssBytes),
    mib(t.fileBytes),
    v2?.[i] ? `${v2[i]!.misses} at ${fmt(v2[i]!.rate, 0)}` : "n/a",
    v2?.[i] ? mib(v2[i]!.rssBytes) : "n/a",
  ]);
  return `### ${misses} distinct misses with CACHE_MAX_ENTRIES=${cap}, by tenths\n\n` +
    markdownTable(
      ["tenth", "proxy misses at /s", "proxy RSS", "cache.db + WAL", "v2 misses at /s", "v2 RSS"],
      rows,
    ) +
    "\n\nA tenth stops after 15 s: a slower server sends fewer misses in it.";
}

/** Bytes as MiB with one decimal. */
export function mib(bytes: number): string {
  return `${fmt(bytes / 1024 / 1024, 1)} MiB`;
}

function startupTable(r: Report): string {
  const { listening, health } = r.startup;
  const row = (name: string, xs: number[]) => [
    name,
    fmt(percentile(xs, 50), 1),
    xs.map((x) => fmt(x, 1)).join(", "),
  ];
  return `### Start-up (${health.length} spawns after a warm-up spawn)\n\n` +
    markdownTable(["spawn to", "median ms", "samples ms"], [
      row("listening line", listening),
      row("first /health 200", health),
      ...(r.startup.v2Health.length ? [row("v2: first /health 200", r.startup.v2Health)] : []),
    ]);
}
