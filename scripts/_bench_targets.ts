/**
 * The performance targets `scripts/bench.ts` judges its figures against,
 * and their table.
 *
 * @module
 */
import type { Results } from "./_bench_report.ts";
import { fmt, markdownTable, percentile, verdict } from "./_bench_stats.ts";

/** One target and whether it is met. */
export interface Target {
  readonly name: string;
  readonly value: number;
  readonly limit: string;
  readonly ok: boolean;
}

/** The hot tier's default memory budget (`SqliteStore`'s `hotBytes`). */
const HOT_TIER_BYTES = 64 * 1024 * 1024;

function atMost(name: string, value: number, limit: number): Target {
  return { name, value, limit: `<= ${limit}`, ok: value <= limit };
}

function atLeast(name: string, value: number, limit: number): Target {
  return { name, value, limit: `>= ${limit}`, ok: value >= limit };
}

/**
 * Judges each target; a target that needs v2's figure is left out when v2 could not run.
 *
 * @param r the results
 * @returns the targets with their values
 */
export function judge(r: Results): Target[] {
  const targets: Target[] = [];
  const { miss, many, pastCap, store } = r;
  targets.push(atMost("1. first byte added by a miss, median ms", miss.added.p50, 0.8));
  if (miss.v2Added) {
    targets.push(
      atMost("1. first byte added, proxy − v2, median ms", miss.added.p50 - miss.v2Added.p50, 0),
    );
  }
  if (many.v2) {
    targets.push(
      atLeast(
        "2. distinct misses/s at concurrency 16, proxy/v2",
        many.proxy.misses.rate / many.v2.misses.rate,
        2,
      ),
    );
  }
  for (const h of r.hits) {
    targets.push(
      atLeast(`3. hit throughput ${h.name}, proxy/bare`, h.proxy.rps / h.bare.rps, 0.85),
    );
  }
  const ratio = (pattern: "oneKey" | "randomKeys", p: "p50" | "p99") =>
    store.big[pattern][p] / store.one[pattern][p];
  const big = `${store.entries} entries`;
  targets.push(atMost(`4. hit p50 random keys, ${big}/1`, ratio("randomKeys", "p50"), 1.2));
  targets.push(atMost(`4. hit p99 random keys, ${big}/1`, ratio("randomKeys", "p99"), 2));
  targets.push(atMost(`4. start-up to /health 200 with ${big}, median ms`, store.big.startMs, 100));
  const grown = (store.big.rssBytes - store.one.rssBytes) / HOT_TIER_BYTES;
  targets.push(atMost(`4. RSS with ${big} − with 1, in hot-tier budgets (64 MiB)`, grown, 1));
  const first = pastCap.proxy[0]!;
  const last = pastCap.proxy.at(-1)!;
  targets.push(atLeast(`5. misses/s past the cap, last tenth/first`, last.rate / first.rate, 0.8));
  // The key memo and the parse memo fill up through the first tenths, within their budgets;
  // so does the WAL, up to its 32 MiB allowance (how fast depends on the pages a commit writes).
  const middle = pastCap.proxy[4]!;
  targets.push(
    atMost(`5. RSS past the cap, last tenth/fifth`, last.rssBytes / middle.rssBytes, 1.2),
  );
  targets.push(
    atMost(
      `5. cache.db + WAL past the cap, last tenth/fifth`,
      last.fileBytes / middle.fileBytes,
      1.5,
    ),
  );
  const oneEntryP99 = r.hits[0]!.proxy.p99Ms;
  targets.push(
    atMost(
      "hits spread over 20,000 entries, wrk p99 / one entry's",
      many.proxy.hits.p99Ms / oneEntryP99,
      2,
    ),
  );
  targets.push(
    atLeast(
      "hit throughput, observers on (with a /monitor client) / off",
      r.observers.on.rps / r.observers.off.rps,
      0.9,
    ),
  );
  const health = percentile(r.startup.health, 50);
  targets.push(atMost("start-up to /health 200, empty home, median ms", health, 100));
  return targets;
}

/**
 * Renders the targets as a markdown section.
 *
 * @param targets the judged targets
 * @returns the text
 */
export function targetsTable(targets: readonly Target[]): string {
  const rows = targets.map((t) => [t.name, fmt(t.value, 3), t.limit, verdict(t.ok)]);
  return "### Targets\n\n" + markdownTable(["target", "value", "limit", "result"], rows);
}
