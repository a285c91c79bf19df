/**
 * Tests that need a program from the system (redis-server, tmux, chromium,
 * systemd-analyze, zip, faketime), the pinned Claude Code CLI (`claude`,
 * installed by `npm ci` in `tests/support/claude_code/`) or llm-cache-proxy v2
 * (`llm-cache-proxy-v2`, by `npm ci` in `tests/support/v2/`) run when it is installed and are reported as ignored
 * when it is not, so `deno task test` passes on a machine with only Node and
 * npm. `.ci/run` installs them all and sets `LLM_CACHE_PROXY_TEST_TOOLS=require`,
 * under which a missing program fails its tests instead of skipping them.
 *
 * @module
 */
import { CLAUDE_BIN } from "./claude_cli.ts";
import { V2_SCRIPT } from "./v2.ts";

/** How to install each program. */
const INSTALL: Readonly<Record<string, string>> = {
  "claude": "cd tests/support/claude_code && npm ci",
  "llm-cache-proxy-v2": "cd tests/support/v2 && npm ci",
  "faketime": "apt-get install faketime",
};
/** The programs that are not looked up on PATH. */
const LOCAL: Readonly<Record<string, string>> = {
  "claude": CLAUDE_BIN,
  "llm-cache-proxy-v2": V2_SCRIPT,
};
/** How to install each Debian program. */
const PACKAGES: Readonly<Record<string, string>> = {
  "redis-server": "redis-server",
  "tmux": "tmux",
  "chromium": "chromium",
  "systemd-analyze": "systemd",
  "zip": "zip",
  "unzip": "unzip",
};

const found = new Map<string, boolean>();
const warned = new Set<string>();

/**
 * Options for `Deno.test(name, options, fn)`: ignored unless every program is
 * installed (or required by `LLM_CACHE_PROXY_TEST_TOOLS=require`).
 *
 * @param programs the programs the test runs
 * @returns `{ ignore }`
 * @example
 * ```ts
 * Deno.test("a fleet on one Redis", needs("redis-server"), async () => {});
 * ```
 */
export function needs(...programs: string[]): { ignore: boolean } {
  const missing = programs.filter((program) => !installed(program));
  if (missing.length === 0) return { ignore: false };
  if (Deno.env.get("LLM_CACHE_PROXY_TEST_TOOLS") === "require") return { ignore: false };
  for (const program of missing.filter((p) => !warned.has(p))) {
    warned.add(program);
    console.error(
      `%cSkipping the tests that need ${program}: it is not installed ` +
        `(${INSTALL[program] ?? `apt-get install ${PACKAGES[program] ?? program}`}; ` +
        `.ci/run installs it)`,
      "color: yellow",
    );
  }
  return { ignore: true };
}

function installed(program: string): boolean {
  let known = found.get(program);
  if (known === undefined) {
    const dirs = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
    const local = LOCAL[program];
    known = local ? isFile(local) : dirs.some((dir) => isFile(`${dir}/${program}`));
    found.set(program, known);
  }
  return known;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
