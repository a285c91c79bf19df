/**
 * Runs the command line as a real subprocess: `deno run <RUN_FLAGS> src/main.ts …args`, with
 * exactly the binary's permission flags (so a missing permission fails a test) and a clean
 * environment ({@link baseEnv} plus `NO_COLOR=1` plus `env`). {@link runCli} runs a command to
 * completion (optional text on stdin, a timeout that kills it); {@link startCli} starts a
 * long-running one (`monitor`) and waits on its output.
 *
 * `DENO_DIR` is pinned to this process's Deno cache: a test that points `HOME` at a temporary
 * folder would otherwise make Deno fetch every npm package again into `$HOME/.cache/deno`
 * (seconds per run, and network access).
 *
 * @example
 * ```ts
 * const { code, stdout } = await runCli(["validate"], { env: { CACHE_HOME: home, HOME: home } });
 * ```
 * @module
 */
import { RUN_FLAGS } from "../../src/cli/self.ts";
import { baseEnv, ROOT } from "./process.ts";

/** How to run the command. */
export interface CliOptions {
  /** Variables on top of {@link baseEnv} and `NO_COLOR=1`; set CACHE_HOME (and HOME) here. */
  readonly env?: Record<string, string>;
  /** Text written to stdin, which is then closed; without it stdin is `/dev/null`. */
  readonly stdin?: string;
  /** Kills the process after this long and throws. @default 15000 */
  readonly timeoutMs?: number;
}

/** What the command printed and returned. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `llm-cache-proxy …args` to completion.
 *
 * @param args the command line after the program name, e.g. `["setup", "--yes"]`
 * @param options environment, stdin and timeout
 * @returns the exit code and output
 * @throws {Error} when the timeout kills it (the message holds the output so far)
 */
export async function runCli(
  args: readonly string[],
  options: CliOptions = {},
): Promise<CliResult> {
  const child = command(args, options.env, options.stdin === undefined ? "null" : "piped").spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, options.timeoutMs ?? 15_000);
  try {
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      // The child may exit before reading everything; that is its answer, not a test failure.
      await writer.write(new TextEncoder().encode(options.stdin)).catch(() => {});
      await writer.close().catch(() => {});
    }
    const out = await child.output();
    const result = {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
    if (timedOut) {
      throw new Error(
        `llm-cache-proxy ${
          args.join(" ")
        } timed out\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
      );
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** A running command; `await using` it to kill (SIGKILL) and reap it. */
export interface CliProcess extends AsyncDisposable {
  /** The child process. */
  readonly child: Deno.ChildProcess;
  /**
   * The next stdout line not returned yet, without its line break.
   *
   * @param timeoutMs how long to wait @default 10000
   */
  stdoutLine(timeoutMs?: number): Promise<string>;
  /**
   * Resolves once stderr (all of it so far) contains `text`.
   *
   * @param text what to wait for
   * @param timeoutMs how long to wait @default 10000
   */
  stderrContains(text: string, timeoutMs?: number): Promise<void>;
}

/**
 * Starts `llm-cache-proxy …args` with stdin at `/dev/null` and leaves it running.
 *
 * @param args the command line after the program name, e.g. `["monitor"]`
 * @param options the environment
 * @returns the running process; waits reject on timeout or exit, with the output so far
 */
export function startCli(
  args: readonly string[],
  options: Pick<CliOptions, "env"> = {},
): CliProcess {
  const child = command(args, options.env, "null").spawn();
  const output = { stdout: "", stderr: "", ended: false };
  let changed = Promise.withResolvers<void>();
  const collect = async (stream: ReadableStream<Uint8Array>, into: "stdout" | "stderr") => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      output[into] += text;
      changed.resolve();
      changed = Promise.withResolvers();
    }
  };
  const done = Promise.all([collect(child.stdout, "stdout"), collect(child.stderr, "stderr")])
    .then(() => child.status)
    .finally(() => {
      output.ended = true;
      changed.resolve();
    });
  const until = async <T>(probe: () => T | undefined, what: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (output.ended || left <= 0) {
        throw new Error(
          `llm-cache-proxy ${args.join(" ")} ${output.ended ? "exited" : "timed out"} before ` +
            `${what}\nstdout: ${output.stdout}\nstderr: ${output.stderr}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([changed.promise, new Promise((r) => timer = setTimeout(r, left))]);
      clearTimeout(timer);
    }
  };
  let consumed = 0;
  return {
    child,
    stdoutLine: (timeoutMs = 10_000) =>
      until(
        () => {
          const end = output.stdout.indexOf("\n", consumed);
          if (end === -1) return undefined;
          const line = output.stdout.slice(consumed, end);
          consumed = end + 1;
          return line;
        },
        "a stdout line",
        timeoutMs,
      ),
    stderrContains: (text, timeoutMs = 10_000) =>
      until(() => output.stderr.includes(text) || undefined, `stderr had "${text}"`, timeoutMs)
        .then(() => {}),
    [Symbol.asyncDispose]: async () => {
      if (!output.ended) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }
      await done;
    },
  };
}

function command(
  args: readonly string[],
  env: Record<string, string> | undefined,
  stdin: "null" | "piped",
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...RUN_FLAGS, "src/main.ts", ...args],
    cwd: ROOT,
    clearEnv: true,
    env: { ...baseEnv(), DENO_DIR: denoDir(), NO_COLOR: "1", ...env },
    stdin,
    stdout: "piped",
    stderr: "piped",
  });
}

let cachedDenoDir: string | undefined;

/**
 * The Deno cache folder this process uses (`deno info --json`), looked up once.
 *
 * @returns its path
 */
export function denoDir(): string {
  cachedDenoDir ??= JSON.parse(
    new TextDecoder().decode(
      new Deno.Command(Deno.execPath(), {
        args: ["info", "--json"],
        cwd: ROOT,
        stdout: "piped",
        stderr: "null",
      }).outputSync().stdout,
    ),
  ).denoDir as string;
  return cachedDenoDir!;
}
