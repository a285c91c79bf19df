/**
 * The proxy as a background process: its pidfile, whether it is alive, and
 * starting or stopping it without a service manager. `serve` writes the
 * pidfile once it listens, so a proxy started any way (`on`, a service, a
 * terminal) can be found.
 *
 * @module
 */
import type { Config } from "../config.ts";
import { type Health, ProxyClient } from "./proxy_client.ts";
import { selfInvocation } from "./self.ts";

/**
 * Where the running proxy's pid is kept.
 *
 * @param config the configuration
 * @returns `$CACHE_HOME/proxy.pid`
 */
export function pidPath(config: Config): string {
  return `${config.home}/proxy.pid`;
}

/**
 * The pid in the pidfile, if there is a well-formed one.
 *
 * @param config the configuration
 * @returns the pid, or undefined
 */
export async function readPid(config: Config): Promise<number | undefined> {
  try {
    const pid = Number((await Deno.readTextFile(pidPath(config))).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Records `pid` as the running proxy.
 *
 * @param config the configuration
 * @param pid the process id
 */
export async function writePid(config: Config, pid: number): Promise<void> {
  await Deno.mkdir(config.home, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(pidPath(config), `${pid}\n`, { mode: 0o600 });
}

/**
 * Removes the pidfile if it names `pid` (or any pid, when `pid` is undefined).
 *
 * @param config the configuration
 * @param pid only remove the file when it holds this pid
 */
export async function removePid(config: Config, pid?: number): Promise<void> {
  if (pid !== undefined && (await readPid(config)) !== pid) return;
  await Deno.remove(pidPath(config)).catch(() => {});
}

/**
 * Tells whether a process with this id exists (signal 0 probes without sending).
 *
 * @param pid the process id
 * @returns true when it exists
 */
export function isAlive(pid: number): boolean {
  try {
    Deno.kill(pid, 0 as unknown as Deno.Signal);
    return true;
  } catch (e) {
    return e instanceof Deno.errors.PermissionDenied; // exists, owned by someone else
  }
}

/**
 * Waits until `check` returns something other than undefined, polling.
 *
 * @param check the condition
 * @param timeoutMs how long to wait
 * @param everyMs how often to look
 * @returns the value, or undefined after the timeout
 */
export async function waitFor<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 50,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** How a start went: the proxy's health, or why it did not come up. */
export type StartResult =
  | { readonly ok: true; readonly health: Health }
  | { readonly ok: false; readonly reason: string };

/**
 * Starts `serve` as a detached process (its own session: closing the terminal
 * or Ctrl-C does not stop it) and waits until it answers `/health`.
 *
 * @param config the configuration it will read
 * @param timeoutMs how long start-up may take
 * @returns its health, or why it failed (with the log lines it wrote)
 */
export async function startDetached(config: Config, timeoutMs = 15_000): Promise<StartResult> {
  const logStart = await sizeOf(config.logFile);
  const { command, args } = selfInvocation(["serve"]);
  const child = new Deno.Command(command, {
    args: [...args],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  child.unref();
  let exited: Deno.CommandStatus | undefined;
  child.status.then((status) => exited = status);
  const client = ProxyClient.for(config);
  const health = await waitFor(
    async () => {
      if (exited) return null;
      const health = await client.health(500);
      return health?.pid === child.pid ? health : undefined;
    },
    timeoutMs,
    100,
  );
  if (health) return { ok: true, health };
  if (!exited) {
    try {
      child.kill("SIGTERM");
    } catch {
      // Gone already.
    }
  }
  const why = exited ? `it exited with code ${exited.code}` : `no answer in ${timeoutMs / 1000}s`;
  const lines = await logSince(config.logFile, logStart);
  return {
    ok: false,
    reason: lines.length > 0
      ? `${why}. Its log (${config.logFile}) says:\n  ${lines.join("\n  ")}`
      : `${why}. Run "llm-cache-proxy serve" to see why in the foreground`,
  };
}

/**
 * Stops the process `pid` with SIGTERM (it finishes responses in flight),
 * then SIGKILL if it is still there after `graceMs`.
 *
 * @param pid the proxy's process id
 * @param graceMs how long to wait for a clean exit
 * @returns "stopped", or "killed" when SIGKILL was needed
 */
export async function stopProcess(pid: number, graceMs = 10_000): Promise<"stopped" | "killed"> {
  try {
    Deno.kill(pid, "SIGTERM");
  } catch {
    return "stopped";
  }
  if (await waitFor(() => isAlive(pid) ? undefined : true, graceMs)) return "stopped";
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // Exited between the check and the kill.
  }
  await waitFor(() => isAlive(pid) ? undefined : true, 2000);
  return "killed";
}

async function sizeOf(path: string | undefined): Promise<number> {
  if (path === undefined) return 0;
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return 0;
  }
}

/** The last lines written to the log after byte `from` (at most 8). */
async function logSince(path: string | undefined, from: number): Promise<string[]> {
  if (path === undefined) return [];
  try {
    const bytes = await Deno.readFile(path);
    const text = new TextDecoder().decode(bytes.subarray(Math.min(from, bytes.length)));
    return text.split("\n").filter((line) => line.trim() !== "").slice(-8);
  } catch {
    return [];
  }
}
