/**
 * `llm-cache-proxy export`: writes cached entries to a bundle file (or
 * stdout), for `import` on another machine or in CI. Reads the store file
 * directly, so it works whether or not the proxy runs.
 *
 * @module
 */
import { type Config, loadConfig } from "../config.ts";
import { exportBundle, type ExportResult } from "../store/bundle.ts";
import { openForCommand } from "../store/open.ts";
import type { CacheStore } from "../store/store.ts";
import { parseFlags, UsageError } from "./args.ts";
import { formatBytes, formatCount, styleFor } from "./term.ts";

/** One line for the command list. */
export const summary = "Write cached entries to a bundle file, to import elsewhere";

/** The text `export --help` prints. */
export const help = `Usage: llm-cache-proxy export [--namespace NAME] [--since TIME] [--json] FILE

Writes the cache's entries to FILE as a bundle: one compressed, versioned
file that "llm-cache-proxy import" merges into another cache (a teammate's,
a CI runner's). FILE - writes the bundle to stdout. Works while the proxy
runs.

A bundle holds each entry's response bytes, the request that produced it,
its usage, expiry, chunk timing and aliases. It never holds an HTTP header,
an API key or a token, but it does hold your prompts and answers: share it
as you would share them.

  --namespace NAME  only entries of this namespace (x-cache-namespace);
                    --namespace= exports the default one
  --since TIME      only entries stored since TIME: an ISO date or time
                    (2025-06-01, 2025-06-01T14:30:00Z) or a time ago
                    (45m, 12h, 7d, 2w)
  --json            print the summary as JSON (to stderr when FILE is -)

Example: llm-cache-proxy export --since 7d cache.bundle

Exit codes: 0 ok, 1 the cache or FILE cannot be read or written, 2 bad flags
or configuration.`;

/** The summary `export --json` prints. */
export interface ExportReport extends ExportResult {
  /** The bundle written, `-` for stdout. */
  readonly file: string;
  readonly namespace: string | null;
  /** ISO 8601, or null without `--since`. */
  readonly since: string | null;
}

/**
 * Runs `export`.
 *
 * @param args flags and FILE after `export`
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    namespace: { type: "string" },
    since: { type: "string" },
    json: { type: "boolean" },
  }, 1);
  const file = positionals[0];
  if (file === undefined) {
    throw new UsageError("missing FILE: where to write the bundle (- for stdout)");
  }
  if (file === "-" && Deno.stdout.isTerminal()) {
    throw new UsageError("stdout is a terminal: give a FILE, or pipe the bundle somewhere");
  }
  const since = values.since === undefined ? undefined : parseSince(values.since, Date.now());
  const config = await loadConfig(Deno.env.toObject());
  const filter = {
    ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
    ...(since === undefined ? {} : { since }),
  };
  let result: ExportResult;
  try {
    await using store = await openStore(config);
    result = await writeBundle(file, (out) => exportBundle(store, out, filter));
  } catch (e) {
    console.error(`llm-cache-proxy export: ${(e as Error).message}`);
    return 1;
  }
  const report: ExportReport = {
    file,
    ...result,
    namespace: values.namespace ?? null,
    since: since === undefined ? null : new Date(since).toISOString(),
  };
  // With FILE -, stdout carries the bundle itself.
  const print = file === "-" ? console.error : console.log;
  print(values.json ? JSON.stringify(report) : describe(report));
  return 0;
}

/** The store, closed with `await using`; no cache yet exports nothing rather than create one. */
async function openStore(config: Config): Promise<CacheStore & AsyncDisposable> {
  const { store } = await openForCommand(config);
  return Object.assign(store, { [Symbol.asyncDispose]: () => store.close() });
}

/** Writes to FILE through a temporary file, so a failed export leaves no half bundle behind. */
async function writeBundle(
  file: string,
  write: (out: WritableStream<Uint8Array>) => Promise<ExportResult>,
): Promise<ExportResult> {
  if (file === "-") {
    try {
      return await write(Deno.stdout.writable);
    } catch (e) {
      throw new Error(`cannot write the bundle to stdout: ${(e as Error).message}`);
    }
  }
  const temp = `${file}.${Deno.pid}.tmp`;
  try {
    // Private: a bundle holds prompts and answers.
    const handle = await Deno.open(temp, {
      write: true,
      create: true,
      truncate: true,
      mode: 0o600,
    });
    const result = await write(handle.writable);
    await Deno.rename(temp, file);
    return result;
  } catch (e) {
    await Deno.remove(temp).catch(() => {});
    // Name FILE, not the temporary file Deno's message would name.
    const why = e instanceof Deno.errors.NotFound
      ? "its folder does not exist"
      : e instanceof Deno.errors.PermissionDenied
      ? "permission denied; choose a folder you can write to"
      : (e as Error).message;
    throw new Error(`cannot write ${file}: ${why}`);
  }
}

function describe(r: ExportReport): string {
  const s = styleFor(file(r) === "stdout" ? Deno.stderr : Deno.stdout);
  const entries = `${formatCount(r.entries)} ${r.entries === 1 ? "entry" : "entries"}`;
  let line = `exported ${entries} (${formatBytes(r.bytes)}) to ${file(r)}`;
  if (r.expired > 0) {
    line += `, ${formatCount(r.expired)} of them expired (not served after import)`;
  }
  if (r.entries === 0 && (r.namespace !== null || r.since !== null)) {
    const filters = [
      r.namespace === null ? "" : `namespace "${r.namespace}"`,
      r.since === null ? "" : `since ${r.since}`,
    ].filter(Boolean).join(", ");
    line += `: nothing matched ${filters}`;
  }
  return s.color ? s.ok(line) : line;
}

function file(r: ExportReport): string {
  return r.file === "-" ? "stdout" : r.file;
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/**
 * Reads `--since`: an ISO 8601 date or date-time (a date alone is midnight
 * UTC, a time without an offset is local), or a time ago such as `45m`,
 * `12h`, `7d` or `2w`.
 *
 * @param text the flag's value
 * @param now the current time, ms since the epoch
 * @returns the time, ms since the epoch
 * @throws {UsageError} when it is neither
 */
export function parseSince(text: string, now: number): number {
  const ago = /^(\d+)\s*([smhdw])$/.exec(text.trim());
  if (ago) return now - Number(ago[1]) * UNIT_MS[ago[2] as keyof typeof UNIT_MS];
  const iso =
    /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;
  const time = iso.test(text.trim()) ? Date.parse(text.trim()) : NaN;
  if (Number.isNaN(time)) {
    throw new UsageError(
      `--since "${text}" must be an ISO date or time (2025-06-01, 2025-06-01T14:30:00Z) ` +
        "or a time ago (45m, 12h, 7d, 2w)",
    );
  }
  return time;
}
