/**
 * `llm-cache-proxy stats`: the all-time ledger and the cache's size, read
 * from the store itself, so it works whether or not the proxy runs.
 *
 * @module
 */
import { type Config, loadConfig } from "../config.ts";
import { redactUrl } from "../config_addresses.ts";
import { formatCompact } from "../format.ts";
import { Ledger } from "../stats/ledger.ts";
import { pickTotals, type Totals } from "../stats/totals.ts";
import type { StatsBody } from "../proxy/views.ts";
import { openForCommand } from "../store/open.ts";
import { parseFlags } from "./args.ts";
import { ProxyClient } from "./proxy_client.ts";
import {
  columns,
  formatBytes,
  formatCount,
  formatPercent,
  formatPlural,
  formatUsd,
  styleFor,
} from "./term.ts";

/** One line for the command list. */
export const summary = "All-time hits, savings and spend (from the proxy, or its store offline)";

/** The text `stats --help` prints. */
export const help = `Usage: llm-cache-proxy stats [--json]

Prints the all-time totals (calls, hits, tokens and dollars saved and spent,
by model) and the cache's size: the running proxy's own figures when it
answers, else read from $CACHE_HOME/cache.db, so it works whether or not the
proxy runs. "status" shows the running proxy's own session.

  --json   print the totals as one JSON object

Exit codes: 0 ok, 1 the store cannot be read, 2 bad configuration.`;

/** The JSON `stats --json` prints. */
export interface StatsReport extends Totals {
  readonly cache: { readonly path: string; readonly entries: number; readonly bytes: number };
}

/**
 * Runs `stats`.
 *
 * @param args flags after `stats`
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { json: { type: "boolean" } });
  const config = await loadConfig(Deno.env.toObject());
  let report: StatsReport;
  try {
    report = await readReport(config);
  } catch (e) {
    console.error(`llm-cache-proxy stats: cannot read ${config.dbPath}: ${(e as Error).message}`);
    return 1;
  }
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else console.log(pretty(report).join("\n"));
  return 0;
}

/**
 * The running proxy's own figures when this home's proxy answers (its ledger
 * writes to the store once a second), else the store's.
 */
async function readReport(config: Config): Promise<StatsReport> {
  const client = ProxyClient.for(config);
  if (await client.health(500)) {
    try {
      const live = await client.json<StatsBody>("/stats");
      const where = config.storeUrl === undefined ? config.dbPath : redactUrl(config.storeUrl);
      const { entries, bytes } = live.store;
      return { ...pickTotals(live), cache: { path: where, entries, bytes } };
    } catch {
      // It stopped meanwhile, or refused: read the store.
    }
  }
  const { store, where } = await openForCommand(config);
  const ledger = await Ledger.open(store);
  try {
    return {
      ...ledger.allTime(),
      cache: { path: where, entries: await store.count(), bytes: await store.bytes() },
    };
  } finally {
    await ledger.close();
    await store.close();
  }
}

function pretty(r: StatsReport): string[] {
  const s = styleFor(Deno.stdout);
  if (r.calls === 0) {
    return [
      `No calls recorded yet in ${r.cache.path}.`,
      "Start the proxy with: llm-cache-proxy on, then point ANTHROPIC_BASE_URL at it.",
    ];
  }
  const lines = [
    s.bold(`llm-cache-proxy · all time`) + s.dim(`  (${r.cache.path})`),
    ...columns([
      [
        "calls",
        formatCount(r.calls),
        [
          formatPlural(r.hits, "hit"),
          formatPlural(r.misses, "miss", "misses") +
          (r.bypassed > 0 ? ` (${formatCount(r.bypassed)} bypassed)` : ""),
          formatPlural(r.errors, "error"),
        ].join(" · "),
      ],
      ["hit rate", formatPercent(r.hitRate), "hits / (hits + misses)"],
      [
        "saved",
        s.green(formatUsd(r.usdSaved)),
        `${formatCompact(r.tokensSaved)} tokens served from the cache`,
      ],
      ["spent", formatUsd(r.usdSpent), `${formatCompact(r.tokensSpent)} tokens from Anthropic`],
      ["savings", `${r.savingsPct.toFixed(1)}%`, "of what every call would have cost"],
      ["cache", formatCount(r.cache.entries), `entries · ${formatBytes(r.cache.bytes)}`],
    ]).map((line) => `  ${line}`),
  ];
  const models = Object.entries(r.models).sort(([, a], [, b]) => b.calls - a.calls);
  if (models.length > 0) {
    lines.push(
      "",
      ...columns([
        ["model", "calls", "hits", "saved", "spent"].map(s.dim),
        ...models.map(([name, m]) => [
          name,
          formatCount(m.calls),
          formatCount(m.hits),
          formatUsd(m.usdSaved),
          formatUsd(m.usdSpent),
        ]),
      ]).map((line) => `  ${line}`),
    );
  }
  return lines;
}
