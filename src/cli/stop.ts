/**
 * `llm-cache-proxy stop`: stops the proxy, through its service when the
 * service manager runs it (so it is not restarted behind our back).
 *
 * @module
 */
import { type Config, loadConfig } from "../config.ts";
import { parseFlags } from "./args.ts";
import { removePid, stopProcess, waitFor } from "./daemon.ts";
import { findProxy, foreignProxy } from "./running.ts";
import { stopService } from "./service.ts";
import { styleFor } from "./term.ts";

/** One line for the command list. */
export const summary = "Stop the proxy";

/** The text `stop --help` prints. */
export const help = `Usage: llm-cache-proxy stop

Stops the proxy. Responses in flight get up to 10 seconds to finish. When the
boot service runs it, the service is stopped (it starts again at the next
boot; "llm-cache-proxy uninstall" removes it). Stopping a proxy that is not
running is not an error.

Exit codes: 0 stopped or not running, 1 could not stop it, 2 bad configuration.`;

/**
 * Runs `stop`.
 *
 * @param args flags after `stop`
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  parseFlags(args, {});
  return await stopProxy(await loadConfig(Deno.env.toObject()));
}

/**
 * Stops the proxy of `config`, if it runs.
 *
 * @param config the configuration
 * @returns the exit code
 */
export async function stopProxy(config: Config): Promise<number> {
  const style = styleFor(Deno.stdout);
  const state = await findProxy(config);
  if (state.service && state.serviceActive) {
    try {
      await stopService(state.service);
    } catch (e) {
      console.error(style.fail((e as Error).message));
      return 1;
    }
    await waitFor(async () => (await state.client.health(300)) ? undefined : true, 15_000, 100);
    await removePid(config);
    console.log(style.ok(`Stopped the ${state.service.kind} service (${state.service.label})`));
    return 0;
  }
  if (state.pid === undefined) {
    console.log("llm-cache-proxy is not running");
    if (state.foreign) console.log(style.dim(`  ${foreignProxy(config, state.foreign)}`));
    return 0;
  }
  const how = await stopProcess(state.pid);
  await removePid(config, state.pid);
  console.log(style.ok(
    how === "stopped"
      ? `Stopped llm-cache-proxy (pid ${state.pid})`
      : `Killed llm-cache-proxy (pid ${state.pid}): it did not stop within 10s of SIGTERM`,
  ));
  return 0;
}
