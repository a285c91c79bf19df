/**
 * Builds the single `llm-cache-proxy` binary for every supported OS with
 * `deno compile`, into `dist/`. `deno task compile` builds them all;
 * `deno task compile --target x86_64-unknown-linux-gnu` builds one.
 *
 * The permission flags here are the ones the binary runs with: the `start`
 * task uses the same, and the subprocess tests run `src/main.ts` with them.
 * Everything the binary reads at run time is imported (deno.json as JSON, the
 * service templates as text, the dashboard as a string); only worker modules,
 * which `deno compile` does not follow, are named with `--include`.
 * `tests/scripts/compile_test.ts` fails if a module starts reading files next
 * to itself.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseFlags, UsageError } from "../src/cli/args.ts";
import { RUN_FLAGS } from "../src/cli/self.ts";

/** Every target a release ships, as `deno compile --target` names them. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** The flags the binary runs with; `src/cli/self.ts` says why each is needed. */
export { RUN_FLAGS };

const ROOT = fileURLToPath(new URL("../", import.meta.url));
// deno-lint-ignore no-control-regex
const COLOUR = /\x1b\[[0-9;]*m/g;

/**
 * The output path of the binary for `target`, relative to the project root.
 *
 * @param target a `deno compile` target triple
 * @returns e.g. `dist/llm-cache-proxy-x86_64-unknown-linux-gnu`
 */
export function binaryPath(target: string): string {
  return `dist/llm-cache-proxy-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/** Modules started as workers: `deno compile` embeds them only when named. */
export const INCLUDED = ["src/store/_sqlite_checkpoint_worker.ts"];

/**
 * The `deno compile` arguments that build the binary for `target`.
 *
 * @param target a `deno compile` target triple
 * @returns the arguments after the `deno` executable
 */
export function compileArgs(target: string): string[] {
  return [
    "compile",
    ...RUN_FLAGS,
    "--target",
    target,
    "--output",
    binaryPath(target),
    ...INCLUDED.flatMap((file) => ["--include", file]),
    "src/main.ts",
  ];
}

/**
 * Explains a `deno compile` failure to fetch its runtime (`denort`), which it
 * downloads from dl.deno.land once per Deno version and target.
 *
 * @param target the target being built
 * @param stderr what `deno compile` printed from its `error:` line on
 * @returns what to do next, or undefined when the failure is something else
 */
export function runtimeDownloadHint(target: string, stderr: string): string | undefined {
  // deno 2.9.6 reports it as "Setting up base binary." caused by "error sending request for url".
  const text = stderr.replace(COLOUR, "");
  if (!/Setting up base binary|denort-/.test(text)) return undefined;
  const url = /\((https:\/\/[^)\s]*denort[^)\s]*)\)/.exec(text)?.[1] ?? "dl.deno.land";
  const reason = lastCause(text) ?? "no details";
  return [
    `Cannot compile for ${target}: deno compile could not download its runtime (denort) from ${url} (${reason})`,
    "Run `deno task compile` where dl.deno.land is reachable (the release workflow does; the",
    "runtime is cached after the first download), or set DENORT_BIN to a denort binary of this",
    `Deno version for ${target} and build that target alone: deno task compile --target ${target}`,
  ].join("\n");
}

function lastCause(text: string): string | undefined {
  const causes = [...text.matchAll(/^\s*\d+: (.+)$/gm)].map((m) => m[1]!.trim());
  return causes.at(-1);
}

/** How one `deno compile` run ended. */
type Outcome = "ok" | "failed" | "no-runtime";

async function compile(target: string): Promise<Outcome> {
  const args = compileArgs(target);
  console.log(`deno ${args.join(" ")}`);
  // Its stderr is a pipe to us either way, so say whether the user's is a terminal.
  const env: Record<string, string> = Deno.stderr.isTerminal() ? {} : { NO_COLOR: "1" };
  const child = new Deno.Command(Deno.execPath(), { args, cwd: ROOT, env, stderr: "piped" })
    .spawn();
  const error = await relayUntilError(child.stderr);
  if ((await child.status).code === 0) return "ok";
  const hint = runtimeDownloadHint(target, error);
  console.error(hint ?? error.trimEnd());
  return hint ? "no-runtime" : "failed";
}

/**
 * Copies `deno compile`'s progress and type errors to stderr as they come,
 * and keeps everything from its `error:` line on (a cause chain and a stack
 * backtrace) for {@link compile} to explain or print.
 */
async function relayUntilError(stream: ReadableStream<Uint8Array>): Promise<string> {
  let pending = "";
  let error = "";
  const encoder = new TextEncoder();
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    pending += text;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      if (error === "" && !line.replace(COLOUR, "").startsWith("error")) {
        await Deno.stderr.write(encoder.encode(`${line}\n`));
      } else error += `${line}\n`;
    }
  }
  // Drop Rust's "Stack backtrace:" section: it says nothing to a user.
  return (error + pending).replace(/\n*Stack backtrace:\n(\s+\d+:.*\n?|\s+at .*\n?)*/, "\n");
}

function parseTargets(args: string[]): string[] {
  const { values } = parseFlags(args, { target: { type: "string", multiple: true } });
  const targets = values.target ?? [...TARGETS];
  const unknown = targets.filter((t) => !(TARGETS as readonly string[]).includes(t));
  if (unknown.length > 0) {
    throw new UsageError(`unknown target ${unknown.join(", ")}; choose from ${TARGETS.join(", ")}`);
  }
  return targets;
}

async function main(args: string[]): Promise<number> {
  let targets;
  try {
    targets = parseTargets(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`compile: ${e.message}. Usage: deno task compile [--target <triple>]...`);
    return 2;
  }
  let ok = true;
  for (const target of targets) {
    const outcome = await compile(target);
    // Without the runtime every other target fails the same way: stop here.
    if (outcome === "no-runtime") return 1;
    ok = outcome === "ok" && ok;
  }
  return ok ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
