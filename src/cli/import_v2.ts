/**
 * `llm-cache-proxy import --from-v2`: brings llm-cache-proxy v2's cache and
 * its ledger into this one. v2 kept each answer as `entries/<key>.bin` with a
 * `<key>.json` beside it (`{ts, model, contentType, usage}`), keyed by the
 * SHA-256 of the model and the raw body, and every call as one line of
 * `metrics.jsonl`. Answers are stored under v2's own keys and served by the
 * proxy's v2 tier (`x-cache: HIT-V2`, then kept under this release's keys);
 * the ledger's lines are added to the all-time totals. Importing again adds
 * nothing twice.
 *
 * @module
 */
import type { Config } from "../config.ts";
import { Ledger, V2_COUNTERS } from "../stats/ledger.ts";
import type { CallKind } from "../values/call_kind.ts";
import { readAnswer } from "../stats/usage.ts";
import { NO_USAGE } from "../values/usage.ts";
import { merge } from "../store/bundle.ts";
import { openForCommand } from "../store/open.ts";
import type { CacheStore, NewEntry } from "../store/store.ts";
import { formatPlural } from "../format.ts";

/** What an import from a v2 home did. */
export interface V2Import {
  /** The v2 home read. */
  readonly dir: string;
  /** Answers stored, and already here from an earlier import. */
  readonly added: number;
  readonly kept: number;
  /** Answers past this cache's TTL, not imported. */
  readonly expired: number;
  /** Files that were not a v2 answer v2 would replay for `/v1/messages`. */
  readonly skipped: number;
  /** Calls of v2's ledger added to the all-time totals. */
  readonly calls: number;
}

/** v2's meta file beside each answer. */
interface V2Meta {
  readonly ts?: unknown;
  readonly model?: unknown;
  readonly contentType?: unknown;
}

/** One line of v2's `metrics.jsonl`. */
interface V2Call {
  readonly t?: unknown;
  readonly event?: unknown;
  readonly model?: unknown;
  readonly in?: unknown;
  readonly out?: unknown;
  readonly usd?: unknown;
  readonly coalesced?: unknown;
}

const V2_KEY = /^[0-9a-f]{64}$/;

/**
 * Where v2 kept its cache for this user.
 *
 * @param config the configuration (`userHome`)
 * @returns `~/.llm-cache-a`, or undefined without a home folder
 */
export function defaultV2Home(config: Config): string | undefined {
  return config.userHome === undefined ? undefined : `${config.userHome}/.llm-cache-a`;
}

/**
 * How many answers a v2 home holds that this cache has not imported yet.
 *
 * @param dir the v2 home
 * @param store this cache's store
 * @returns the count; 0 when there is no v2 home or it was imported
 */
export async function pendingV2Answers(dir: string, store: CacheStore): Promise<number> {
  if ((await store.readCounters()).get(V2_COUNTERS.entries)) return 0;
  let n = 0;
  try {
    for await (const file of Deno.readDir(`${dir}/entries`)) if (file.name.endsWith(".bin")) n++;
  } catch {
    return 0;
  }
  return n;
}

/**
 * The offer `setup` and `on` make when this user has a v2 cache not imported yet.
 *
 * @param config the configuration
 * @returns one line to print, or undefined when there is nothing to offer
 */
export async function v2Offer(config: Config): Promise<string | undefined> {
  const dir = defaultV2Home(config);
  if (dir === undefined) return undefined;
  try {
    const { store } = await openForCommand(config);
    try {
      const n = await pendingV2Answers(dir, store);
      if (n === 0) return undefined;
      return `Found llm-cache-proxy v2's cache in ${dir} (${formatPlural(n, "answer")}): ` +
        '"llm-cache-proxy import --from-v2" brings it and its totals here';
    } finally {
      await store.close();
    }
  } catch {
    return undefined; // an offer is never worth failing a command over
  }
}

/**
 * Imports a v2 home's answers and ledger into `store`.
 *
 * @param store this cache's store
 * @param dir the v2 home (`~/.llm-cache-a`)
 * @param options this cache's TTL, and the clock
 * @returns what was imported
 * @throws when `dir` holds no `entries/` folder, with what to check
 */
