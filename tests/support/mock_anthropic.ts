/**
 * A mock of the Anthropic API, used as the upstream in tests and benchmarks. It answers with the
 * byte-exact samples in `tests/fixtures/anthropic/`, except that each `POST /v1/messages` gets a
 * fresh message id (`msg_mock_<n>_<random>`) and every response a fresh `request-id` header, so a
 * replay can be told from a fresh call.
 *
 * The scenario of a `POST /v1/messages` is chosen by a directive `[mock:NAME]` or
 * `[mock:NAME:ARG]` in the text of the last user message (or, when it has none, as after a tool
 * result, of the latest earlier one that has): `text`, `tool_use`, `error_midway`, `cut`, `400`,
 * `429`, `529` (each with `:MS`, after MS ms), `slow[:MS]`, `big:N`, `hang`, `agent[:cat]` (the scripted tool-using session of
 * `mock_agent.ts`), and the faults of `mock_faults.ts`: `forever[:MS]` (a text delta every MS ms,
 * never ending), `stall[:N]` (N events, or half the JSON, then silence on an open connection),
 * `reset[:N]` (the same, then the connection is cut) and `nohead` (no response head, ever).
 * Without one: `tool_use` if the request has tools, else `text`. Messages with `role: "system"`
 * (Claude Code's environment block) are not the user's. `stream: true` selects the SSE variant.
 *
 * Each call records when the proxy went away before the end of its answer (`goneAt`), so tests
 * can check that an abandoned upstream call is closed.
 *
 * @module
 */
import { faultBody, MockReset, noHead, wait } from "./mock_faults.ts";

/** One request received by the mock. */
export interface MockCall {
  /** HTTP method. */
  method: string;
  /** Pathname and search. */
  path: string;
  /** Request headers, lower-case names. */
  headers: Record<string, string>;
  /** Raw body (empty for `/v1/echo…`, whose body is streamed back). */
  body: Uint8Array;
  /** Body decoded as UTF-8. */
  text: string;
  /** Body parsed as JSON, `undefined` if it is not JSON. */
  json: unknown;
  /** `performance.now()` when the request arrived. */
  at: number;
  /** `performance.now()` when the client went away before the end of the answer, if it did. */
  goneAt: number | undefined;
  /** Resolves once the client has gone away before the end of the answer. */
  gone: Promise<void>;
}

/** Options of {@link startMockAnthropic}. */
export interface MockOptions {
  /** Delay between SSE events in the `slow` scenario when it gives none; default 20. */
  eventDelayMs?: number;
}

/** A running mock; `await using` it or call {@link MockAnthropic.close}. */
export interface MockAnthropic extends AsyncDisposable {
  /** Base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Every request received, in order of arrival. */
  readonly calls: MockCall[];
  /** Number of calls, optionally only those whose pathname equals `path`. */
  count(path?: string): number;
  /** Forgets the calls. */
  reset(): void;
  /** Ends streams still running, then shuts the server down; idempotent. */
  close(): Promise<void>;
}

import { agentTurn, turnEvents, turnJson } from "./mock_agent.ts";

const FIXTURES = new URL("../fixtures/anthropic/", import.meta.url);
const FILES = [
  "message_text.json",
  "message_tool_use.json",
  "stream_text.sse",
  "stream_tool_use.sse",
  "stream_error_midway.sse",
  "stream_cut_before_stop.sse",
  "error_400.json",
  "error_429.json",
  "error_529.json",
  "count_tokens.json",
] as const;
type Fixtures = Record<(typeof FILES)[number], string>;

const MODEL = "claude-sonnet-4-5-20250929";
const MODELS = `{"data":[{"type":"model","id":"${MODEL}","display_name":"Claude Sonnet 4.5",` +
  `"created_at":"2025-09-29T00:00:00Z"}],"has_more":false,"first_id":"${MODEL}","last_id":"${MODEL}"}`;
const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
};
const JSON_TYPE = { "content-type": "application/json" };
const RATE_LIMIT_HEADERS = {
  "retry-after": "7",
  "anthropic-ratelimit-requests-limit": "50",
  "anthropic-ratelimit-requests-remaining": "0",
  "anthropic-ratelimit-requests-reset": "2026-11-26T10:00:07Z",
};
const DELTA_SIZE = 4096;
const encoder = new TextEncoder();

