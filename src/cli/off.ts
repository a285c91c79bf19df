/**
 * `llm-cache-proxy off`: keeps the proxy serving but bypasses the cache, now
 * and after a restart, until `llm-cache-proxy on`.
 *
 * @module
 */
import { loadConfig } from "../config.ts";
import { parseFlags } from "./args.ts";
import { updateEnvFile } from "./env_file.ts";
import { ProxyClient } from "./proxy_client.ts";
import { foreignProxy } from "./running.ts";
import { styleFor } from "./term.ts";

/** One line for the command list. */
export const summary = "Keep serving but bypass the cache (nothing stored or replayed)";

/** The text `off --help` prints. */
export const help = `Usage: llm-cache-proxy off

Turns the cache off without stopping the proxy: every call goes straight to
Anthropic, nothing is stored or replayed, and the stats count them as
BYPASS. The setting is saved (CACHE_OFF=1 in $CACHE_HOME/.env) so a restart
keeps it. "llm-cache-proxy on" turns the cache back on.

Exit codes: 0 done, 1 the running proxy refused, 2 bad configuration.`;

/**
 * Runs `off`.
 *
 * @param args flags after `off`
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  parseFlags(args, {});
  const config = await loadConfig(Deno.env.toObject());
  const style = styleFor(Deno.stdout);
  await updateEnvFile(`${config.home}/.env`, { CACHE_OFF: "1" });
  const client = ProxyClient.for(config);
  const { health, foreign } = await client.probe(1000);
  if (foreign) {
    console.log(style.ok("Cache OFF (saved): this home's proxy is not running"));
    console.log(style.dim(`  ${foreignProxy(config, foreign)}`));
    return 0;
  }
  if (!health) {
    console.log(style.ok("Cache OFF (saved): the proxy is not running; it will start with it off"));
    return 0;
  }
  try {
    await client.json("/cache/off", { method: "POST" });
  } catch (e) {
    console.error(style.fail(`The proxy at ${client.base} refused: ${(e as Error).message}`));
    return 1;
  }
  console.log(style.ok(`Cache OFF: the proxy at ${client.base} forwards every call uncached`));
  console.log(`  Turn it back on with:  llm-cache-proxy on`);
  return 0;
}
