/**
 * `llm-cache-proxy validate`: checks every configuration variable and file
 * on its own (so one mistake does not hide the next), the cache database,
 * and, when the proxy answers, its `/health`, `/stats` and `/metrics`. Exit 0
 * only when everything passes, so it can gate CI or a boot script.
 *
 * @module
 */
import type { Config } from "../config.ts";
import { checkConfig, type ConfigCheck } from "../config_check.ts";
import { exists } from "../fs.ts";
import { openForCommand } from "../store/open.ts";
import { parseFlags } from "./args.ts";
import { ProxyClient } from "./proxy_client.ts";
import { formatPercent, formatPlural, type Style, styleFor } from "./term.ts";

/** One line for the command list. */
export const summary = "Check the configuration and, if it runs, the proxy";

/** The text `validate --help` prints. */
export const help = `Usage: llm-cache-proxy validate [--json]

Checks, one line each: $CACHE_HOME/.env (readable, mode 0600, well formed, no
misspelt names), every setting (ANTHROPIC_API_KEY_REAL, CACHE_PORT, CACHE_HOST,
CACHE_AUTH_TOKEN, CACHE_TTL_SEC, CACHE_MAX_ENTRIES, CACHE_OFF, CACHE_LOG_LEVEL,
CACHE_LOG_FILE, CACHE_LOG_FORMAT, CACHE_UPSTREAM), prices.json and the cache
database. If the proxy is running, also its /health, /stats and /metrics.
Each problem comes with how to fix it. A proxy that is not running is not a
problem.

Flags:
  --json   print {ok, checks: [{section, name, ok, detail, fix?}]} instead

Exit codes: 0 all checks passed, 1 a check failed, 2 bad flags.`;

/** One line of the report. */
export interface Check extends ConfigCheck {
  readonly section: "config" | "runtime";
}

/** Metric families a current proxy serves at `/metrics` (see src/stats/metrics.ts). */
const EXPECTED_METRICS = [
  "llm_cache_calls_total",
  "llm_cache_hits_total",
  "llm_cache_misses_total",
  "llm_cache_tokens_saved_total",
  "llm_cache_usd_saved_total",
  "llm_cache_hit_ratio",
  "llm_cache_entries",
  "llm_cache_hit_duration_seconds",
  "llm_cache_miss_duration_seconds",
];

