/**
 * Child processes for `scripts/bench.ts`: the proxy, the bare server and the
 * mock upstream each run as their own Deno process. A child announces itself
 * with a line `... listening on http://127.0.0.1:PORT ...` on stdout.
 *
 * @module
 */

import { RUN_FLAGS } from "./compile.ts";

/** The repository root (where deno.json is). */
export const ROOT = new URL("../", import.meta.url).pathname;

/** Ours and the bench's servers say `listening on URL`; llm-cache-proxy v2 says `cache proxy: URL`. */
const LISTENING = /(?:listening on|cache proxy:) (http:\/\/127\.0\.0\.1:\d+)/;
const OUTPUT_TAIL = 16 * 1024;
const KILL_AFTER_MS = 10_000;

/** A child process that is starting or running. */
export interface Launched {
  /** The process id. */
  readonly pid: number;
  /** `performance.now()` just before the spawn. */
  readonly spawnedAt: number;
  /** Resolves with the base URL and the time its listening line arrived. */
  readonly listening: Promise<{ url: string; at: number }>;
  /** The last 16 KiB the child wrote to stdout and stderr. */
  output(): string;
  /** Sends SIGTERM (SIGKILL 10 s later if need be) and awaits the exit; idempotent. */
  stop(): Promise<Deno.CommandStatus>;
}

