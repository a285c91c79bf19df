/**
 * `llm-cache-proxy monitor`: one line per call the running proxy serves, read
 * from its `/monitor` event stream.
 *
 * @module
 */
import { loadConfig } from "../config.ts";
import { formatMs, formatUsd } from "../format.ts";
import { callTokens } from "../stats/call_log.ts";
import type { CallEvent } from "../stats/events.ts";
import type { CallKind } from "../values/call_kind.ts";
import { parseFlags } from "./args.ts";
import { ProxyClient } from "./proxy_client.ts";
import { type Style, styleFor } from "./term.ts";

/** One line for the command list. */
export const summary = "Print one line per call as the proxy serves it";

/** The text `monitor --help` prints. */
export const help = `Usage: llm-cache-proxy monitor [--json]

Follows the running proxy's /monitor stream and prints one line per call:

  2026-11-26T12:00:01Z #0001 MISS claude-sonnet-4-5 40tok $0.00042 812.0ms | Paris is the capital…

time, sequence number, what happened (HIT, HIT-COALESCED, MISS, BYPASS,
ERROR, PASS), model, tokens, dollars (saved on a hit, spent otherwise),
duration and the start of the answer. Ctrl-C stops it.

  --json   print each call as one JSON object per line

Exit codes: 0 stopped (Ctrl-C or the proxy stopped), 1 the proxy is not
running or refused, 2 bad configuration.`;

/**
 * Runs `monitor`.
 *
 * @param args flags after `monitor`
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { json: { type: "boolean" } });
  const config = await loadConfig(Deno.env.toObject());
  const client = ProxyClient.for(config);
  const style = styleFor(Deno.stdout);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    let res: Response;
    try {
      res = await client.request("/monitor", { signal: stop.signal });
    } catch {
      console.error(
        `llm-cache-proxy is not running at ${client.base}: start it with "llm-cache-proxy on"`,
      );
      return 1;
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      console.error(`${client.base}/monitor answered ${res.status}: check CACHE_AUTH_TOKEN`);
      return 1;
    }
    if (!values.json) console.error(style.dim(`Watching ${client.base} (Ctrl-C stops)`));
    await follow(
      res.body,
      (event) => console.log(values.json ? JSON.stringify(event) : line(event, style)),
    )
      .catch((e) => {
        if (!stop.signal.aborted) throw e;
      });
    if (!stop.signal.aborted) console.error(style.dim("The proxy closed the stream (stopped?)"));
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}

/** Reads SSE frames and hands each `call` event to `onCall`. */
async function follow(body: ReadableStream<Uint8Array>, onCall: (event: CallEvent) => void) {
  let buffer = "";
  for await (const text of body.pipeThrough(new TextDecoderStream())) {
    buffer += text;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!frame.startsWith("event: call\n")) continue;
      const data = frame.split("\n").find((l) => l.startsWith("data: "));
      if (data) onCall(JSON.parse(data.slice(6)) as CallEvent);
    }
  }
}

const KIND_COLOR: Record<CallKind, keyof Style> = {
  "HIT": "green",
  "HIT-COALESCED": "green",
  "HIT-V2": "green",
  "HIT-NORM": "green",
  "HIT-SUFFIX": "green",
  "STALE": "yellow",
  "MISS": "yellow",
  "BYPASS": "cyan",
  "ERROR": "red",
  "PASS": "dim",
};

/**
 * The monitor's line for one call.
 *
 * @param event the call
 * @param style colours
 * @returns e.g. `2026-11-26T12:00:01Z #0001 HIT claude-… 40tok $0.00042 0.4ms | Paris…`
 */
export function line(event: CallEvent, style: Style): string {
  const paint = style[KIND_COLOR[event.kind]] as (text: string) => string;
  const time = event.time.replace(/\.\d+Z$/, "Z");
  const where = event.path === "/v1/messages"
    ? event.model ?? "-"
    : `${event.model ?? "-"} ${event.path}`;
  const status = event.status === 200 ? "" : ` ${event.status}`;
  const snippet = event.snippet ? ` | ${event.snippet}` : "";
  return `${style.dim(time)} #${String(event.seq).padStart(4, "0")} ${
    paint(event.kind)
  } ${where}${status} ` +
    `${callTokens(event)}tok ${formatUsd(event.dollars)} ${formatMs(event.durationMs)}${snippet}`;
}
