/**
 * The command line: `llm-cache-proxy <command> [flags]`. Each command lives
 * in its own module and returns an exit code: 0 ok, 1 failure, 2 usage or
 * configuration error. `--help` on any command prints its help; a mistake on
 * the command line or in the configuration is one line on stderr and exit 2.
 *
 * @module
 */
import { ConfigError } from "../config_vars.ts";
import { VERSION } from "../version.ts";
import { parseFlags, UsageError } from "./args.ts";
import * as explore from "./explore.ts";
import * as exportBundle from "./export.ts";
import * as importBundle from "./import.ts";
import { install, uninstall } from "./install.ts";
import * as monitor from "./monitor.ts";
import * as off from "./off.ts";
import * as on from "./on.ts";
import * as restart from "./restart.ts";
import { key, price, usage } from "./routines.ts";
import * as serve from "./serve.ts";
import * as setup from "./setup.ts";
import * as stats from "./stats.ts";
import * as status from "./status.ts";
import * as stop from "./stop.ts";
import * as validate from "./validate.ts";
import type { Command } from "./command.ts";

const COMMANDS: Record<string, Command> = {
  on,
  off,
  stop,
  restart,
  status,
  stats,
  setup,
  validate,
  monitor,
  explore,
  export: exportBundle,
  import: importBundle,
  install,
  uninstall,
  serve,
  run: { ...serve, summary: "Same as serve (the name llm-cache-proxy v2 used)" },
  key,
  price,
  usage,
  version: {
    summary: "Print the version",
    help: "Usage: llm-cache-proxy version\n\nPrints the version, e.g. llm-cache-proxy 3.0.0.",
    run: (args) => Promise.resolve((parseFlags(args, {}), printVersion())),
  },
  help: {
    summary: "Show this help, or a command's: help <command>",
    help: "Usage: llm-cache-proxy help [command]",
    run(args) {
      const [name] = parseFlags(args, {}, 1).positionals;
      return Promise.resolve(name === undefined ? printHelp() : commandHelp(name));
    },
  },
};

/** The name of every command, for tests and completion. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

/**
 * Runs the command named by `args[0]`.
 *
 * @param args the command line without the program name
 * @returns the exit code
 * @example
 * ```ts
 * Deno.exit(await main(["serve"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h") return printHelp();
  if (name === "--version" || name === "-V") return printVersion();
  const command = commandNamed(name);
  if (!command) {
    console.error(
      `llm-cache-proxy: unknown command "${name}". Run "llm-cache-proxy --help" for the list`,
    );
    return 2;
  }
  const flags = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (flags.includes("--help") || flags.includes("-h")) return console.log(command.help), 0;
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(
        `llm-cache-proxy ${name}: ${e.message}. Run "llm-cache-proxy ${name} --help"`,
      );
      return 2;
    }
    if (e instanceof ConfigError) {
      console.error(`llm-cache-proxy: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

function commandNamed(name: string): Command | undefined {
  return Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
}

function commandHelp(name: string): number {
  const command = commandNamed(name);
  if (!command) throw new UsageError(`no command "${name}"`);
  console.log(command.help);
  return 0;
}

function printHelp(): number {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  console.log(
    [
      "llm-cache-proxy: a caching proxy for the Anthropic Messages API",
      "",
      "Usage: llm-cache-proxy <command> [flags]",
      "",
      "Commands:",
      ...lines,
      "",
      'Run "llm-cache-proxy <command> --help" for a command\'s flags.',
      "Point clients at it with ANTHROPIC_BASE_URL=http://localhost:4000",
      "Exit codes: 0 ok, 1 failed, 2 bad command line or configuration.",
    ].join("\n"),
  );
  return 0;
}

function printVersion(): number {
  console.log(`llm-cache-proxy ${VERSION}`);
  return 0;
}
