/**
 * `llm-cache-proxy setup`: the first-run wizard. Asks for the API key (hidden),
 * port, cache lifetime, entry cap and bind host, each answer checked on the
 * spot, and writes them to `$CACHE_HOME/.env` (mode 0600) without touching
 * the file's other lines. Every answer is also a flag, so scripts can run it
 * with `--yes` or pipe the answers in, one per line.
 *
 * @module
 */
import { envFilePath, loadConfig, readEnvFile } from "../config.ts";
import { isLoopback } from "../config_addresses.ts";
import { authTokenProblem, maskKey } from "../config_check.ts";
import { exists } from "../fs.ts";
import { parseFlags } from "./args.ts";
import { applyEnvUpdate, updateEnvFile, writePrivateFile } from "./env_file.ts";
import { v2Offer } from "./import_v2.ts";
import { PromptAborted, Prompter } from "./prompt.ts";
import { ANSWER_NAMES, type Answers, ask, checkFlags, defaultsFrom } from "./setup_questions.ts";
import { formatDuration, type Style, styleFor } from "./term.ts";

/** One line for the command list. */
export const summary = "Ask for the API key and settings and write $CACHE_HOME/.env";

/** The text `setup --help` prints. */
export const help = `Usage: llm-cache-proxy setup [flags]

Asks, in order: your Anthropic API key (typed hidden; empty = no key, so each
client's own credentials pass through, e.g. Claude Code's login), the port,
the cache lifetime, the entry cap and the bind host. Writes $CACHE_HOME/.env
(default ~/.llm-cache-proxy/.env, mode 0600), keeping its other lines. When
.env exists, its values are the defaults: press enter to keep each one.
A bind host other than loopback gets a generated auth token (x-cache-auth).

Flags (a flag answers its question; with --yes nothing is asked):
  --api-key KEY        the Anthropic API key (sk-ant-…); visible in your shell
                       history, so prefer typing it or piping it in
  --no-api-key         no key: pass the clients' own credentials through
  --port N             port to listen on, 1-65535 (default 4000)
  --ttl SEC            how long answers stay cached: seconds, or 30m, 12h, 7d
                       (default 604800 = 7 days)
  --max-entries N      entries kept before the least recently used go (default 5000)
  --host H             address to bind (default 127.0.0.1, this machine only)
  --auth-token T       the x-cache-auth token for a network bind (default: generated)
  -y, --yes            take the default for every question not given as a flag

Without a terminal and without --yes, the answers are read from stdin, one per
line in the order above; missing lines take the defaults:
  printf 'sk-ant-…\\n4100\\n\\n\\n\\n' | llm-cache-proxy setup

Exit codes: 0 written, 1 could not write, 2 bad flags, 130 cancelled.`;

const FLAGS = {
  "api-key": { type: "string" },
  "no-api-key": { type: "boolean" },
  port: { type: "string" },
  ttl: { type: "string" },
  "max-entries": { type: "string" },
  host: { type: "string" },
  "auth-token": { type: "string" },
  yes: { type: "boolean", short: "y" },
} as const;

/**
 * Runs the wizard. `on` calls it on a first run at a terminal, with
 * `thenStart`, since it starts the proxy and says where itself.
 *
 * @param args flags after `setup`
 * @param options `thenStart`: leave out the "next steps"
 * @returns the exit code
 * @example
 * ```ts
 * await run(["--yes", "--no-api-key", "--port", "4100"]);
 * ```
 */
export async function run(
  args: string[],
  options: { readonly thenStart?: boolean } = {},
): Promise<number> {
  const { values } = parseFlags(args, FLAGS);
  const given = checkFlags(values);
  const env = Deno.env.toObject();
  const path = envFilePath(env);
  const existing = await readEnvFile(path);
  const existed = await exists(path);
  const style = styleFor(Deno.stdout);
  const prompter = new Prompter();
  let answers: Answers;
  try {
    const open = ANSWER_NAMES.filter((name) => !Object.hasOwn(given, name));
    if (!values.yes && open.length > 0) await prompter.write(intro(path, existed, style));
    // What the proxy would run with: the environment overrides .env, as in config.ts.
    const current = { ...existing, ...setIn(env, ASKED) };
    answers = await ask(defaultsFrom(current), given, values.yes ? undefined : prompter);
  } catch (e) {
    if (!(e instanceof PromptAborted)) throw e;
    console.error("setup cancelled: nothing was written");
    return 130;
  }
  const token = chooseToken(answers.host, given.authToken, existing.CACHE_AUTH_TOKEN);
  try {
    await write(path, existed, { ...answers, token });
  } catch (e) {
    console.error(
      `llm-cache-proxy setup: cannot write ${path} (${(e as Error).message}); ` +
        `make its folder writable or set CACHE_HOME to one that is`,
    );
    return 1;
  }
  const overridden = Object.keys(envUpdate({ ...answers, token })).filter((n) => env[n]);
  const tokens = { token, existingToken: existing.CACHE_AUTH_TOKEN };
  console.log(report(path, answers, tokens, style, !options.thenStart));
  for (const name of overridden) {
    console.log(
      style.yellow(`Note: ${name} is also set in your environment, which wins over .env`),
    );
  }
  const config = await loadConfig(Deno.env.toObject()).catch(() => undefined);
  const offer = config && await v2Offer(config);
  if (offer) console.log(offer);
  return 0;
}

