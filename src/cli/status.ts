/**
 * `llm-cache-proxy status`: is the proxy up, does it accept calls, is the
 * cache on, what was the last call, how many errors since it started.
 *
 * @module
 */
import { loadConfig } from "../config.ts";
import type { LastCall } from "../stats/ledger.ts";
import type { StatsBody } from "../proxy/views.ts";
import { parseFlags } from "./args.ts";
import { findProxy, foreignProxy, type ProxyState } from "./running.ts";
import {
  formatBytes,
  formatDuration,
  formatPercent,
  formatPlural,
  type Style,
  styleFor,
} from "./term.ts";

/** One line for the command list. */
export const summary = "Is it running, accepting calls, cache on? Last call, errors";

/** The text `status --help` prints. */
export const help = `Usage: llm-cache-proxy status [--json]

Reports whether the proxy process is up and answering, how it was started
(boot service or "on"), whether the cache is on, the last call it served and
the errors since it started. A pidfile left stale (after a reboot or a service
restart) is corrected from the running proxy's own answer.

  --json   print one JSON object instead

Exit codes: 0 running and answering, 1 a process is up but does not answer,
2 bad configuration, 3 not running.`;

/** What `/stats` tells `status`. */
type StatsView = Pick<StatsBody, "cache" | "store" | "uptimeSec" | "lastCall" | "session">;

/**
 * Runs `status`.
 *
 * @param args flags after `status`
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { json: { type: "boolean" } });
  const config = await loadConfig(Deno.env.toObject());
  const state = await findProxy(config);
  let stats: StatsView | undefined;
  let statsError: string | undefined;
  if (state.health) {
    try {
      stats = await state.client.json<StatsView>("/stats");
    } catch (e) {
      statsError = (e as Error).message;
    }
  }
  const code = state.health ? 0 : state.pid !== undefined ? 1 : 3;
  if (values.json) {
    console.log(JSON.stringify(asJson(state, stats, statsError), null, 2));
  } else {
    const lines = describe(state, stats, statsError, styleFor(Deno.stdout));
    if (state.foreign) lines.push(`  ${foreignProxy(config, state.foreign)}`);
    for (const line of lines) console.log(line);
  }
  return code;
}

function describe(
  state: ProxyState,
  stats: StatsView | undefined,
  statsError: string | undefined,
  s: Style,
): string[] {
  const lines: string[] = [];
  const service = state.service
    ? ` · ${state.service.kind} service ${state.serviceActive ? "active" : "installed, not active"}`
    : "";
  if (state.pid === undefined) {
    lines.push(s.fail(`not running${service}`), `  start it with: llm-cache-proxy on`);
    return lines;
  }
  const up = stats ? `, up ${formatDuration(stats.uptimeSec * 1000)}` : "";
  lines.push(s.ok(`running (pid ${state.pid}${up})${service}`));
  if (state.healed) lines.push(s.dim(`  pidfile corrected to pid ${state.pid}`));
  if (!state.health) {
    lines.push(s.fail(`not answering at ${state.client.base}`), "  try: llm-cache-proxy restart");
    return lines;
  }
  lines.push(s.ok(`accepting calls at ${state.client.base} (version ${state.health.version})`));
  if (!stats) {
    lines.push(s.fail(`cannot read /stats: ${statsError}`));
    return lines;
  }
  const { store, session, lastCall } = stats;
  const size = `${formatPlural(store.entries, "entry", "entries")} (${formatBytes(store.bytes)})`;
  lines.push(
    state.health.store === "degraded"
      ? `${s.yellow("!")} cache store unreachable: every call bypasses it until it is back`
      : stats.cache === "off"
      ? `${s.yellow("!")} cache OFF: every call bypasses it (llm-cache-proxy on) · ${size}`
      : s.ok(`cache ON · ${size}`),
  );
  lines.push(`  last call   ${lastCall ? describeCall(lastCall) : "none yet"}`);
  lines.push(
    `  this run    ${formatPlural(session.calls, "call")} · ${formatPlural(session.hits, "hit")}` +
      ` (${formatPercent(session.hitRate)}) · ` +
      (session.errors > 0 ? s.red(formatPlural(session.errors, "error")) : "0 errors"),
  );
  return lines;
}

function describeCall(call: LastCall): string {
  const ago = formatDuration(Date.now() - Date.parse(call.time));
  return `${ago} ago · ${call.kind} ${call.model ?? "-"} (${call.status})`;
}

function asJson(state: ProxyState, stats: StatsView | undefined, statsError: string | undefined) {
  return {
    running: state.pid !== undefined,
    answering: state.health !== undefined,
    pid: state.pid ?? null,
    url: state.client.base,
    version: state.health?.version ?? null,
    service: state.service
      ? { kind: state.service.kind, file: state.service.file, active: state.serviceActive }
      : null,
    pidfileCorrected: state.healed,
    foreign: state.foreign ? { pid: state.foreign.pid, home: state.foreign.home ?? null } : null,
    cache: stats
      ? { entries: stats.store.entries, bytes: stats.store.bytes, off: stats.cache === "off" }
      : null,
    store: state.health?.store ?? null,
    uptimeSec: stats?.uptimeSec ?? null,
    lastCall: stats?.lastCall ?? null,
    session: stats
      ? {
        calls: stats.session.calls,
        hits: stats.session.hits,
        misses: stats.session.misses,
        errors: stats.session.errors,
        hitRate: stats.session.hitRate,
      }
      : null,
    ...(statsError ? { statsError } : {}),
  };
}
