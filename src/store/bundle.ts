/**
 * Bundles: cache entries in one portable file, to carry a cache to another
 * machine, seed a CI run, or keep a snapshot. {@link exportBundle} writes one
 * from any {@link CacheStore}, {@link importBundle} merges one into a store;
 * both stream entry by entry, so memory never holds the whole cache.
 *
 * ## Format, version 1
 *
 * gzip (RFC 1952, one member) over NDJSON: UTF-8 text, one JSON object per
 * line, each line ended by `\n`.
 *
 * 1. The header names the format and the export's filters (`null`: none):
 *    `{"format":"llm-cache-proxy-bundle","version":1,"createdAt":"2025-06-01T12:00:00.000Z",
 *    "namespace":null,"since":null}`
 * 2. One line per entry, newest first; times in ms since the epoch, as stored:
 *    `{"type":"entry","key":"9f2c…","aliases":["41ab…"],"status":200,
 *    "contentType":"text/event-stream","model":"claude-sonnet-4-5","path":"/v1/messages",
 *    "namespace":"","createdAt":1748779200000,"expiresAt":1749384000000,
 *    "usage":{"input_tokens":12,…},"snippet":"Paris is…","timing":[[512,840],[2048,1210]],
 *    "body":"<base64>","request":"<base64>"}` —
 *    `body` is the response exactly as received, `request` the request body that
 *    produced it (`null` when unknown), `model` `null` when the request named none,
 *    `timing` pairs of [byte offset where a chunk ends, ms after the request].
 * 3. The end line, `{"type":"end","entries":42}`: a bundle without it is truncated.
 *
 * Not in a bundle: HTTP headers (an entry keeps only its content type), so no
 * API key or token; hit counts and last-hit times, which belong to the cache
 * that served them. Lines are built from a fixed list of fields, never by
 * copying an entry, so a field added to entries later stays out until added here.
 *
 * A reader rejects another `format` or `version` and ignores fields it does
 * not know: a writer may add optional fields within a version; anything a
 * reader must understand needs a new version.
 *
 * Import merges: an entry is written, with its aliases, when the store lacks
 * its key or holds an older copy (by `createdAt`); otherwise the store's copy
 * is kept. Importing a bundle twice changes nothing. Expiry times are kept as
 * exported: an expired entry imports, but is never served, and the proxy
 * prunes it.
 *
 * @example
 * ```ts
 * const file = await Deno.open("cache.bundle", { write: true, create: true });
 * const { entries } = await exportBundle(store, file.writable, { namespace: "ci" });
 * ```
 * @module
 */
import {
  BUNDLE_FORMAT,
  BUNDLE_VERSION,
  BundleError,
  type BundleHeader,
  checkHeader,
  entryLine,
  jsonLine,
  type Line,
  notABundle,
  parseLine,
  toNewEntry,
} from "./_bundle_lines.ts";
import type { CacheStore, NewEntry } from "./store.ts";
import { formatCount, formatPlural } from "../format.ts";

export { BUNDLE_FORMAT, BUNDLE_VERSION, BundleError, type BundleHeader };

/** Options of {@link exportBundle}. */
export interface ExportOptions {
  /** Only entries of this namespace. */
  readonly namespace?: string;
  /** Only entries created at or after this time (ms since the epoch). */
  readonly since?: number;
  /** Clock in ms since the epoch. @default Date.now */
  readonly now?: () => number;
}

/** What {@link exportBundle} wrote. */
export interface ExportResult {
  /** Entries written. */
  readonly entries: number;
  /** Of those, entries already expired (they import, but are not served). */
  readonly expired: number;
  /** Compressed size of the bundle. */
  readonly bytes: number;
}

/**
 * Writes the store's entries as a bundle to `out`, pulling entries only as
 * fast as `out` takes them; closes `out` at the end.
 *
 * @param store where the entries come from
 * @param out where the compressed bundle goes, e.g. a file's `writable`
 * @param options filters and clock
 * @returns how many entries and bytes were written
 */
export async function exportBundle(
  store: Pick<CacheStore, "entries">,
  out: WritableStream<Uint8Array>,
  options: ExportOptions = {},
): Promise<ExportResult> {
  const now = (options.now ?? Date.now)();
  const counts = { entries: 0, expired: 0, bytes: 0 };
  const header: BundleHeader = {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    createdAt: new Date(now).toISOString(),
    namespace: options.namespace ?? null,
    since: options.since === undefined ? null : new Date(options.since).toISOString(),
  };
  const filter = {
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    ...(options.since === undefined ? {} : { since: options.since }),
  };
  async function* lines(): AsyncGenerator<Uint8Array> {
    yield jsonLine(header);
    for await (const entry of store.entries(filter)) {
      counts.entries++;
      if (entry.expiresAt <= now) counts.expired++;
      yield jsonLine(entryLine(entry));
    }
    yield jsonLine({ type: "end", entries: counts.entries });
  }
  const measure = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      counts.bytes += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  await ReadableStream.from(lines())
    .pipeThrough(gzip(CompressionStream))
    .pipeThrough(measure)
    .pipeTo(out);
  return counts;
}