/** Loopback needs no token; a network bind keeps the given or current one, or gets a new one. */
function chooseToken(
  host: string,
  given: string | undefined,
  current: string | undefined,
): string | undefined {
  if (given !== undefined) return given;
  if (isLoopback(host)) return undefined;
  if (current !== undefined && authTokenProblem(current.trim()) === undefined) {
    return current.trim();
  }
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The variables of `names` that `env` sets. */
function setIn(env: Record<string, string>, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.flatMap((name) => env[name] ? [[name, env[name]]] : []));
}

/** The variables the questions set. */
const ASKED = [
  "ANTHROPIC_API_KEY_REAL",
  "CACHE_PORT",
  "CACHE_TTL_SEC",
  "CACHE_MAX_ENTRIES",
  "CACHE_HOST",
];

function envUpdate(a: Answers & { token: string | undefined }): Record<string, string | undefined> {
  return {
    ANTHROPIC_API_KEY_REAL: a.apiKey,
    CACHE_PORT: String(a.port),
    CACHE_TTL_SEC: String(a.ttlSec),
    CACHE_MAX_ENTRIES: String(a.maxEntries),
    CACHE_HOST: a.host,
    CACHE_AUTH_TOKEN: a.token,
  };
}

async function write(
  path: string,
  existed: boolean,
  answers: Answers & { token: string | undefined },
): Promise<void> {
  const update = envUpdate(answers);
  if (existed) return void await updateEnvFile(path, update);
  const home = path.slice(0, path.lastIndexOf("/"));
  const header = [
    '# llm-cache-proxy settings, written by "llm-cache-proxy setup" (run it again to change',
    "# them). Mode 0600: this file holds your API key. The environment wins over this file;",
    '# "llm-cache-proxy validate" checks both.',
  ].join("\n");
  const hints = [
    "# CACHE_LOG_LEVEL=info   # silent|error|info|debug",
    `# CACHE_LOG_FILE=${home}/proxy.log   # or none`,
  ].join("\n");
  await writePrivateFile(path, `${applyEnvUpdate(header, update)}${hints}\n`);
}

function intro(path: string, existed: boolean, style: Style): string {
  const what = existed
    ? `Updating ${path}: enter keeps the value in brackets.`
    : `Writing ${path}: enter takes the value in brackets.`;
  const keys = "API keys: https://console.anthropic.com/settings/keys";
  return `${style.bold("llm-cache-proxy setup")}\n${what}\n${style.dim(keys)}\n\n`;
}

function report(
  path: string,
  a: Answers,
  tokens: { token: string | undefined; existingToken: string | undefined },
  style: Style,
  nextSteps: boolean,
): string {
  const local = isLoopback(a.host);
  const lines = [
    "",
    style.ok(`Wrote ${path} (mode 0600)`),
    `  API key      ${
      a.apiKey === undefined
        ? "none: clients' own credentials pass through"
        : `${maskKey(a.apiKey, { tail: true })} (replaces the clients' keys upstream)`
    }`,
    `  Port         ${a.port}`,
    `  Keep for     ${a.ttlSec} s (${formatDuration(a.ttlSec * 1000)})`,
    `  Max entries  ${a.maxEntries}`,
    `  Bind host    ${a.host}${local ? " (this machine only)" : " (the network)"}`,
  ];
  if (tokens.token !== undefined) lines.push(...tokenLines(a, tokens.token, tokens.existingToken));
  else if (tokens.existingToken) lines.push("  Auth token   removed (not needed on loopback)");
  if (!nextSteps) return lines.join("\n"); // `on` goes on to start it and says where
  lines.push(
    "",
    "Next steps:",
    `  llm-cache-proxy on`,
    `  export ANTHROPIC_BASE_URL=http://localhost:${a.port}`,
  );
  if (!local) {
    const where = a.host === "0.0.0.0" || a.host === "::" || a.host === "[::]"
      ? "<this machine's address>"
      : a.host;
    lines.push(`  (from other machines: ANTHROPIC_BASE_URL=http://${where}:${a.port})`);
  }
  return lines.join("\n");
}

/** The token is printed only when it is new: it is not shown again (it stays in .env). */
function tokenLines(a: Answers, token: string, existing: string | undefined): string[] {
  if (token === existing?.trim()) return ["  Auth token   kept (clients send it as x-cache-auth)"];
  return [
    `  Auth token   ${token}`,
    "",
    "Clients must send this token in the x-cache-auth header, e.g.",
    `  export ANTHROPIC_CUSTOM_HEADERS="x-cache-auth: ${token}"   # Claude Code`,
    `  curl -H "x-cache-auth: ${token}" http://localhost:${a.port}/stats`,
  ];
}
