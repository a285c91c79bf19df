/**
 * TLS to a shared Redis store: `CACHE_REDIS_CA` (the CA that signed the
 * server's certificate, when it is not one the system trusts), and
 * `CACHE_REDIS_CERT` with `CACHE_REDIS_KEY` (a client certificate, for a
 * server with `tls-auth-clients yes`). Each is a path to a PEM file, read
 * from the environment or `.env`, and applies to a `rediss://` store only.
 * Private to `config.ts` (which loads the files) and `validate`'s rules.
 *
 * @module
 */
import { ConfigError, type Env, nonEmpty } from "./config_vars.ts";
import { storeUrlOf } from "./config_addresses.ts";

/** The PEM texts a TLS connection to Redis uses; each absent when unset. */
export interface RedisTls {
  /** The CA certificates to trust instead of the system's. */
  readonly ca?: string;
  /** The client certificate (chain). */
  readonly cert?: string;
  /** The client certificate's private key. */
  readonly key?: string;
}

/** The three variables, by the {@link RedisTls} field they fill. */
export const TLS_VARIABLES = {
  ca: "CACHE_REDIS_CA",
  cert: "CACHE_REDIS_CERT",
  key: "CACHE_REDIS_KEY",
} as const;

/** What each file must hold, by field. */
const PEM_LABELS = { ca: "CERTIFICATE", cert: "CERTIFICATE", key: "PRIVATE KEY" } as const;

/**
 * Reads the TLS files the variables name.
 *
 * @param vars the merged variables
 * @returns their contents, or undefined when none is set
 * @throws {ConfigError} naming the variable and what is wrong with its file
 */
export async function readRedisTls(vars: Env): Promise<RedisTls | undefined> {
  const fields = Object.keys(TLS_VARIABLES) as (keyof RedisTls)[];
  if (fields.every((field) => nonEmpty(vars[TLS_VARIABLES[field]]) === undefined)) {
    return undefined;
  }
  const texts = await Promise.all(fields.map((field) => readTlsFile(vars, field)));
  return Object.fromEntries(
    fields.map((field, i) => [field, texts[i]]).filter(([, text]) => text !== undefined),
  );
}

/**
 * Reads and checks one TLS file: set only with a `rediss://` store, a client
 * certificate only with its key, and a PEM file of the right kind.
 *
 * @param vars the merged variables
 * @param field which file
 * @returns its text, or undefined when its variable is unset
 * @throws {ConfigError} naming the variable and what is wrong
 */
export async function readTlsFile(vars: Env, field: keyof RedisTls): Promise<string | undefined> {
  const name = TLS_VARIABLES[field];
  const path = nonEmpty(vars[name]);
  if (path === undefined) return undefined;
  if (!storeUrlOf(vars)?.toLowerCase().startsWith("rediss://")) {
    throw new ConfigError(
      `${name} is set but CACHE_STORE is not a rediss:// URL: TLS files apply to rediss:// only`,
    );
  }
  if (field !== "ca") {
    const other = field === "cert" ? TLS_VARIABLES.key : TLS_VARIABLES.cert;
    if (nonEmpty(vars[other]) === undefined) {
      throw new ConfigError(`${name} is set without ${other}: a client certificate needs both`);
    }
  }
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError(`${name}="${path}": cannot read it (${(e as Error).message})`);
  }
  const label = PEM_LABELS[field];
  if (!new RegExp(`-----BEGIN [A-Z ]*${label}-----`).test(text)) {
    throw new ConfigError(`${name}="${path}" is not a PEM file with a ${label.toLowerCase()}`);
  }
  return text;
}
