/**
 * llm-cache-proxy v2 for `scripts/bench.ts`, run from the npm package itself
 * (`npm install` into a temp folder, then `node proxy-a.mjs`), so the
 * comparison is with what v2 users run, not a copy kept here.
 *
 * @module
 */
import { freePort } from "../tests/support/harness.ts";
import { blankCacheEnv, launchProgram, type Running, whenListening } from "./_bench_proc.ts";

/** The v2 release compared with. */
export const V2_PACKAGE = "llm-cache-proxy@2.0.6";

/** An installed v2: its entry script, or why there is none. */
export type V2 = { readonly entry: string } | { readonly missing: string };

/**
 * Installs {@link V2_PACKAGE} with npm into `dir`.
 *
 * @param dir an empty folder
 * @returns the path of `proxy-a.mjs`, or why v2 cannot run (no npm or node, no registry)
 */
export async function installV2(dir: string): Promise<V2> {
  try {
    const out = await new Deno.Command("npm", {
      args: ["install", "--no-audit", "--no-fund", "--prefix", dir, V2_PACKAGE],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      return {
        missing: `npm install ${V2_PACKAGE} failed: ${new TextDecoder().decode(out.stderr)}`,
      };
    }
    await new Deno.Command("node", { args: ["--version"], stdout: "null" }).output();
  } catch (e) {
    return { missing: `v2 needs npm and node on PATH (${(e as Error).message})` };
  }
  return { entry: `${dir}/node_modules/llm-cache-proxy/proxy-a.mjs` };
}

/**
 * Starts v2 in front of `upstream` with its default settings, its home (v2
 * keeps everything in `~/.llm-cache-a`) under `home`.
 *
 * @param entry the installed `proxy-a.mjs`
 * @param home a folder used as HOME
 * @param upstream the mock's base URL (`http://127.0.0.1:PORT`)
 * @param env more settings, e.g. `CACHE_MAX_ENTRIES`
 * @returns the running v2
 */
export function startV2(
  entry: string,
  home: string,
  upstream: string,
  env: Record<string, string> = {},
): Promise<Running> {
  const url = new URL(upstream);
  return whenListening(launchProgram("node", [entry], {
    ...blankCacheEnv(),
    HOME: home,
    CACHE_PORT: String(freePort()), // v2 would print port 0 for CACHE_PORT=0
    CACHE_UPSTREAM_HOST: url.hostname,
    CACHE_UPSTREAM_PORT: url.port,
    CACHE_UPSTREAM_PROTO: "http",
    CACHE_LOG_LEVEL: "info",
    ANTHROPIC_API_KEY_REAL: "sk-ant-bench",
    ...env,
  }));
}