/** What a handler needs besides the request. */
interface Context {
  fixtures: Fixtures;
  eventDelayMs: number;
  /** Aborted by `close()`: ends every stream still running. */
  stop: AbortSignal;
  /** Number of this call, for unique ids. */
  seq: number;
  /** The request's signal: aborts when the client goes away. */
  signal: AbortSignal;
  /** Marks the call's client as gone; idempotent. */
  gone: () => void;
}

/** Starts a mock on a free port of 127.0.0.1. */
export async function startMockAnthropic(options: MockOptions = {}): Promise<MockAnthropic> {
  const fixtures = await loadFixtures();
  const eventDelayMs = options.eventDelayMs ?? 20;
  const stop = new AbortController();
  const calls: MockCall[] = [];
  let seq = 0;
  const serveOptions = { port: 0, hostname: "127.0.0.1", onListen() {}, onError: quietReset };
  const server = Deno.serve(serveOptions, async (req) => {
    const ctx = { fixtures, eventDelayMs, stop: stop.signal, seq: ++seq, signal: req.signal };
    const response = await route(req, { ...ctx, gone: () => {} }, calls);
    response.headers.set("request-id", `req_mock_${ctx.seq}_${randomPart()}`);
    return response;
  });
  let closed: Promise<void> | undefined;
  const close = () => {
    stop.abort();
    return closed ??= server.shutdown();
  };
  const pathname = (call: MockCall) => call.path.split("?", 1)[0];
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    calls,
    count: (path) => calls.filter((c) => path === undefined || pathname(c) === path).length,
    reset: () => void calls.splice(0),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A deliberate reset cuts the connection quietly; anything else is printed, as by default. */
function quietReset(error: unknown): Response {
  if (!(error instanceof MockReset)) console.error(error);
  return new Response(null, { status: 500 });
}

async function loadFixtures(): Promise<Fixtures> {
  const decoder = new TextDecoder();
  const read = async (f: string) => [f, decoder.decode(await Deno.readFile(new URL(f, FIXTURES)))];
  return Object.fromEntries(await Promise.all(FILES.map(read))) as Fixtures;
}

async function route(req: Request, ctx: Context, calls: MockCall[]): Promise<Response> {
  const at = performance.now();
  const url = new URL(req.url);
  const isEcho = url.pathname.startsWith("/v1/echo");
  const body = isEcho ? new Uint8Array() : await req.bytes().catch(() => undefined);
  if (body === undefined) return new Response(null, { status: 499 }); // the client went away
  const call = record(req, url, body, at);
  calls.push(call);
  ctx.gone = goneMark(call, req.signal);
  const key = `${req.method} ${url.pathname}`;
  if (isEcho) return echo(req);
  if (key === "POST /v1/messages") return messages(call.json, ctx);
  if (key === "POST /v1/messages/count_tokens") return json(ctx.fixtures["count_tokens.json"]);
  if (key === "GET /v1/models") return json(MODELS);
  return errorJson(404, "not_found_error", "Not found");
}

function record(req: Request, url: URL, body: Uint8Array, at: number): MockCall {
  const text = new TextDecoder().decode(body);
  const headers = headerObject(req.headers);
  const path = url.pathname + url.search;
  return {
    method: req.method,
    path,
    headers,
    body,
    text,
    json: parseJson(text),
    at,
    goneAt: undefined,
    gone: new Promise<void>(() => {}),
  };
}

/** Sets `call.goneAt` and settles `call.gone` once, on the request's abort or when called. */
function goneMark(call: MockCall, signal: AbortSignal): () => void {
  const { promise, resolve } = Promise.withResolvers<void>();
  call.gone = promise;
  const mark = () => {
    call.goneAt ??= performance.now();
    resolve();
  };
  signal.addEventListener("abort", mark, { once: true });
  return mark;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Streams the request body back as it arrives. */
function echo(req: Request): Response {
  const received = JSON.stringify(headerObject(req.headers));
  const headers = {
    "content-type": "application/octet-stream",
    "x-mock-received-headers": received,
  };
  return new Response(req.body, { headers });
}

async function messages(body: unknown, ctx: Context): Promise<Response> {
  if (body === undefined) {
    return errorJson(400, "invalid_request_error", "Invalid JSON in request body");
  }
  const request = body as {
    stream?: unknown;
    tools?: unknown;
    messages?: unknown;
    model?: unknown;
  };
  const streaming = request.stream === true;
  const [prompt, name, arg] = directive(request.messages);
  const hasTools = Array.isArray(request.tools) && request.tools.length > 0;
  const scenario = name ?? (hasTools ? "tool_use" : "text");
  const n = scenario === "agent" ? 0 : Number(arg ?? (scenario === "slow" ? ctx.eventDelayMs : 0));
  if (!(n >= 0)) return errorJson(400, "invalid_request_error", `bad mock argument: ${arg}`);
  const id = `msg_mock_${ctx.seq}_${randomPart()}`;
  const f = ctx.fixtures;
  const events = (file: keyof Fixtures) => splitEvents(withId(f[file], id));
  const stream = (file: keyof Fixtures) => streaming ? sse(events(file), ctx) : undefined;
  switch (scenario) {
    case "text":
      return stream("stream_text.sse") ?? json(withId(f["message_text.json"], id));
    case "tool_use":
      return stream("stream_tool_use.sse") ?? json(withId(f["message_tool_use.json"], id));
    case "error_midway":
      return stream("stream_error_midway.sse") ?? upstreamError("529", f);
    case "cut":
      return stream("stream_cut_before_stop.sse") ?? cutJson(withId(f["message_text.json"], id));
    case "400":
    case "429":
    case "529":
      await wait(n, ctx.stop); // `[mock:429:MS]`: the error comes after MS ms
      return upstreamError(scenario, f);
    case "slow":
      if (streaming) return sse(events("stream_text.sse"), ctx, n);
      await wait(n * 10, ctx.stop);
      return json(withId(f["message_text.json"], id));
    case "big":
      return streaming
        ? bigStream(bigText(prompt, n), events("stream_text.sse"), ctx)
        : bigMessage(bigText(prompt, n), withId(f["message_text.json"], id));
    case "hang":
      return sse(events("stream_text.sse").slice(0, 1), ctx, 0, true);
    case "forever": {
      const delayMs = arg === undefined ? ctx.eventDelayMs : n;
      const message = withId(f["message_text.json"], id);
      return forever(events("stream_text.sse"), message, { streaming, delayMs }, ctx);
    }
    case "stall":
    case "reset": {
      const first = streaming
        ? events("stream_text.sse").slice(0, Number(arg ?? 1))
        : [halfOf(withId(f["message_text.json"], id))];
      const type = streaming ? SSE_HEADERS : JSON_TYPE;
      return new Response(faultBody({ first, then: scenario }, ctx), { headers: type });
    }
    case "nohead":
      await noHead(AbortSignal.any([ctx.signal, ctx.stop]));
      return new Response(null, { status: 499 });
    case "agent": {
      const turn = agentTurn(request.messages, `toolu_mock_${ctx.seq}_${randomPart()}`, arg);
      const model = typeof request.model === "string" ? request.model : MODEL;
      return streaming ? sse(turnEvents(turn, id, model), ctx) : json(turnJson(turn, id, model));
    }
  }
  return errorJson(400, "invalid_request_error", `unknown mock scenario: ${scenario}`);
}

const DIRECTIVE = /\[mock:([a-z0-9_]+)(?::([^\]]*))?\]/;

/**
 * The text of the last user message, and the directive in it or, failing that, in the latest
 * earlier user message that has one.
 */
function directive(messages: unknown): [string, string?, (string | undefined)?] {
  const users = (Array.isArray(messages) ? messages : []).filter((m) => m?.role !== "system");
  const texts = users.map((m) => messageText(m?.content));
  const prompt = texts.at(-1) ?? "";
  for (const text of texts.reverse()) {
    const [, name, arg] = DIRECTIVE.exec(text) ?? [];
    if (name !== undefined) return [prompt, name, arg];
  }
  return [prompt];
}

/** A message's string content, or its text blocks joined. */
function messageText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  const texts = content.map((b) => b?.type === "text" && typeof b.text === "string" ? b.text : "");
  return texts.join("\n");
}

