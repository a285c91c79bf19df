/**
 * `llm-cache-proxy restart`: `stop`, then `on`.
 *
 * @module
 */
import { loadConfig } from "../config.ts";
import { parseFlags } from "./args.ts";
import { turnOn } from "./on.ts";
import { stopProxy } from "./stop.ts";

/** One line for the command list. */
export const summary = "Stop the proxy, then start it again (rereads the configuration)";

/** The text `restart --help` prints. */
export const help = `Usage: llm-cache-proxy restart

Stops the proxy (if it runs) and starts it again, so it rereads
$CACHE_HOME/.env and prices.json. A cache turned off with "off" stays off.

Exit codes: 0 running again, 1 could not stop or start it, 2 bad configuration.`;

/**
 * Runs `restart`.
 *
 * @param args flags after `restart`
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  parseFlags(args, {});
  const config = await loadConfig(Deno.env.toObject());
  const stopped = await stopProxy(config);
  return stopped === 0 ? await turnOn(config, true) : stopped;
}
