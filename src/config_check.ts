/**
 * What `llm-cache-proxy validate` checks: every variable and configuration
 * file on its own, so that one bad value does not hide the next. The rules
 * are the ones `loadConfig` applies, from `config.ts`; the per-variable rules
 * live in `_config_rules.ts`, the file checks in `_config_files.ts`.
 *
 * @module
 */
import { buildConfig, cacheHome, type Config } from "./config.ts";
import { definedOnly, type Env } from "./config_vars.ts";
import { checkVariable, VARIABLE_RULES } from "./_config_rules.ts";
import { checkEnvFile, checkNormalize, checkPrices } from "./_config_files.ts";
import type { ConfigCheck } from "./_config_values.ts";

export {
  apiKeyProblem,
  authTokenProblem,
  type ConfigCheck,
  hostProblem,
  KNOWN_VARIABLES,
  maskKey,
} from "./_config_values.ts";

/** What {@link checkConfig} found. */
export interface ConfigReport {
  /** The cache home folder. */
  readonly home: string;
  /** `$CACHE_HOME/.env`. */
  readonly envPath: string;
  /** One check per file and variable, in the order to show them. */
  readonly checks: readonly ConfigCheck[];
  /** The configuration from the values that passed, defaults for those that did not. */
  readonly config: Config;
}

/**
 * Checks every variable and configuration file on its own; unlike
 * `loadConfig` it never stops at the first problem.
 *
 * @param env the process environment, e.g. `Deno.env.toObject()`
 * @returns one check per item, and the configuration that the usable values give
 * @throws {ConfigError} only when there is no home folder to look in
 * @example
 * ```ts
 * const { checks } = await checkConfig(Deno.env.toObject());
 * const problems = checks.filter((c) => !c.ok);
 * ```
 */
export async function checkConfig(env: Env): Promise<ConfigReport> {
  const home = cacheHome(env);
  const envPath = `${home}/.env`;
  const file = await checkEnvFile(envPath);
  const fromEnv = definedOnly(env);
  const vars: Env = { ...file.vars, ...fromEnv };
  const where = { envPath, fromEnv };
  const results = await Promise.all(
    VARIABLE_RULES.map((rule) => checkVariable(rule, vars, home, where)),
  );
  const prices = await checkPrices(`${home}/prices.json`);
  const normalize = await checkNormalize(`${home}/normalize.json`);
  const failed = new Set(
    VARIABLE_RULES.filter((_, i) => !results[i]!.ok).flatMap((rule) => rule.uses),
  );
  const usable = Object.fromEntries(Object.entries(vars).filter(([name]) => !failed.has(name)));
  return {
    home,
    envPath,
    checks: [...file.checks, ...results, prices.check, normalize.check],
    config: buildConfig(usable, home, { prices: prices.rules, normalize: normalize.rules }),
  };
}