/**
 * Runs `validate`.
 *
 * @param args flags after `validate`
 * @returns 0 when every check passed, 1 otherwise
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { json: { type: "boolean" } });
  const report = await checkConfig(Deno.env.toObject());
  const config: Check[] = [...report.checks, await checkDatabase(report.config)]
    .map((check) => ({ section: "config", ...check }));
  const reachable = ["CACHE_PORT", "CACHE_HOST", "CACHE_AUTH_TOKEN"].every((name) =>
    report.checks.find((c) => c.name === name)?.ok !== false
  );
  const client = ProxyClient.for(report.config);
  const runtime = reachable ? await checkRuntime(client) : [skipped()];
  const checks = [...config, ...runtime];
  const ok = checks.every((check) => check.ok);
  if (values.json) console.log(JSON.stringify({ ok, checks }, null, 2));
  else console.log(render(checks, { home: report.home, base: client.base }, styleFor(Deno.stdout)));
  return ok ? 0 : 1;
}

async function checkDatabase(config: Config): Promise<ConfigCheck> {
  const shared = config.storeUrl !== undefined;
  const name = shared ? "CACHE_STORE" : "cache.db";
  if (!shared && !(await exists(config.dbPath).catch(() => true))) {
    return { name, ok: true, detail: `cache.db not created yet (the proxy makes it on start)` };
  }
  try {
    const { store, where } = await openForCommand(config);
    try {
      const n = await store.count();
      return {
        name,
        ok: true,
        detail: `${shared ? where : "cache.db"} opens (${formatPlural(n, "entry", "entries")})`,
      };
    } finally {
      await store.close();
    }
  } catch (e) {
    return {
      name,
      ok: false,
      detail: `${shared ? "the Redis store" : "cache.db"} cannot be opened: ${
        (e as Error).message
      }`,
      fix: shared
        ? "Start Redis or fix CACHE_STORE; meanwhile the proxy serves every call uncached"
        : `Stop the proxy and move ${config.dbPath} aside (the proxy starts a new, empty cache)`,
    };
  }
}

function skipped(): Check {
  return {
    section: "runtime",
    name: "proxy",
    ok: true,
    detail: "not checked until CACHE_PORT, CACHE_HOST and CACHE_AUTH_TOKEN pass",
  };
}

async function checkRuntime(client: ProxyClient): Promise<Check[]> {
  const health = await client.health();
  if (!health) {
    const detail = "proxy not running (start it with `llm-cache-proxy on`)";
    return [{ section: "runtime", name: "proxy", ok: true, detail }];
  }
  const first: Check = {
    section: "runtime",
    name: "/health",
    ok: true,
    detail: `/health → 200 (pid ${health.pid}, version ${health.version})`,
  };
  return [first, await checkStats(client), await checkMetrics(client)];
}

interface StatsBody {
  calls?: number;
  hits?: number;
  hitRate?: number;
  cache?: "on" | "off";
}

async function checkStats(client: ProxyClient): Promise<Check> {
  const name = "/stats";
  try {
    const s = await client.json<StatsBody>(name);
    const detail = `/stats → 200 (${formatPlural(s.calls ?? 0, "call")}, ` +
      `${formatPlural(s.hits ?? 0, "hit")}, ${formatPercent(s.hitRate ?? 0)} hit rate, ` +
      `cache ${s.cache === "off" ? "off" : "on"})`;
    return { section: "runtime", name, ok: true, detail };
  } catch (e) {
    return { section: "runtime", name, ok: false, detail: (e as Error).message, fix: fixFor(e) };
  }
}

async function checkMetrics(client: ProxyClient): Promise<Check> {
  const name = "/metrics";
  const fail = (detail: string, fix: string): Check => ({
    section: "runtime",
    name,
    ok: false,
    detail,
    fix,
  });
  try {
    const res = await client.request(name, { signal: AbortSignal.timeout(2000) });
    const text = await res.text();
    if (res.status !== 200) {
      return fail(`/metrics answered ${res.status}: ${text.slice(0, 120)}`, fixFor(res.status));
    }
    const families = new Set(
      text.split("\n").flatMap((line) => /^# TYPE (\S+) \S+$/.exec(line)?.[1] ?? []),
    );
    const missing = EXPECTED_METRICS.filter((metric) => !families.has(metric));
    if (missing.length > 0) {
      return fail(
        `/metrics → 200 but lacks ${missing.join(", ")}`,
        'The running proxy is an older version: run "llm-cache-proxy restart"',
      );
    }
    const detail = `/metrics → 200 (Prometheus text, ${families.size} metric families, ` +
      "expected ones present)";
    return { section: "runtime", name, ok: true, detail };
  } catch (e) {
    return fail(`/metrics failed: ${(e as Error).message}`, fixFor(e));
  }
}

/** What to do when a route of a proxy that answers /health refuses. */
function fixFor(failure: unknown): string {
  const text = typeof failure === "number" ? String(failure) : (failure as Error).message;
  if (/\b401\b/.test(text)) {
    return "The running proxy expects another CACHE_AUTH_TOKEN than this configuration: " +
      'restart it with "llm-cache-proxy restart" so both use the same';
  }
  return 'Look at the proxy\'s log ($CACHE_HOME/proxy.log), then "llm-cache-proxy restart"';
}

/** The runtime section; skipped, it names no address, as the configured one is in doubt. */
function runtimeLines(
  runtime: readonly Check[],
  base: string,
  line: (check: Check) => string[],
): string[] {
  if (runtime.length === 1 && runtime[0]!.detail === skipped().detail) {
    return [`Runtime: ${runtime[0]!.detail}`];
  }
  return [`Runtime (proxy at ${base}):`, ...runtime.flatMap(line)];
}

function render(
  checks: readonly Check[],
  where: { home: string; base: string },
  style: Style,
): string {
  const line = (check: Check) => [
    `  ${check.ok ? style.ok(check.detail) : style.fail(check.detail)}`,
    ...(!check.ok && check.fix ? [`      ${style.dim(`fix: ${check.fix}`)}`] : []),
  ];
  const problems = checks.filter((check) => !check.ok).length;
  return [
    style.bold("== llm-cache-proxy validate =="),
    `Config (${where.home}):`,
    ...checks.filter((check) => check.section === "config").flatMap(line),
    ...runtimeLines(checks.filter((check) => check.section === "runtime"), where.base, line),
    problems === 0
      ? `Result: ${style.green(`all checks passed${style.marks ? " ✓" : ""}`)}`
      : `Result: ${style.red(`${formatPlural(problems, "problem")}${style.marks ? " ✗" : ""}`)}`,
  ].join("\n");
}
