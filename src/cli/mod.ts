/**
 * The command line: `llm-cache-proxy <command> [flags]`. Each command lives
 * in its own module and returns an exit code: 0 ok, 1 failure, 2 usage or
 * configuration error.
 *
 * @module
 */
import * as serve from "./serve.ts";
import denoJson from "../../deno.json" with { type: "json" };

/** A subcommand: parses its own flags and returns an exit code. */
export interface Command {
  /** One line for the command list. */
  readonly summary: string;
  /** Runs the command. */
  run(args: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  serve,
  run: { summary: "Same as serve (the name llm-cache-proxy v2 used)", run: serve.run },
  version: { summary: "Print the version", run: () => Promise.resolve(printVersion()) },
  help: { summary: "Show this help", run: () => Promise.resolve(printHelp()) },
};

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
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    console.error(
      `llm-cache-proxy: unknown command "${name}". Run "llm-cache-proxy --help" for the list`,
    );
    return 2;
  }
  return await command.run(rest);
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
    ].join("\n"),
  );
  return 0;
}

function printVersion(): number {
  console.log(`llm-cache-proxy ${denoJson.version}`);
  return 0;
}
