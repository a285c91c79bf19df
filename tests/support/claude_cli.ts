/**
 * The real Claude Code CLI (`@anthropic-ai/claude-code`, pinned in
 * `claude_code/package.json`, installed there by `npm ci`), run as a user
 * would: `claude -p <prompt>` in a project folder under a home folder, with
 * the proxy as `ANTHROPIC_BASE_URL` and a placeholder key. Nothing else of
 * the test's environment reaches it, and its non-essential traffic,
 * telemetry and auto-updater are off, so every request it sends goes to the
 * proxy.
 *
 * Home folders are real ones, `/home/<name>-<random>`, so paths have the shape
 * users' have; where `/home` cannot be written they are made under a
 * temporary root, as `<tmp>/home/<name>-<random>`.
 *
 * @module
 */
import { decodedOutput } from "./process.ts";

/** The pinned CLI's path; `needs("claude")` checks it is installed. */
export const CLAUDE_BIN = new URL("./claude_code/node_modules/.bin/claude", import.meta.url)
  .pathname;

/** The pinned CLI version, from `claude_code/package.json`. */
export const CLAUDE_VERSION: string = JSON.parse(
  Deno.readTextFileSync(new URL("./claude_code/package.json", import.meta.url)),
).dependencies["@anthropic-ai/claude-code"];

/** A user's home folder with a project in it, removed with `await using`. */
export interface UserHome extends AsyncDisposable {
  /** `/home/<name>-<random>`. */
  readonly home: string;
  /** `<home>/projects/<repo>`. */
  readonly project: string;
}

/**
 * Makes a home folder and an empty project folder in it.
 *
 * @param name the user's name, e.g. `alice`
 * @param repo the project folder's name
 * @returns the folders
 */
export async function userHome(name: string, repo = "demo"): Promise<UserHome> {
  const user = `${name}-${crypto.randomUUID().slice(0, 6)}`;
  let root: string | undefined;
  let home = `/home/${user}`;
  try {
    await Deno.mkdir(home);
  } catch {
    root = await Deno.makeTempDir({ prefix: "users_" });
    home = `${root}/home/${user}`;
  }
  const project = `${home}/projects/${repo}`;
  await Deno.mkdir(project, { recursive: true });
  return {
    home,
    project,
    [Symbol.asyncDispose]: () => Deno.remove(root ?? home, { recursive: true }),
  };
}

/** How one `claude -p` run ended. */
export interface ClaudeRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link runClaude}. */
export interface ClaudeOptions {
  /** The proxy's base URL. */
  readonly proxy: string;
  /** HOME. */
  readonly home: string;
  /** The folder it runs in. */
  readonly cwd: string;
  /** Extra arguments after `-p <prompt>`. */
  readonly args?: readonly string[];
  /** Run with libfaketime's clock starting on this day, e.g. `2027-01-15`. */
  readonly day?: string;
}

/**
 * Runs `claude -p <prompt>` to its end (at most a minute).
 *
 * @param prompt the prompt
 * @param options where and against what it runs
 * @returns its exit code and output
 */
export async function runClaude(prompt: string, options: ClaudeOptions): Promise<ClaudeRun> {
  const args = ["-p", prompt, ...(options.args ?? [])];
  const output = await new Deno.Command(CLAUDE_BIN, {
    args,
    cwd: options.cwd,
    clearEnv: true,
    env: {
      PATH: "/usr/local/bin:/usr/bin:/bin",
      HOME: options.home,
      ANTHROPIC_BASE_URL: options.proxy,
      ANTHROPIC_API_KEY: "sk-ant-placeholder-for-tests",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_TELEMETRY: "1",
      DISABLE_AUTOUPDATER: "1",
      // The `faketime` program's shared-memory clock fails in some containers: the library alone.
      ...(options.day
        ? { LD_PRELOAD: fakeTimeLibrary(), FAKETIME: `@${options.day} 10:00:00` }
        : {}),
    },
    stdin: "null",
    signal: AbortSignal.timeout(60_000),
  }).output();
  return decodedOutput(output);
}

/** libfaketime, where Debian's `faketime` package puts it. */
function fakeTimeLibrary(): string {
  const candidates = ["/usr/lib/faketime/libfaketime.so.1"];
  for (const entry of Deno.readDirSync("/usr/lib")) {
    candidates.push(`/usr/lib/${entry.name}/faketime/libfaketime.so.1`);
  }
  const found = candidates.find((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  });
  if (found === undefined) throw new Error("libfaketime.so.1 not found: apt-get install faketime");
  return found;
}
