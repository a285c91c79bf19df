/**
 * `llm-cache-proxy import`: merges a bundle written by `export` into this
 * cache. Writes the store file directly, so it works while the proxy runs
 * (the proxy sees the new entries within a millisecond).
 *
 * @module
 */
import { type Config, loadConfig } from "../config.ts";
import { BundleError, importBundle, type ImportResult } from "../store/bundle.ts";
import { openForCommand } from "../store/open.ts";
import type { CacheStore } from "../store/store.ts";
import { parseFlags, UsageError } from "./args.ts";
import { defaultV2Home, importV2, type V2Import } from "./import_v2.ts";
import { formatCount, formatPlural, styleFor } from "./term.ts";

/** One line for the command list. */
export const summary = "Merge a bundle from export into the cache";

/** The text `import --help` prints. */
export const help = `Usage: llm-cache-proxy import [--json] FILE
       llm-cache-proxy import --from-v2 [--json] [DIR]

Merges the bundle FILE, written by "llm-cache-proxy export", into the cache
in $CACHE_HOME/cache.db. FILE - reads the bundle from stdin. Works while the
proxy runs: it serves the new entries at once.

Each entry is added when the cache lacks it, and replaces the cache's copy
when the bundle's is newer; otherwise the cache's copy is kept. Importing
the same bundle again changes nothing. Entries keep their expiry time: one
that has already expired is stored but not served, and the proxy prunes it.
When the cache is full (CACHE_MAX_ENTRIES), the least recently used entries
make room.

  --json   print the summary as JSON

Example: ssh build-box llm-cache-proxy export - | llm-cache-proxy import -

--from-v2 brings in llm-cache-proxy v2's cache from DIR (default
~/.llm-cache-a): its answers (entries/*.bin, past CACHE_TTL_SEC skipped)
and its ledger (metrics.jsonl, added to the all-time totals). v2 kept no
requests, so its answers are found by v2's own key of the raw body when no
other tier has one: such a hit says x-cache: HIT-V2 and is then kept under
this cache's keys. Importing again adds nothing twice.

Exit codes: 0 ok, 1 FILE is not a bundle, is damaged or cannot be read, or
the cache cannot be written, 2 bad flags or configuration.`;

/** The summary `import --json` prints. */
export interface ImportReport extends Omit<ImportResult, "header"> {
  /** The bundle read, `-` for stdin. */
  readonly file: string;
  /** Entries of this cache evicted to make room (CACHE_MAX_ENTRIES). */
  readonly evicted: number;
  /** The bundle's header: when it was written, and its filters. */
  readonly bundle: ImportResult["header"];
}

/**
 * Runs `import`.
 *
 * @param args flags and FILE after `import`
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    json: { type: "boolean" },
    "from-v2": { type: "boolean" },
  }, 1);
  if (values["from-v2"]) return await fromV2(positionals[0], values.json === true);
  const file = positionals[0];
  if (file === undefined) throw new UsageError("missing FILE: the bundle to import (- for stdin)");
  if (file === "-" && Deno.stdin.isTerminal()) {
    throw new UsageError("stdin is a terminal: give a FILE, or pipe a bundle in");
  }
  const config = await loadConfig(Deno.env.toObject());
  let report: ImportReport;
  try {
    const input = await openInput(file);
    await using store = await openStore(config, input);
    const before = await store.count();
    const { header, ...result } = await importBundle(store, input).catch((e) => {
      if (e instanceof BundleError) throw new Error(`cannot import ${file}: ${e.message}`);
      throw new Error(`cannot import ${file} into ${config.dbPath}: ${(e as Error).message}`);
    });
    const after = await store.count();
    // The proxy may write meanwhile: only a full cache explains missing entries.
    const evicted = after >= config.maxEntries ? Math.max(0, before + result.added - after) : 0;
    report = { file, ...result, evicted, bundle: header };
  } catch (e) {
    console.error(`llm-cache-proxy import: ${(e as Error).message}`);
    return 1;
  }
  console.log(values.json ? JSON.stringify(report) : describe(report));
  if (report.evicted > 0 && !values.json) {
    console.error(
      `llm-cache-proxy import: the cache is full (CACHE_MAX_ENTRIES=${config.maxEntries}): ` +
        `${formatCount(report.evicted)} least recently used ` +
        `${report.evicted === 1 ? "entry" : "entries"} made room. ` +
        "Raise CACHE_MAX_ENTRIES to keep more",
    );
  }
  return 0;
}

/** `import --from-v2 [DIR]`: v2's answers and ledger. */
async function fromV2(given: string | undefined, json: boolean): Promise<number> {
  const config = await loadConfig(Deno.env.toObject());
  const dir = given ?? defaultV2Home(config);
  if (dir === undefined) {
    throw new UsageError("no home folder (HOME) to find ~/.llm-cache-a: give DIR");
  }
  let report: V2Import;
  try {
    const { store } = await openForCommand(config, true);
    try {
      report = await importV2(store, dir, { ttlSec: config.ttlSec });
    } finally {
      await store.close();
    }
  } catch (e) {
    console.error(`llm-cache-proxy import: ${(e as Error).message}`);
    return 1;
  }
  if (json) console.log(JSON.stringify(report));
  else {
    const s = styleFor(Deno.stdout);
    console.log(s.ok(
      `imported ${formatPlural(report.added, "answer")} from llm-cache-proxy v2 (${dir}); ` +
        `${formatCount(report.kept)} already here, ${formatCount(report.expired)} past ` +
        `CACHE_TTL_SEC, ${formatCount(report.skipped)} not answers to a message`,
    ));
    console.log(
      `  ${formatPlural(report.calls, "call")} of its ledger added to the all-time totals`,
    );
    console.log(
      "  Repeats of its requests are served as x-cache: HIT-V2, then kept as this cache's own",
    );
  }
  return 0;
}

async function openInput(file: string): Promise<ReadableStream<Uint8Array>> {
  if (file === "-") return Deno.stdin.readable;
  try {
    return (await Deno.open(file)).readable;
  } catch (e) {
    const hint = e instanceof Deno.errors.NotFound ? ". Check the path, or use - for stdin" : "";
    throw new Error(`cannot read ${file}: ${(e as Error).message}${hint}`);
  }
}

/** The store, created if needed and closed with `await using`. */
async function openStore(
  config: Config,
  input: ReadableStream,
): Promise<CacheStore & AsyncDisposable> {
  try {
    const { store } = await openForCommand(config, true);
    return Object.assign(store, { [Symbol.asyncDispose]: () => store.close() });
  } catch (e) {
    input.cancel().catch(() => {}); // closes the file
    throw e;
  }
}

function describe(r: ImportReport): string {
  const s = styleFor(Deno.stdout);
  let line = `imported ${formatCount(r.added)} new, ${formatCount(r.replaced)} replaced, ` +
    `${formatCount(r.kept)} kept (same or newer here) from ${r.file === "-" ? "stdin" : r.file}`;
  if (r.expired > 0) {
    line += `; ${formatCount(r.expired)} of them had expired: stored, but not served`;
  }
  return s.color ? s.ok(line) : line;
}
