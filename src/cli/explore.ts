/**
 * `llm-cache-proxy explore`: browse the cache. On a terminal a full-screen
 * browser; in scripts `--list`, `--view KEY`, `--why KEY` and `--invalidate KEY`. It opens
 * the store file itself, so it works whether or not the proxy runs: SQLite's
 * WAL lets both use the file, and the proxy notices a deletion at once.
 * The scripted modes are in `explore_scripted.ts`, the browser in `explore_screen.ts`.
 *
 * @module
 */
import { type Config, loadConfig } from "../config.ts";
import { openForCommand } from "../store/open.ts";
import type { CacheStore } from "../store/store.ts";
import { parseFlags, UsageError, wholeFlag } from "./args.ts";
import { exploreScreen } from "./explore_screen.ts";
import { invalidate, printEntry, printList, printWhy } from "./explore_scripted.ts";

/** One line for the command list. */
export const summary = "Browse, view and invalidate cached responses";

/** The text `explore --help` prints. */
export const help = `Usage: llm-cache-proxy explore [--search TEXT]
       llm-cache-proxy explore --list [--limit N] [--search TEXT] [--json]
       llm-cache-proxy explore --view KEY [--json]
       llm-cache-proxy explore --why KEY [--json]
       llm-cache-proxy explore --invalidate KEY [--json]

Without --list, --view, --why or --invalidate: a full-screen browser of the cache
(needs a terminal). Keys: up/down or j/k move, PgUp/PgDn page, enter views
an entry, d invalidates it, / searches model and answer text, r reloads,
q quits (in an entry: esc, q or left goes back).

  --list            One row per entry, newest first
  --limit N         Rows --list prints (default 50)
  --search TEXT     Only entries whose model or answer snippet contains TEXT
  --view KEY        An entry's metadata and the start of its body
  --why KEY         Why KEY's request missed: what differs, field by field, from
                    the nearest stored request of the same route, model and
                    namespace (what the proxy sums up in x-cache-miss)
  --invalidate KEY  Delete an entry; its next request goes upstream again
  --json            Machine-readable output (--view: metadata and the whole body;
                    --why: the reason and every difference)

KEY is a full key or a unique prefix of at least 8 hex digits, as --list shows.
Works whether or not the proxy is running.

Exit codes: 0 ok (--why also when nothing compares), 1 no entry matched, the
prefix is ambiguous or (--why) the entry was stored without its request,
2 bad flags (a KEY that is not hex among them) or no terminal for the browser.`;

const FLAGS = {
  list: { type: "boolean" },
  limit: { type: "string" },
  search: { type: "string" },
  view: { type: "string" },
  why: { type: "string" },
  invalidate: { type: "string" },
  json: { type: "boolean" },
} as const;

type Mode = "screen" | "list" | "view" | "why" | "invalidate";

/**
 * Runs the explorer.
 *
 * @param args flags after `explore`
 * @returns the exit code
 * @example
 * ```ts
 * await run(["--list", "--search", "weather"]);
 * ```
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags(args, FLAGS);
  const mode = modeOf(values);
  const limit = wholeFlag("limit", values.limit, 1, 1_000_000) ?? 50;
  if (mode === "screen" && !(Deno.stdin.isTerminal() && Deno.stdout.isTerminal())) {
    console.error(
      "llm-cache-proxy explore: the browser needs a terminal; in scripts use " +
        "--list, --view KEY or --invalidate KEY (see --help)",
    );
    return 2;
  }
  const config = await loadConfig(Deno.env.toObject());
  const store = await openStore(config);
  if (!store) return 1;
  try {
    const json = values.json ?? false;
    const search = values.search?.trim() ?? "";
    switch (mode) {
      case "screen":
        return await exploreScreen(store, { query: search, emptyHint: emptyHint(config) });
      case "list":
        return await printList(store, { limit, search, json, hint: emptyHint(config) });
      case "view":
        return await printEntry(store, values.view!, json);
      case "why":
        return await printWhy(store, values.why!, json);
      case "invalidate":
        return await invalidate(store, values.invalidate!, json);
    }
  } finally {
    await store.close();
  }
}

function modeOf(values: {
  list?: boolean;
  view?: string;
  why?: string;
  invalidate?: string;
  json?: boolean;
  limit?: string;
  search?: string;
}): Mode {
  const chosen = [
    values.list ? "--list" : undefined,
    values.view !== undefined ? "--view" : undefined,
    values.why !== undefined ? "--why" : undefined,
    values.invalidate !== undefined ? "--invalidate" : undefined,
  ].filter((flag) => flag !== undefined);
  if (chosen.length > 1) throw new UsageError(`${chosen.join(" and ")} cannot be combined`);
  const mode: Mode = values.list
    ? "list"
    : values.view !== undefined
    ? "view"
    : values.why !== undefined
    ? "why"
    : values.invalidate !== undefined
    ? "invalidate"
    : "screen";
  if (values.limit !== undefined && mode !== "list") throw new UsageError("--limit needs --list");
  if (values.search !== undefined && (mode === "view" || mode === "why" || mode === "invalidate")) {
    throw new UsageError("--search goes with --list or the browser, not a single KEY");
  }
  if (values.json && mode === "screen") {
    throw new UsageError("--json needs --list, --view KEY, --why KEY or --invalidate KEY");
  }
  return mode;
}

/** Opens the store, or says why not; a cache never written to is an empty store in memory. */
async function openStore(config: Config): Promise<CacheStore | undefined> {
  try {
    return (await openForCommand(config)).store;
  } catch (e) {
    console.error(`llm-cache-proxy explore: ${(e as Error).message}`);
    return undefined;
  }
}

function emptyHint(config: Config): string {
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  return "The cache is empty. Start the proxy (llm-cache-proxy on) and point clients at it:\n" +
    `  ANTHROPIC_BASE_URL=http://${host}:${config.port}`;
}
