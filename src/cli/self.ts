/**
 * How this program starts another copy of itself (`on`, `install`): the
 * compiled binary runs itself; from source, `deno run` with the very
 * permission flags the binary is compiled with.
 *
 * @module
 */

/**
 * The narrowest permissions that work, shared by `deno compile`, the `start`
 * task and the tests' subprocesses:
 * - net: the listening socket and the upstream API (its host is configurable);
 * - env: the configuration variables (read as a whole, `.env` fills the gaps);
 * - read/write: the cache home (its path is only known at run time);
 * - run: `on` starts the program itself detached, `stop` signals it, and
 *   `install` calls systemctl/loginctl or launchctl;
 * - sys=uid: launchd's domain is `gui/<uid>`.
 */
export const RUN_FLAGS: readonly string[] = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-run",
  "--allow-sys=uid",
  "--unstable-no-legacy-abort",
];

/** A program and its arguments. */
export interface Invocation {
  readonly command: string;
  readonly args: readonly string[];
}

/**
 * The command line that runs this program with `args`.
 *
 * @param args the program's own arguments, e.g. `["serve"]`
 * @returns the executable and its arguments
 * @example
 * ```ts
 * const { command, args } = selfInvocation(["serve"]);
 * new Deno.Command(command, { args: [...args] }).spawn();
 * ```
 */
export function selfInvocation(args: readonly string[]): Invocation {
  const exec = Deno.execPath();
  if (!isDenoItself(exec)) return { command: stablePath(exec), args };
  const config = new URL("../../deno.json", import.meta.url).pathname;
  return {
    command: exec,
    args: ["run", ...RUN_FLAGS, "--config", config, Deno.mainModule, ...args],
  };
}

/**
 * The path that survives an upgrade: Homebrew runs a keg's binary
 * (`…/Cellar/llm-cache-proxy/3.1.0/bin/llm-cache-proxy`), but a service
 * must name the `opt` link that follows upgrades.
 *
 * @param exec the running executable's path
 * @param exists whether a path exists (for tests)
 * @returns the `opt` path for a Homebrew keg, else `exec`
 */
export function stablePath(
  exec: string,
  exists: (path: string) => boolean = pathExists,
): string {
  const keg = /^(.*)\/Cellar\/llm-cache-proxy\/[^/]+\/bin\/(llm-cache-proxy(?:\.exe)?)$/.exec(exec);
  if (!keg) return exec;
  const opt = `${keg[1]}/opt/llm-cache-proxy/bin/${keg[2]}`;
  return exists(opt) ? opt : exec;
}

function pathExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** True when running from source under `deno run`, not as the compiled binary. */
function isDenoItself(exec: string): boolean {
  return /(^|[/\\])deno(\.exe)?$/i.test(exec);
}
