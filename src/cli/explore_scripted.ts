/**
 * The scripted modes of `llm-cache-proxy explore`: `--list`, `--view KEY`,
 * `--why KEY` and `--invalidate KEY`, each printing plain text or `--json` and
 * returning the exit code. A KEY may be a unique prefix; when it names no
 * entry or several, stderr says what to do instead.
 *
 * @module
 */
import { explainEntry, whyJson } from "../cache/why.ts";
import { MIN_PREFIX_DIGITS, resolveKeyPrefix } from "../store/key_prefix.ts";
import type { CacheStore } from "../store/store.ts";
import { UsageError } from "./args.ts";
import { bodyText, entryTable, metaLines, oneLine, SHORT_KEY, whyLines } from "./explore_view.ts";
import { styleFor } from "./term.ts";

/** Lines of the body `--view` prints without `--json`. */
const VIEW_BODY_LINES = 40;

/** Differences `--why` prints without `--json`. */
const WHY_DIFF_LINES = 100;

/**
 * `--list`: one row per entry, newest first, or the entries as JSON.
 *
 * @param store the store to read
 * @param options how many rows, the search, JSON or text, and what to say when the cache is empty
 * @returns the exit code
 */
export async function printList(
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

/**
 * `--view KEY`: an entry's metadata and the start of its body, or all of it as JSON.
 *
 * @param store the store to read
 * @param given the key or key prefix
 * @param json whether to print JSON
 * @returns the exit code
 */
export async function printEntry(store: CacheStore, given: string, json: boolean): Promise<number> {
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
 * same route, model and namespace, as the proxy does when it explains a miss (`--why KEY`).
 *
 * @param store the store to read
 * @param given the key or key prefix
 * @param json whether to print JSON
 * @returns the exit code
 */
export async function printWhy(store: CacheStore, given: string, json: boolean): Promise<number> {
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

/**
 * `--invalidate KEY`: deletes an entry, so its next request goes upstream again.
 *
 * @param store the store to delete from
 * @param given the key or key prefix
 * @param json whether to print JSON
 * @returns the exit code
 */
export async function invalidate(store: CacheStore, given: string, json: boolean): Promise<number> {
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
