/**
 * What an answer used and said: token usage and the first words of its text,
 * read from a Messages API body — JSON, or an SSE stream's `message_start`
 * and `message_delta` events. Read once when an answer is recorded and kept
 * with the entry, so a hit never parses its body again.
 *
 * @module
 */
import { NO_USAGE, type Usage } from "../values/usage.ts";

/** What an answer used and the start of what it said. */
export interface AnswerFacts {
  readonly usage: Usage;
  /** The first {@link SNIPPET_LENGTH} characters of the answer text. */
  readonly snippet: string;
}

/** Characters of answer text kept as a snippet. */
export const SNIPPET_LENGTH = 80;

type Json = Record<string, unknown>;

/**
 * Reads usage and snippet from a response body.
 *
 * @param contentType the response `content-type`
 * @param body the response body
 * @returns usage (zeros where absent) and the snippet
 */
export function readAnswer(contentType: string, body: Uint8Array): AnswerFacts {
  const text = new TextDecoder().decode(body);
  if (contentType.startsWith("text/event-stream")) return readStream(text);
  const message = parseObject(text);
  if (!message) return { usage: NO_USAGE, snippet: "" };
  return { usage: toUsage(message.usage), snippet: snippetOf(message) };
}

function readStream(text: string): AnswerFacts {
  let usage: Json = {};
  let snippet = "";
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (!line.startsWith("data:")) continue;
    const event = parseObject(line.slice(5));
    if (!event) continue;
    if (event.type === "message_start") {
      usage = { ...usage, ...asObject(asObject(event.message).usage) };
    } else if (event.type === "message_delta") usage = { ...usage, ...asObject(event.usage) };
    else if (event.type === "content_block_delta" && snippet.length < SNIPPET_LENGTH) {
      const delta = asObject(event.delta);
      if (typeof delta.text === "string") snippet += delta.text;
    } else if (event.type === "content_block_start" && snippet.length < SNIPPET_LENGTH) {
      snippet += blockLabel(asObject(event.content_block));
    } else if (event.type === "error") snippet ||= errorLabel(event);
  }
  return { usage: toUsage(usage), snippet: snippet.slice(0, SNIPPET_LENGTH) };
}

function snippetOf(message: Json): string {
  if (message.type === "error") return errorLabel(message);
  const blocks = Array.isArray(message.content) ? message.content.map(asObject) : [];
  const text = blocks.map((b) => (typeof b.text === "string" ? b.text : blockLabel(b))).join("");
  return text.slice(0, SNIPPET_LENGTH);
}

/** A non-text block stands in the snippet as e.g. `[tool_use get_weather]`. */
function blockLabel(block: Json): string {
  if (block.type === "text" || block.type === undefined) return "";
  return `[${block.type}${typeof block.name === "string" ? ` ${block.name}` : ""}]`;
}

function errorLabel(body: Json): string {
  const error = asObject(body.error);
  return `[${String(error.type ?? "error")}] ${String(error.message ?? "")}`.slice(
    0,
    SNIPPET_LENGTH,
  );
}

function toUsage(raw: unknown): Usage {
  const u = asObject(raw);
  const creation = asObject(u.cache_creation);
  const count = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : 0);
  const fiveMinutes = count(creation.ephemeral_5m_input_tokens);
  const oneHour = count(creation.ephemeral_1h_input_tokens);
  const written = count(u.cache_creation_input_tokens);
  return {
    input_tokens: count(u.input_tokens),
    cache_creation_input_tokens: written,
    // Without the split, every cache write counts as a 5-minute one (the API's default).
    ephemeral_5m_input_tokens: fiveMinutes + oneHour === 0 ? written : fiveMinutes,
    ephemeral_1h_input_tokens: oneHour,
    cache_read_input_tokens: count(u.cache_read_input_tokens),
    output_tokens: count(u.output_tokens),
  };
}

function parseObject(text: string): Json | undefined {
  try {
    const value = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function asObject(value: unknown): Json {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? value as Json : {};
}