/** `size` characters repeated from `seed`, so that the content depends on the request. */
function bigText(seed: string, size: number): string {
  const unit = `${seed}\n`;
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}

/** `message` (a JSON message) with `text` as its only content. */
function bigMessage(text: string, message: string): Response {
  return json(JSON.stringify({ ...JSON.parse(message), content: [{ type: "text", text }] }));
}

/** `template` (SSE events) with its text deltas replaced by `text` in ~4 KB deltas. */
function bigStream(text: string, template: string[], ctx: Context): Response {
  const isDelta = (event: string) => event.startsWith("event: content_block_delta\n");
  const deltas = [];
  for (let i = 0; i < text.length; i += DELTA_SIZE) {
    const delta = { type: "text_delta", text: text.slice(i, i + DELTA_SIZE) };
    const data = JSON.stringify({ type: "content_block_delta", index: 0, delta });
    deltas.push(`event: content_block_delta\ndata: ${data}\n\n`);
  }
  const head = template.slice(0, template.findIndex(isDelta));
  const tail = template.slice(template.findLastIndex(isDelta) + 1);
  return sse([...head, ...deltas, ...tail], ctx);
}

/**
 * A `forever` answer: the head of the stream (or of the JSON message), then a text delta (or more
 * text) every `delayMs` ms (the scenario's argument, else `eventDelayMs`), never ending.
 */
