/**
 * `llm-cache-proxy explore`: browse the cache. On a terminal a full-screen
 * browser; in scripts `--list`, `--view KEY`, `--why KEY` and `--invalidate KEY`. It opens
 * the store file itself, so it works whether or not the proxy runs: SQLite's
 * WAL lets both use the file, and the proxy notices a deletion at once.
 *
 * @module
 */
import { explainEntry, whyJson } from "../cache/why.ts";
import { type Config, loadConfig } from "../config.ts";
import { MIN_PREFIX_DIGITS, resolveKeyPrefix } from "../store/key_prefix.ts";
import { openForCommand } from "../store/open.ts";
import type { CacheStore } from "../store/store.ts";
import { parseFlags, UsageError, wholeFlag } from "./args.ts";
import { exploreScreen } from "./explore_screen.ts";
import { bodyText, entryTable, metaLines, oneLine, SHORT_KEY, whyLines } from "./explore_view.ts";
import { styleFor } from "./term.ts";

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

/** Lines of the body `--view` prints without `--json`. */
const VIEW_BODY_LINES = 40;

/** Differences `--why` prints without `--json`. */
const WHY_DIFF_LINES = 100;

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

async function printList(
  store: CacheStore,
  options: { limit: number; search: string; json: boolean; hint: string },
): Promise<number> {
  const entries = await store.list({ limit: options.limit, query: options.search });
  if (options.json) {
    console.log(JSON.stringify(entries.map((e) => ({ ...e, model: e.model ?? null })), null, 2));
    return 0;
  }
  if (entries.length === 0) {
    console.log(options.search ? `No entry matches "${oneLine(options.search)}"` : options.hint);
    return 0;
  }
  const style = styleFor(Deno.stdout);
  const width = Deno.stdout.isTerminal() ? consoleWidth() : undefined;
  const table = entryTable(entries, Date.now(), width);
  console.log([style.bold(table.header), ...table.rows].join("\n"));
  const total = options.search ? undefined : await store.count();
  if (total !== undefined && total > entries.length) {
    console.log(style.dim(`(${entries.length} of ${total}; --limit N shows more)`));
  }
  return 0;
}

async function printEntry(store: CacheStore, given: string, json: boolean): Promise<number> {
  const key = await resolveOrExplain(store, given, "view");
  const entry = key === undefined ? undefined : await store.inspect(key);
  if (!entry) return key === undefined ? 1 : gone(given);
  const { body, ...meta } = entry;
  const summary = { ...meta, size: body.byteLength };
  if (json) {
    const text = new TextDecoder().decode(body);
    console.log(JSON.stringify({ ...summary, model: meta.model ?? null, body: text }, null, 2));
    return 0;
  }
  const style = styleFor(Deno.stdout);
  const lines = bodyText(entry.contentType, body).split("\n");
  const head = lines.slice(0, VIEW_BODY_LINES);
  console.log(metaLines(summary, Date.now()).join("\n"));
  console.log(`\n${style.bold("body")}\n${head.join("\n")}`);
  if (lines.length > head.length) {
    console.log(style.dim(`… ${lines.length - head.length} more lines; --json prints it all`));
  }
  return 0;
}

/**
 * Compares the request stored with entry `given` with the nearest other stored request of the
 * same route, model and namespace, as the proxy does when it explains a miss.
 */
async function printWhy(store: CacheStore, given: string, json: boolean): Promise<number> {
  const key = await resolveOrExplain(store, given, "why");
  if (key === undefined) return 1;
  const entry = await store.inspect(key);
  if (!entry) return gone(given);
  if (entry.request === undefined) {
    console.error(
      `llm-cache-proxy explore: the entry ${key.slice(0, SHORT_KEY)} has no stored request: ` +
        "it was stored before requests were kept (or by an old version); invalidate it " +
        "(--invalidate KEY) and its next request stores it again with its request",
    );
    return 1;
  }
  const report = await explainEntry(store, { ...entry, request: entry.request });
  if (report === undefined) {
    if (json) console.log(JSON.stringify(whyJson(entry.key, undefined)));
    else {
      const { path, model, namespace } = entry;
      const where = `${oneLine(path)}, ${oneLine(model ?? "no model")}` +
        (namespace === "" ? "" : `, namespace ${oneLine(namespace)}`);
      console.log(`No stored request of the same route and model to compare with (${where})`);
    }
    return 0;
  }
  if (json) console.log(JSON.stringify(whyJson(entry.key, report), null, 2));
  else {
    const style = styleFor(Deno.stdout);
    console.log(whyLines(report, Date.now(), { style, maxDiff: WHY_DIFF_LINES }).join("\n"));
  }
  return 0;
}

async function invalidate(store: CacheStore, given: string, json: boolean): Promise<number> {
  const key = await resolveOrExplain(store, given, "invalidate");
  if (key === undefined) return 1;
  const entry = (await store.list({ keyPrefix: key, limit: 1 }))[0];
  if (!(await store.delete(key))) return gone(given);
  if (json) console.log(JSON.stringify({ deleted: true, key }));
  else {
    const what = entry ? ` (${oneLine(entry.model ?? "-")}: ${oneLine(entry.snippet)})` : "";
    console.log(styleFor(Deno.stdout).ok(`Invalidated ${key}${what}`));
  }
  return 0;
}

/**
 * The full key `given` names, or undefined after saying on stderr what to do instead.
 * A malformed key is a usage error (exit 2).
 */
async function resolveOrExplain(
  store: CacheStore,
  given: string,
  flag: string,
): Promise<string | undefined> {
  const found = await resolveKeyPrefix(store, given);
  const say = (text: string) => console.error(`llm-cache-proxy explore: ${text}`);
  switch (found.kind) {
    case "found":
      return found.key;
    case "invalid":
      throw new UsageError(
        `--${flag} "${oneLine(given)}" is not a cache key: give at least ` +
          `${MIN_PREFIX_DIGITS} hex digits, as --list shows`,
      );
    case "none":
      say(
        `no cache entry starts with ${found.prefix}. Only a complete 200 answer is kept: a call ` +
          "that got an error, broke off, bypassed the cache or missed in replay mode left " +
          "none, and an entry goes when it expires, is evicted or invalidated. Send the " +
          'request again to store it, or run "llm-cache-proxy explore --list"',
      );
      return undefined;
    case "ambiguous": {
      const shown = Math.max(SHORT_KEY, commonPrefixLength(found.matches) + 2);
      say(
        `${found.prefix} matches several entries, e.g. ` +
          `${found.matches.map((k) => k.slice(0, shown)).join(", ")}; ` +
          `give more digits (run "llm-cache-proxy explore --list" to see them)`,
      );
      return undefined;
    }
  }
}

function commonPrefixLength(keys: readonly string[]): number {
  const [first = ""] = keys;
  let n = 0;
  while (n < first.length && keys.every((k) => k[n] === first[n])) n++;
  return n;
}

function gone(given: string): number {
  console.error(`llm-cache-proxy explore: the entry ${given} was just deleted or evicted`);
  return 1;
}

function consoleWidth(): number | undefined {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return undefined;
  }
}