/** What {@link importBundle} did. */
export interface ImportResult {
  readonly header: BundleHeader;
  /** Entries in the bundle. */
  readonly entries: number;
  /** Entries the store lacked. */
  readonly added: number;
  /** Entries the store held an older copy of. */
  readonly replaced: number;
  /** Entries the store held the same or a newer copy of, left as they were. */
  readonly kept: number;
  /** Of the added and replaced, entries already expired: stored, but never served. */
  readonly expired: number;
}

/**
 * Reads a bundle from `input` and merges it into the store, entry by entry:
 * the newer copy of a key wins. On a damaged file it stops at the first bad
 * line; what came before is merged, and importing again is safe.
 *
 * @param store where the entries go
 * @param input the compressed bundle, e.g. a file's `readable`
 * @param options clock, to count expired entries
 * @returns what was added, replaced and kept
 * @throws {BundleError} when `input` is not a version 1 bundle or is damaged
 */
export async function importBundle(
  store: Pick<CacheStore, "inspect" | "put">,
  input: ReadableStream<Uint8Array>,
  options: { readonly now?: () => number } = {},
): Promise<ImportResult> {
  const now = (options.now ?? Date.now)();
  const counts = { entries: 0, added: 0, replaced: 0, kept: 0, expired: 0 };
  let header: BundleHeader | undefined;
  let ended = false;
  let number = 0;
  try {
    for await (const text of bundleLines(input)) {
      const line = parseLine(text, ++number);
      if (header === undefined) header = checkHeader(line);
      else if (ended) throw new BundleError(`line ${number} follows the end line`);
      else if (line.type === "end") ended = checkEnd(line, number, counts.entries);
      else {
        const { entry, aliases } = toNewEntry(line, number);
        counts.entries++;
        const outcome = await merge(store, entry, aliases);
        counts[outcome]++;
        if (outcome !== "kept" && entry.expiresAt <= now) counts.expired++;
      }
    }
  } catch (e) {
    if (!(e instanceof BundleError) || header === undefined) throw e;
    throw new BundleError(`${e.message}. ${partly(counts.entries)}`);
  }
  if (header === undefined) throw notABundle("it is empty once decompressed");
  if (ended) return { header, ...counts };
  throw new BundleError(
    `the bundle ends after ${entries(counts.entries)}, without its end line: it is truncated. ` +
      partly(counts.entries),
  );
}

/** The end line must count the entries before it. */
function checkEnd(line: Line, number: number, entries: number): true {
  if (line.entries === entries) return true;
  throw new BundleError(
    `line ${number}: the end line counts ${JSON.stringify(line.entries ?? null)} entries, ` +
      `but ${formatCount(entries)} came before it`,
  );
}

/**
 * Writes an entry unless the store holds the same or a newer copy of its key.
 *
 * @param store where to write
 * @param entry the entry
 * @param aliases its tier keys
 * @returns what happened to it
 */
export async function merge(
  store: Pick<CacheStore, "inspect" | "put">,
  entry: NewEntry,
  aliases: readonly string[],
): Promise<"added" | "replaced" | "kept"> {
  const held = await store.inspect(entry.key);
  if (held && held.createdAt >= entry.createdAt) return "kept";
  await store.put(entry, aliases);
  return held ? "replaced" : "added";
}

function partly(merged: number): string {
  return `Export it again; ${entries(merged)} merged so far, and importing again is safe`;
}

function entries(n: number): string {
  return formatPlural(n, "entry", "entries");
}

// --- Reading: bytes to lines ---

/** The header line must end within this many characters, or the file is not a bundle. */
const MAX_HEADER = 64 * 1024;

/** Decompresses and splits a bundle into lines, turning stream errors into {@link BundleError}. */
async function* bundleLines(input: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const text = input
    .pipeThrough(requireGzip())
    .pipeThrough(gzip(DecompressionStream))
    .pipeThrough(new TextDecoderStream("utf-8", { fatal: true }));
  let parts: string[] = [];
  let pending = 0;
  let first = true;
  try {
    for await (const chunk of text) {
      let start = 0;
      for (let end = chunk.indexOf("\n"); end !== -1; end = chunk.indexOf("\n", start)) {
        parts.push(chunk.slice(start, end));
        yield parts.join("");
        [parts, pending, first, start] = [[], 0, false, end + 1];
      }
      parts.push(chunk.slice(start));
      pending += chunk.length - start;
      if (first && pending > MAX_HEADER) throw notABundle("its first line is not a bundle header");
    }
  } catch (e) {
    if (e instanceof BundleError) throw e;
    throw new BundleError(`the file is damaged or truncated (${(e as Error).message})`);
  }
  if (pending > 0) yield parts.join(""); // a last line without its "\n"
}

/** A (de)compressor typed for byte streams: the DOM lib types its input as any BufferSource. */
function gzip(
  kind: typeof CompressionStream | typeof DecompressionStream,
): TransformStream<Uint8Array, Uint8Array> {
  return new kind("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** Fails early, and clearly, on a file that is not gzip at all (an SQLite file, JSON…). */
function requireGzip(): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  return new TransformStream({
    transform(chunk, controller) {
      for (let i = 0; seen < GZIP_MAGIC.length && i < chunk.length; i++, seen++) {
        if (chunk[i] !== GZIP_MAGIC[seen]) throw notABundle("it is not gzip-compressed");
      }
      controller.enqueue(chunk);
    },
    flush() {
      if (seen === 0) throw notABundle("the file is empty");
    },
  });
}
