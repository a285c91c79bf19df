/**
 * `llm-cache-proxy stats`: the all-time ledger and the cache's size, read
 * from the store itself, so it works whether or not the proxy runs.
 *
 * @module
 */
import { type Config, loadConfig } from "../config.ts";
import { formatCompact } from "../format.ts";
import { Ledger, type Totals } from "../stats/ledger.ts";
import { openForCommand } from "../store/open.ts";
import { parseFlags } from "./args.ts";
import { columns, formatBytes, formatCount, formatPercent, formatUsd, styleFor } from "./term.ts";

/** One line for the command list. */
export const summary = "All-time hits, savings and spend, from the store (offline)";

/** The text `stats --help` prints. */
export const help = `Usage: llm-cache-proxy stats [--json]

Prints the all-time totals (calls, hits, tokens and dollars saved and spent,
by model) and the cache's size, read from $CACHE_HOME/cache.db. Works whether
or not the proxy runs; a running proxy's last second of calls may not be
written yet. "status" shows the running proxy's own session.

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

async function readReport(config: Config): Promise<StatsReport> {
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
        `${formatCount(r.hits)} hits · ${formatCount(r.misses)} misses · ${
          formatCount(r.bypassed)
        } bypassed · ${formatCount(r.errors)} errors`,
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
