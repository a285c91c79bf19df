/**
 * `key`, `price` and `usage`: the routines the proxy runs on every call, from
 * the shell, to answer "why did this miss?", "what does this model cost?"
 * and "what did this answer use?".
 *
 * @module
 */
import { cacheKey } from "../cache/key.ts";
import { loadConfig } from "../config.ts";
import { formatPrice } from "../format.ts";
import { PriceBook } from "../stats/prices.ts";
import { readAnswer } from "../stats/usage.ts";
import { parseFlags, UsageError } from "./args.ts";
import type { Command } from "./command.ts";

/** `llm-cache-proxy key`: the cache key of a request. */
export const key: Command = {
  summary: "Print the cache key of a request body (debugging)",
  help: `Usage: llm-cache-proxy key [flags] [BODY | -]

Prints the cache key the proxy gives a request: a SHA-256 over the upstream
URL, method, path, anthropic-version, the anthropic-beta set, the namespace
and the body as canonical JSON (key order, whitespace, "metadata" and Claude
Code's billing block do not count). BODY is the JSON text; "-" or no BODY
reads it from stdin.

  --path PATH                 request path and query    (default /v1/messages)
  --anthropic-version VER     the header's value        (default 2023-06-01)
  --beta LIST                 the anthropic-beta header (default none)
  --namespace NAME            the x-cache-namespace header (default none)
  --json                      print the inputs with the key

  echo '{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[]}' | llm-cache-proxy key

Exit codes: 0 ok, 2 bad flags or configuration.`,
  async run(args) {
    const { values, positionals } = parseFlags(args, {
      path: { type: "string", default: "/v1/messages" },
      "anthropic-version": { type: "string", default: "2023-06-01" },
      beta: { type: "string" },
      namespace: { type: "string", default: "" },
      json: { type: "boolean" },
    }, 1);
    const config = await loadConfig(Deno.env.toObject());
    const body = await operand(positionals[0], "BODY");
    const request = {
      method: "POST",
      path: values.path,
      anthropicVersion: values["anthropic-version"],
      anthropicBeta: values.beta ?? null,
      namespace: values.namespace,
      body,
    };
    const result = await cacheKey(request, config.upstream, config.normalize);
    if (!values.json) return console.log(result), 0;
    const { body: _body, ...inputs } = request;
    console.log(JSON.stringify({ key: result, upstream: config.upstream, ...inputs }, null, 2));
    return 0;
  },
};

/** `llm-cache-proxy price`: what a model costs, as the ledger counts it. */
export const price: Command = {
  summary: "Print the price the ledger uses for a model (debugging)",
  help: `Usage: llm-cache-proxy price MODEL [--json]

Prints the price per million tokens the ledger counts MODEL at: input,
output, cache writes (5 minutes, 1 hour) and cache reads, from
$CACHE_HOME/prices.json if it names the model, else the built-in list.

  llm-cache-proxy price claude-opus-4-5

Exit codes: 0 ok (a warning on stderr when the model is unknown), 2 bad flags
or configuration.`,
  async run(args) {
    const { values, positionals } = parseFlags(args, { json: { type: "boolean" } }, 1);
    const model = positionals[0];
    if (model === undefined) throw new UsageError("give a model id, e.g. claude-sonnet-4-5");
    const config = await loadConfig(Deno.env.toObject());
    const p = new PriceBook(config.prices, (m) => console.error(m)).priceOf(model);
    if (values.json) {
      console.log(
        JSON.stringify({ model, perMillionTokens: p, perToken: [p.input / 1e6, p.output / 1e6] }),
      );
      return 0;
    }
    const $ = formatPrice;
    console.log(
      `${model}: ${$(p.input)} input, ${$(p.output)} output per million tokens (cache write ` +
        `${$(p.cacheWrite5m)} for 5m, ${$(p.cacheWrite1h)} for 1h; cache read ${$(p.cacheRead)})`,
    );
    return 0;
  },
};

/** `llm-cache-proxy usage`: the usage and snippet the ledger reads from an answer. */
export const usage: Command = {
  summary: "Print the token usage read from a response body (debugging)",
  help: `Usage: llm-cache-proxy usage [RESPONSE | -]

Reads a Messages API response — the JSON message or the raw SSE stream —
and prints the token usage and snippet the proxy records for it, as JSON.
"-" or no RESPONSE reads it from stdin.

  curl -s localhost:4000/v1/messages ... | llm-cache-proxy usage

Exit codes: 0 ok, 2 bad flags.`,
  async run(args) {
    const { positionals } = parseFlags(args, {}, 1);
    const body = await operand(positionals[0], "RESPONSE");
    const text = new TextDecoder().decode(body.subarray(0, 256)).trimStart();
    const contentType = /^(event|data):/.test(text) ? "text/event-stream" : "application/json";
    console.log(JSON.stringify(readAnswer(contentType, body), null, 2));
    return 0;
  },
};

/** The operand's bytes, or stdin's when it is `-` or absent. */
/** The argument, or stdin for `-` or none; an empty one is a mistake, never an input. */
async function operand(value: string | undefined, name: string): Promise<Uint8Array> {
  if (value === undefined || value === "-") {
    if (Deno.stdin.isTerminal()) {
      throw new UsageError(`give ${name} as an argument, or pipe it in`);
    }
  }
  const bytes = value !== undefined && value !== "-"
    ? new TextEncoder().encode(value)
    : new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
  if (new TextDecoder().decode(bytes).trim() === "") {
    throw new UsageError(`${name} is empty: give it as an argument, or pipe it in`);
  }
  return bytes;
}
