/**
 * The figures `scripts/bench.ts` collects, the targets they are judged
 * against, and their markdown rendering.
 *
 * @module
 */
import { fmt, markdownTable, percentile, verdict } from "./_bench_stats.ts";
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
}

/** Everything measured. */
export interface Results {
  /** Hit throughput per entry kind, proxy and bare server. */
  readonly hits: { name: string; bytes: number; proxy: Load; bare: Load }[];
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
  };
  /** Sequential hit latency on a 1-entry and a big store. */
  readonly store: { entries: number; requests: number; one: StoreRun; big: StoreRun };
  /** Start-up samples in ms: spawn to listening line, spawn to first `/health` 200. */
  readonly startup: { listening: number[]; health: number[] };
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

/** One target and whether it is met. */
export interface Target {
  readonly name: string;
  readonly value: number;
  readonly limit: string;
  readonly ok: boolean;
}

/** The results with their targets judged. */
export type Report = Results & { readonly targets: Target[] };

/**
 * Judges the targets: hit throughput ≥ 0.5× bare, a miss adds < 0.5 ms to the
 * first byte (median), 100k-entry hit p50 within 20% of 1-entry, start-up to
 * the first `/health` 200 < 150 ms (median).
 *
 * @param r the results
 * @returns the results and the targets
 */
export function withTargets(r: Results): Report {
  const targets: Target[] = r.hits.map((h) => {
    const value = h.proxy.rps / h.bare.rps;
    return {
      name: `hit throughput ${h.name}, proxy/bare`,
      value,
      limit: ">= 0.5",
      ok: value >= 0.5,
    };
  });
  const observed = r.observers.on.rps / r.observers.off.rps;
  targets.push({
    name: "hit throughput, observers on (with a /monitor client) / off",
    value: observed,
    limit: ">= 0.9",
    ok: observed >= 0.9,
  });
  targets.push({
    name: "first byte added by a miss, median ms",
    value: r.miss.added.p50,
    limit: "< 0.5",
    ok: r.miss.added.p50 < 0.5,
  });
  for (const pattern of ["oneKey", "randomKeys"] as const) {
    const value = r.store.big[pattern].p50 / r.store.one[pattern].p50;
    targets.push({ name: `hit p50 ${pattern}, 100k/1`, value, limit: "<= 1.2", ok: value <= 1.2 });
  }
  const health = percentile(r.startup.health, 50);
  targets.push({
    name: "start-up to /health 200, median ms",
    value: health,
    limit: "< 150",
    ok: health < 150,
  });
  return { ...r, targets };
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
    storeTable(r),
    startupTable(r),
    backendsTable(r),
    targetsTable(r),
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
  const rows = r.hits.map((h) => [
    h.name,
    String(h.bytes),
    ...cells(h.proxy),
    ...cells(h.bare),
    fmt(h.proxy.rps / h.bare.rps),
  ]);
  const side = (who: string) => [`${who} req/s`, `${who} p50/p99 ms`, `${who} CPU/idle %`];
  return "### Hit throughput (wrk -t1 -c32, 4 s after a 1 s warm-up; median of 3 runs, proxy and bare alternating)\n\n" +
    markdownTable(["entry", "bytes", ...side("proxy"), ...side("bare"), "proxy/bare"], rows) +
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
    `spawn to listening on it: ${fmt(big.startMs, 1)} ms (1 entry: ${fmt(one.startMs, 1)} ms).`;
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
    ]);
}

function targetsTable(r: Report): string {
  const rows = r.targets.map((t) => [t.name, fmt(t.value, 3), t.limit, verdict(t.ok)]);
  return "### Targets\n\n" + markdownTable(["target", "value", "limit", "result"], rows);
}