export async function importV2(
  store: CacheStore,
  dir: string,
  options: { readonly ttlSec: number; readonly now?: number },
): Promise<V2Import> {
  const now = options.now ?? Date.now();
  const counts = { added: 0, kept: 0, expired: 0, skipped: 0 };
  for (const key of await answerKeys(dir)) {
    const entry = await readAnswerFiles(dir, key, options.ttlSec);
    if (entry === undefined) counts.skipped++;
    else if (entry.expiresAt <= now) counts.expired++;
    else if ((await merge(store, entry, [])) === "kept") counts.kept++;
    else counts.added++;
  }
  const calls = await importLedger(store, dir);
  if (counts.added > 0) await store.addCounters(new Map([[V2_COUNTERS.entries, counts.added]]));
  return { dir, ...counts, calls };
}

async function answerKeys(dir: string): Promise<string[]> {
  const keys: string[] = [];
  try {
    for await (const file of Deno.readDir(`${dir}/entries`)) {
      const key = file.name.replace(/\.bin$/, "");
      if (key !== file.name && V2_KEY.test(key)) keys.push(key);
    }
  } catch (e) {
    throw new Error(
      `${dir}/entries cannot be read (${(e as Error).message}): is ${dir} ` +
        "llm-cache-proxy v2's folder? Give its path: import --from-v2 DIR",
    );
  }
  return keys.sort();
}

/** An answer and its meta as an entry, or undefined when they are not one v2 would replay. */
async function readAnswerFiles(
  dir: string,
  key: string,
  ttlSec: number,
): Promise<NewEntry | undefined> {
  let meta: V2Meta;
  let body: Uint8Array;
  try {
    meta = JSON.parse(await Deno.readTextFile(`${dir}/entries/${key}.json`));
    body = await Deno.readFile(`${dir}/entries/${key}.bin`);
  } catch {
    return undefined; // v2 wrote the body first: a crash could leave it without its meta
  }
  if (typeof meta.ts !== "number") return undefined;
  const contentType = typeof meta.contentType === "string" ? meta.contentType : "application/json";
  // v2 keyed every path alike; a count_tokens answer is no answer to a message.
  if (isTokenCount(contentType, body)) return undefined;
  const answer = readAnswer(contentType, body);
  return {
    key,
    body,
    request: undefined,
    status: 200,
    contentType,
    model: typeof meta.model === "string" && meta.model !== "" ? meta.model : undefined,
    path: "/v1/messages",
    createdAt: meta.ts,
    expiresAt: meta.ts + ttlSec * 1000,
    usage: answer.usage,
    snippet: answer.snippet,
    namespace: "",
    timing: [],
  };
}

function isTokenCount(contentType: string, body: Uint8Array): boolean {
  if (!contentType.includes("json")) return false;
  try {
    const json = JSON.parse(new TextDecoder().decode(body));
    return json !== null && typeof json === "object" && !("type" in json) &&
      "input_tokens" in json;
  } catch {
    return false;
  }
}

/** Adds v2's ledger lines newer than the last import to the all-time totals. */
async function importLedger(store: CacheStore, dir: string): Promise<number> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/metrics.jsonl`);
  } catch {
    return 0; // a v2 that never served a call
  }
  const since = (await store.readCounters()).get(V2_COUNTERS.ledgerUntil) ?? 0;
  const ledger = await Ledger.open(store, { flushEveryMs: 60_000 });
  let calls = 0;
  let until = since;
  try {
    for (const line of text.split("\n")) {
      const call = parseCall(line);
      const kind = call && kindOf(call);
      if (!call || !kind || typeof call.t !== "number" || call.t <= since) continue;
      ledger.record({
        seq: ++calls,
        time: new Date(call.t).toISOString(),
        kind,
        model: typeof call.model === "string" && call.model !== "" ? call.model : null,
        path: "/v1/messages",
        status: kind === "ERROR" ? 502 : 200,
        bytes: 0,
        durationMs: 0,
        usage: { ...NO_USAGE, input_tokens: whole(call.in), output_tokens: whole(call.out) },
        dollars: typeof call.usd === "number" && call.usd >= 0 ? call.usd : 0,
        snippet: "",
        key: null,
      });
      until = Math.max(until, call.t);
    }
  } finally {
    await ledger.close();
  }
  if (until > since) await store.addCounters(new Map([[V2_COUNTERS.ledgerUntil, until - since]]));
  return calls;
}

function parseCall(line: string): V2Call | undefined {
  try {
    const call = JSON.parse(line);
    return call !== null && typeof call === "object" ? call : undefined;
  } catch {
    return undefined;
  }
}

function kindOf(call: V2Call): CallKind | undefined {
  if (call.event === "hit") return call.coalesced === true ? "HIT-COALESCED" : "HIT";
  if (call.event === "miss") return "MISS";
  if (call.event === "error") return "ERROR";
  return undefined;
}

function whole(value: unknown): number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : 0;
}
