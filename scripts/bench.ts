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
import { loadAverage, Resources, start } from "./_bench_proc.ts";
import { installV2, V2_PACKAGE } from "./_bench_v2.ts";
import { toMarkdown, withTargets } from "./_bench_report.ts";
import { wrkAvailable } from "./_bench_wrk.ts";
import { progress, startOld, startProxy, STARTUPS } from "./_bench_common.ts";
import { hitThroughput, observerCost, storeBackends } from "./_bench_hits.ts";
import { missFirstByte, oldStartup, startup, storeSize } from "./_bench_latency.ts";
import { manyEntries, pastCap } from "./_bench_scale.ts";

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
