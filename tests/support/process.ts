/**
 * Runs the proxy as a real subprocess (`deno run <RUN_FLAGS> src/main.ts serve`) with exactly
 * the permission flags the compiled binary gets, so a missing permission fails a test, not a user.
 *
 * @module
 */

import { RUN_FLAGS } from "../../scripts/compile.ts";

/** The project root (where deno.json lives). */
export const ROOT: string = new URL("../../", import.meta.url).pathname;

/**
 * The permission flags of the `start` task in deno.json, taken from the task string so that a test
 * fails when they are not enough.
 *
 * @returns the flags between `deno run` and `src/main.ts`
 */
export async function startTaskFlags(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const task: unknown = config.tasks?.start;
  const command = typeof task === "string" ? task : (task as { command?: string })?.command;
  const match = /^deno run ((?:-\S+\s+)*)src\/main\.ts serve$/.exec(command?.trim() ?? "");
  if (!match) throw new Error(`unexpected "start" task in deno.json: ${command}`);
  return match[1]!.trim().split(/\s+/).filter(Boolean);
}

/**
 * A finished command's exit code and output, decoded.
 *
 * @param output what `Deno.Command.output()` gave
 * @returns the code, stdout and stderr as text
 */
export function decodedOutput(
  output: Deno.CommandOutput,
): { code: number; stdout: string; stderr: string } {
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** The environment of the test process without any CACHE_* or ANTHROPIC_* variable. */
export function baseEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([name]) =>
      !name.startsWith("CACHE_") && !name.startsWith("ANTHROPIC_")
    ),
  );
}

/** What a finished `serve` printed and returned. */
export interface ServeOutput {
  /** Exit code. */
  readonly code: number;
  /** Signal that ended it, if any. */
  readonly signal: Deno.Signal | null;
  /** Everything written to stdout. */
  readonly stdout: string;
  /** Everything written to stderr. */
  readonly stderr: string;
}

/**
 * Runs `serve` to completion (for start-up failures) with `env` on top of {@link baseEnv}.
 *
 * @param env the CACHE_* variables
 * @param timeoutMs kills the process after this long
 * @returns the exit status and output
 */
export async function runServe(
  env: Record<string, string>,
  timeoutMs = 10_000,
): Promise<ServeOutput> {
  const child = command(RUN_FLAGS, env).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const out = await child.output();
    return {
      code: out.code,
      signal: out.signal,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** A running proxy subprocess; `await using` it to kill (SIGKILL) and reap it. */
export interface ServeProcess extends AsyncDisposable {
  /** The child process. */
  readonly child: Deno.ChildProcess;
  /** The port it listens on. */
  readonly port: number;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** `http://[::1]:PORT`, when the start-up line names it. */
  readonly url6: string | undefined;
  /** The start-up line. */
  readonly listening: string;
  /** Resolves once the process has exited and its output is read. */
  readonly exited: Promise<ServeOutput>;
  /** True until the process has exited. */
  alive(): boolean;
  /** Sends a signal and waits for the exit. */
  stop(signal?: Deno.Signal): Promise<ServeOutput>;
}

const LISTENING =
  /listening on http:\/\/127\.0\.0\.1:(\d+)(?: and http:\/\/\[::1\]:(\d+))?(?:\s|$)/;

/**
 * Starts `serve` and waits for its "listening on" line.
 *
 * @param env the CACHE_* variables (CACHE_HOME at least), on top of {@link baseEnv}
 * @param timeoutMs how long start-up may take
 * @returns the running process
 */
export async function spawnServe(
  env: Record<string, string>,
  timeoutMs = 15_000,
): Promise<ServeProcess> {
  const child = command(RUN_FLAGS, env).spawn();
  let done = false;
  let stdout = "";
  let stderr = "";
  const headline = Promise.withResolvers<RegExpExecArray | undefined>();
  const readOut = (async () => {
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      stdout += text;
      const match = LISTENING.exec(stdout);
      if (match) headline.resolve(match);
    }
    headline.resolve(undefined);
  })();
  const readErr = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) stderr += text;
  })();
  const exited = (async (): Promise<ServeOutput> => {
    const status = await child.status;
    await Promise.all([readOut, readErr]);
    done = true;
    return { code: status.code, signal: status.signal, stdout, stderr };
  })();
  const kill = async (signal: Deno.Signal) => {
    if (!done) {
      try {
        child.kill(signal);
      } catch {
        // Already gone.
      }
    }
    return await exited;
  };
  const timer = setTimeout(() => headline.resolve(undefined), timeoutMs);
  const match = await headline.promise;
  clearTimeout(timer);
  if (!match) {
    const out = await kill("SIGKILL");
    throw new Error(
      `serve did not start (code ${out.code}, signal ${out.signal})\n` +
        `stdout: ${out.stdout}\nstderr: ${out.stderr}`,
    );
  }
  const port = Number(match[1]);
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    url6: match[2] ? `http://[::1]:${match[2]}` : undefined,
    listening: stdout.split("\n").find((line) => LISTENING.test(line)) ?? "",
    exited,
    alive: () => !done,
    stop: (signal: Deno.Signal = "SIGTERM") => kill(signal),
    [Symbol.asyncDispose]: async () => void await kill("SIGKILL"),
  };
}

function command(flags: readonly string[], env: Record<string, string>): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, "src/main.ts", "serve"],
    cwd: ROOT,
    clearEnv: true,
    // Port 0 unless a test names one: a proxy the user runs on 4000 must not fail the suite.
    env: { ...baseEnv(), NO_COLOR: "1", CACHE_PORT: "0", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}
