/**
 * `llm-cache-proxy on`: starts the proxy in the background (or through its
 * installed service) and turns the cache on; on a first run at a terminal,
 * runs `setup` first.
 *
 * @module
 */
import { type Config, loadConfig } from "../config.ts";
import { exists } from "../fs.ts";
import { parseFlags } from "./args.ts";
import { startDetached, waitFor } from "./daemon.ts";
import { readEnvText, updateEnvFile } from "./env_file.ts";
import { v2Offer } from "./import_v2.ts";
import { findProxy, foreignProxy } from "./running.ts";
import { startService } from "./service.ts";
import * as setup from "./setup.ts";
import { styleFor } from "./term.ts";

/** One line for the command list. */
export const summary = "Start the proxy in the background (or turn the cache back on)";

/** The text `on --help` prints. */
export const help = `Usage: llm-cache-proxy on

Starts the proxy in the background and waits until it answers, then prints
where clients should point. With the boot service installed ("install"), it
starts the service instead. If the proxy already runs with the cache off,
turns the cache back on. On a first run with no $CACHE_HOME/.env at a
terminal, asks the setup questions first.

Exit codes: 0 running with the cache on, 1 could not start, 2 bad configuration.`;

/**
 * Runs `on`.
 *
 * @param args flags after `on`
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  parseFlags(args, {});
  let config = await loadConfig(Deno.env.toObject());
  if (await isFirstRun(config) && Deno.stdin.isTerminal()) {
    const code = await setup.run([], { thenStart: true });
    if (code !== 0) return code;
    config = await loadConfig(Deno.env.toObject());
  }
  return await turnOn(config);
}

/**
 * Makes sure the proxy of `config` runs, with the cache on unless
 * `keepCacheSwitch` (for `restart`, which keeps an `off`).
 *
 * @param config the configuration
 * @param keepCacheSwitch leave the cache's on/off setting as it is
 * @returns the exit code
 */
export async function turnOn(config: Config, keepCacheSwitch = false): Promise<number> {
  const style = styleFor(Deno.stdout);
  const envPath = `${config.home}/.env`;
  const off = keepCacheSwitch && config.off;
  if (!keepCacheSwitch && /^\s*CACHE_OFF\s*=/m.test(await readEnvText(envPath))) {
    await updateEnvFile(envPath, { CACHE_OFF: undefined });
  }
  const state = await findProxy(config);
  const url = state.client.base;
  if (state.foreign) {
    console.error(style.fail(foreignProxy(config, state.foreign)));
    return 1;
  }
  if (state.health) {
    if (!keepCacheSwitch) await state.client.json("/cache/on", { method: "POST" });
    console.log(style.ok(`llm-cache-proxy is on at ${url} (pid ${state.health.pid}) · cache ON`));
    return 0;
  }
  if (state.pid !== undefined) {
    console.error(style.fail(
      `Process ${state.pid} (from ${config.home}/proxy.pid) runs but does not answer at ${url}. ` +
        `Run "llm-cache-proxy restart"`,
    ));
    return 1;
  }
  let pid: number;
  if (state.service) {
    try {
      await startService(state.service);
    } catch (e) {
      console.error(style.fail((e as Error).message));
      return 1;
    }
    const health = await waitFor(() => state.client.health(500), 15_000, 100);
    if (!health) {
      console.error(style.fail(
        `The ${state.service.kind} service started but nothing answers at ${url} after 15s. ` +
          `See ${config.logFile ?? "the service's log"}`,
      ));
      return 1;
    }
    pid = health.pid;
  } else {
    const started = await startDetached(config);
    if (!started.ok) {
      console.error(style.fail(`The proxy did not start: ${started.reason}`));
      return 1;
    }
    pid = started.health.pid;
  }
  const how = state.service ? ` by its ${state.service.kind} service` : "";
  console.log(
    style.ok(`llm-cache-proxy is on at ${url} (pid ${pid}${how}) · cache ${off ? "OFF" : "ON"}`),
  );
  console.log(`  Point clients at it:  export ANTHROPIC_BASE_URL=${url}`);
  if (config.authToken) console.log(`  and send the header   x-cache-auth: <CACHE_AUTH_TOKEN>`);
  if (!config.apiKey) {
    console.log(style.dim(
      `  No ANTHROPIC_API_KEY_REAL: clients' own credentials pass through ("llm-cache-proxy setup" sets a key)`,
    ));
  }
  const offer = await v2Offer(config);
  if (offer) console.log(`  ${offer}`);
  return 0;
}

async function isFirstRun(config: Config): Promise<boolean> {
  return config.apiKey === undefined && !(await exists(`${config.home}/.env`));
}