/** A child process whose listening line has arrived. */
export interface Running extends Launched {
  /** Its base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
}

/**
 * Spawns `deno run <args>` in the repository root and watches its output.
 *
 * @param args arguments after `deno run`
 * @param env extra environment variables
 * @returns the launched child
 */
export function launch(args: string[], env: Record<string, string> = {}): Launched {
  return launchProgram(Deno.execPath(), ["run", ...args], env);
}

/**
 * Spawns any program in the repository root and watches its output.
 *
 * @param program the executable, e.g. `node`
 * @param args its arguments
 * @param env extra environment variables
 * @returns the launched child
 */
export function launchProgram(
  program: string,
  args: string[],
  env: Record<string, string> = {},
): Launched {
  const command = new Deno.Command(program, {
    args,
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const spawnedAt = performance.now();
  const child = command.spawn();
  let tail = "";
  const seen = Promise.withResolvers<{ url: string; at: number }>();
  let listening = false;
  const append = (text: string) => {
    tail = (tail + text).slice(-OUTPUT_TAIL);
    const match = listening ? null : LISTENING.exec(tail); // a busy server's log is long
    if (match) {
      listening = true;
      seen.resolve({ url: match[1]!, at: performance.now() });
    }
  };
  const pumps = Promise.all([pump(child.stdout, append), pump(child.stderr, append)]);
  const exited = child.status.then(async (status) => {
    await pumps;
    seen.reject(new Error(`child exited (${status.code}) before listening:\n${tail}`));
    return status;
  });
  seen.promise.catch(() => {});
  let stopping: Promise<Deno.CommandStatus> | undefined;
  return {
    pid: child.pid,
    spawnedAt,
    listening: seen.promise,
    output: () => tail,
    stop: () =>
      stopping ??= (async () => {
        signal(child, "SIGTERM");
        // A child that ignores SIGTERM must not hang the bench.
        const timer = setTimeout(() => signal(child, "SIGKILL"), KILL_AFTER_MS);
        try {
          return await exited;
        } finally {
          clearTimeout(timer);
        }
      })(),
  };
}

/**
 * Spawns a child and waits for its listening line.
 *
 * @param args arguments after `deno run`
 * @param env extra environment variables
 * @param timeoutMs how long to wait for the line
 * @returns the running child
 */
export function start(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<Running> {
  return whenListening(launch(args, env), timeoutMs);
}

/**
 * Waits for a launched child's listening line; stops it when none comes.
 *
 * @param child the child
 * @param timeoutMs how long to wait for the line
 * @returns the running child
 */
export async function whenListening(child: Launched, timeoutMs = 30_000): Promise<Running> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no listening line in ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const { url } = await Promise.race([child.listening, timeout]);
    return { ...child, url };
  } catch (e) {
    await child.stop();
    throw new Error(`${(e as Error).message}\n${child.output()}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The arguments and environment that run the proxy as `deno task start` does.
 *
 * @param home CACHE_HOME
 * @param upstream CACHE_UPSTREAM
 * @param port CACHE_PORT (0 picks a free one)
 * @returns `args` for {@link launch} and its `env`
 */
export function proxyCommand(
  home: string,
  upstream: string,
  port = 0,
): { args: string[]; env: Record<string, string> } {
  const env: Record<string, string> = { ...blankCacheEnv(), ANTHROPIC_API_KEY_REAL: "" };
  Object.assign(env, {
    CACHE_HOME: home,
    CACHE_PORT: String(port),
    CACHE_UPSTREAM: upstream,
    CACHE_LOG_LEVEL: "info",
  });
  return { args: [...RUN_FLAGS, "src/main.ts", "serve"], env };
}

/**
 * Every `CACHE_*` variable of the caller, blanked, so that only the bench's settings apply.
 *
 * @returns the variables to pass, each set to ""
 */
export function blankCacheEnv(): Record<string, string> {
  const names = Object.keys(Deno.env.toObject()).filter((name) => name.startsWith("CACHE_"));
  return Object.fromEntries(names.map((name) => [name, ""]));
}

function signal(child: Deno.ChildProcess, name: Deno.Signal): void {
  try {
    child.kill(name);
  } catch {
    // Already exited.
  }
}

async function pump(stream: ReadableStream<Uint8Array>, onText: (text: string) => void) {
  for await (const text of stream.pipeThrough(new TextDecoderStream())) onText(text);
}

/** CPU counters at one moment (Linux `/proc`); see {@link cpuSince}. */
export interface CpuSnapshot {
  readonly pid: number;
  readonly processTicks: number;
  readonly machineTicks: number;
  readonly idleTicks: number;
}

/**
 * Reads the CPU time used so far by process `pid` and by the whole machine.
 *
 * @param pid a process id
 * @returns the counters, or undefined where `/proc` cannot be read
 */
export async function cpuSnapshot(pid: number): Promise<CpuSnapshot | undefined> {
  const text = await readProc([`/proc/${pid}/stat`, "/proc/stat"]);
  const [proc, cpuLine] = text?.split("\n") ?? [];
  if (!proc || !cpuLine?.startsWith("cpu ")) return undefined;
  const fields = proc.slice(proc.lastIndexOf(")") + 2).split(" ").map(Number);
  const cpu = cpuLine.split(/\s+/).slice(1).map(Number);
  return {
    pid,
    processTicks: fields[11]! + fields[12]!, // utime + stime
    machineTicks: cpu.reduce((a, b) => a + b, 0),
    idleTicks: cpu[3]! + cpu[4]!, // idle + iowait
  };
}

/**
 * The 1, 5 and 15 minute load averages.
 *
 * @returns the three figures, or an empty array where `/proc` cannot be read
 */
export async function loadAverage(): Promise<number[]> {
  const text = await readProc(["/proc/loadavg"]);
  return text ? text.split(" ").slice(0, 3).map(Number) : [];
}

/**
 * The resident set size of process `pid`.
 *
 * @param pid a process id
 * @returns bytes, NaN where `/proc` cannot be read
 */
export async function rssBytes(pid: number): Promise<number> {
  const text = await readProc([`/proc/${pid}/status`]);
  const kb = text && /^VmRSS:\s+(\d+) kB/m.exec(text)?.[1];
  return kb ? Number(kb) * 1024 : NaN;
}

/** `cat`s files under /proc: Deno itself reads /proc only with --allow-all. */
async function readProc(paths: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("cat", { args: paths, stdout: "piped", stderr: "null" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU use since `before`: the process in % of one core, the machine's idle share in %.
 *
 * @param before an earlier snapshot
 * @returns the two percentages (NaN without `/proc`)
 */
export async function cpuSince(
  before: CpuSnapshot | undefined,
): Promise<{ processPct: number; machineIdlePct: number }> {
  const after = before && await cpuSnapshot(before.pid);
  if (!before || !after) return { processPct: NaN, machineIdlePct: NaN };
  const machine = after.machineTicks - before.machineTicks;
  const cores = navigator.hardwareConcurrency;
  return {
    processPct: (100 * cores * (after.processTicks - before.processTicks)) / machine,
    machineIdlePct: (100 * (after.idleTicks - before.idleTicks)) / machine,
  };
}

/** Children and temp folders to clean up, whatever happens. */
export class Resources {
  #children: Launched[] = [];
  #dirs: string[] = [];

  /**
   * Tracks a child process for {@link Resources.release}.
   *
   * @param child the child
   * @returns the same child
   */
  track<T extends Launched>(child: T): T {
    this.#children.push(child);
    return child;
  }

  /**
   * Makes a temp folder that {@link Resources.release} removes.
   *
   * @param prefix part of its name
   * @returns its path
   */
  async tempDir(prefix: string): Promise<string> {
    const dir = await Deno.makeTempDir({ prefix: `llm-cache-bench-${prefix}-` });
    this.#dirs.push(dir);
    return dir;
  }

  /** Stops every child (SIGTERM, awaiting its exit) and removes every folder. */
  async release(): Promise<void> {
    await Promise.all(this.#children.map((c) => c.stop()));
    await Promise.all(this.#dirs.map((d) => Deno.remove(d, { recursive: true }).catch(() => {})));
  }
}