function forever(
  events: string[],
  message: string,
  { streaming, delayMs }: { streaming: boolean; delayMs: number },
  ctx: Context,
): Response {
  const n = (i: number) => `tick ${i} `;
  const delta = (i: number) => {
    const data = {
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: n(i) },
    };
    return `event: content_block_delta\ndata: ${JSON.stringify(data)}\n\n`;
  };
  const openText = message.slice(0, message.indexOf('"content":[') + 11) +
    '{"type":"text","text":"';
  const [first, more] = streaming ? [events.slice(0, 2), delta] : [[openText], n];
  const plan = { first, then: "more" as const, more, delayMs };
  return new Response(faultBody(plan, ctx), { headers: streaming ? SSE_HEADERS : JSON_TYPE });
}

/**
 * An SSE response sending each event as its own chunk, `delayMs` apart (the first at once). With
 * `hold`, it then stays open until the client goes away. Once `ctx.stop` aborts it ends at once
 * (cleanly: an errored body would make `Deno.serve` print the error).
 */
function sse(events: readonly string[], ctx: Context, delayMs = 0, hold = false): Response {
  const { stop } = ctx;
  const cancelled = new AbortController();
  const signal = AbortSignal.any([stop, cancelled.signal]);
  let next = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (next > 0 && next < events.length) await wait(delayMs, signal);
      if (next >= events.length && hold) await wait(Infinity, signal);
      if (cancelled.signal.aborted) return;
      const event = stop.aborted ? undefined : events[next++];
      if (event === undefined) controller.close();
      else controller.enqueue(encoder.encode(event));
    },
    cancel() {
      cancelled.abort();
      ctx.gone();
    },
  });
  return new Response(body, { headers: SSE_HEADERS });
}

/** Splits an SSE text into events, each keeping its blank line: they concatenate to the input. */
function splitEvents(text: string): string[] {
  return text.split(/(?<=\n\n)/);
}

/** Replaces the first message id in `text`. */
function withId(text: string, id: string): string {
  return text.replace(/"id":"msg_[A-Za-z0-9]+"/, `"id":"${id}"`);
}

function upstreamError(status: "400" | "429" | "529", f: Fixtures): Response {
  const extra =
    { "400": {}, "429": RATE_LIMIT_HEADERS, "529": { "x-should-retry": "true" } }[status];
  return json(f[`error_${status}.json`], Number(status), extra);
}

function errorJson(status: number, type: string, message: string): Response {
  return json(JSON.stringify({ type: "error", error: { type, message } }), status);
}

/** The first half of a JSON body, as if the connection broke off. */
function cutJson(text: string): Response {
  return new Response(halfOf(text), { headers: JSON_TYPE });
}

function halfOf(text: string): string {
  return text.slice(0, text.length >> 1);
}

function json(text: string, status = 200, extra: Record<string, string> = {}): Response {
  return new Response(text, { status, headers: { ...JSON_TYPE, ...extra } });
}

function randomPart(): string {
  return crypto.randomUUID().slice(0, 8);
}

/** The headers as an object; through `forEach`, which Deno runs 20× faster than an iterator. */
function headerObject(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => out[name] = value);
  return out;
}
