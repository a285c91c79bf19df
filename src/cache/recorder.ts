/**
 * Decides whether an upstream answer may be stored, and turns it into an
 * entry. Only a complete 200 is ever kept: JSON that parses, or an SSE stream
 * whose last event is a whole `message_stop` and that carried no `event: error`.
 *
 * @module
 */
import type { Usage } from "../values/usage.ts";
import type { NewEntry } from "../store/store.ts";

/** An upstream answer as received, once its body has ended. */
export interface Recording {
  /** HTTP status. */
  readonly status: number;
  /** Response headers as received (after hop-by-hop filtering). */
  readonly headers: Headers;
  /** The body in the chunks it arrived in. */
  readonly chunks: readonly Uint8Array[];
  /** When each chunk arrived, in ms after the upstream call started. */
  readonly times: readonly number[];
}

/** Facts about the request that produced a recording, and about its answer. */
export interface RecordedRequest {
  /** The cache key. */
  readonly key: string;
  /** Path and query. */
  readonly path: string;
  /** The `model` field of the request body, if any. */
  readonly model: string | undefined;
  /** When the answer ended (ms since the epoch). */
  readonly now: number;
  /** How long the entry stays fresh, in seconds. */
  readonly ttlSec: number;
  /** Token usage of the answer. */
  readonly usage: Usage;
  /** The first 80 characters of the answer text. */
  readonly snippet: string;
  /** The key space (`x-cache-namespace`), `""` by default. */
  readonly namespace: string;
  /** The request body, kept to explain later misses. */
  readonly body: Uint8Array | undefined;
}

/** A whole upstream answer. */
export interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: Uint8Array;
  /** When its chunks arrived: [end offset, ms after the request], as stored for paced replay. */
  readonly timing?: readonly (readonly [number, number])[];
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Builds the entry to store for an answer, or `undefined` when it is not a
 * complete 200 and must not be replayed.
 *
 * @param request what was asked, the TTL to apply, what the answer used
 * @param answer what upstream answered, whole
 * @returns the entry, or undefined
 */
export function entryFor(request: RecordedRequest, answer: Answer): NewEntry | undefined {
  if (answer.status !== 200 || !isCompleteBody(answer.contentType, answer.body)) return undefined;
  return {
    key: request.key,
    status: 200,
    contentType: answer.contentType,
    model: request.model,
    path: request.path,
    createdAt: request.now,
    expiresAt: request.now + request.ttlSec * 1000,
    usage: request.usage,
    snippet: request.snippet,
    body: answer.body,
    namespace: request.namespace,
    timing: answer.timing ?? [],
    request: request.body,
  };
}

/**
 * Tells whether a 200 body is whole: parsable JSON, or a finished SSE stream.
 *
 * @param contentType the response `content-type`
 * @param body the full body
 * @returns true when the body may be replayed
 */
export function isCompleteBody(contentType: string, body: Uint8Array): boolean {
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    return false;
  }
  if (type === "application/json") return parsesAsJson(text);
  if (type === "text/event-stream") return isFinishedStream(text);
  return false;
}

/**
 * An SSE stream is finished when its last event is a whole `message_stop`
 * (an `event: message_stop` line, a data line holding JSON whose `type` is
 * `message_stop`, and the blank line that ends the event) and none of its
 * events is an `error` (the API sends `event: error` inside a 200 stream when
 * it breaks off, e.g. `overloaded_error`).
 *
 * Events are read as the SSE spec reads them
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
 * lines end in CRLF, LF or CR; an event without a data line is never
 * dispatched; a last event that is not ended by a blank line is dropped, so a
 * stream cut anywhere inside its `message_stop` is not finished. A final CR in
 * a stream that uses CRLF may be half of a line break whose rest was cut off,
 * so it does not end a line there.
 *
 * @param text the whole stream
 * @returns true when the stream ended normally
 */
export function isFinishedStream(text: string): boolean {
  if (text.endsWith("\r") && text.includes("\r\n")) return false;
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.pop() !== "") return false; // the last line has no line break: cut off
  let type: string | undefined;
  let data: string[] = []; // the event's data lines, read only for the last event
  let last: { type: string; data: string[] } | undefined;
  for (const line of lines) {
    if (line === "") {
      if (data.length > 0) last = { type: type ?? "message", data };
      type = undefined;
      data = [];
      continue;
    }
    const event = fieldValue(line, "event");
    if (event === "error") return false; // dispatched or not
    if (event !== undefined) type = event;
    else if (fieldValue(line, "data") !== undefined) data.push(line);
  }
  // Fields after the last blank line are an event that never ended.
  if (type !== undefined || data.length > 0 || last?.type !== "message_stop") return false;
  return jsonType(last.data.map((line) => fieldValue(line, "data")).join("\n")) === "message_stop";
}

/** The value of field `name` on `line` (one space after the colon dropped), or undefined. */
function fieldValue(line: string, name: string): string | undefined {
  if (!line.startsWith(name)) return undefined;
  if (line.length === name.length) return "";
  if (line.charCodeAt(name.length) !== 0x3a) return undefined; // another field, e.g. `dataX:`
  return line.slice(line.charCodeAt(name.length + 1) === 0x20 ? name.length + 2 : name.length + 1);
}

function jsonType(data: string): unknown {
  try {
    return JSON.parse(data)?.type;
  } catch {
    return undefined;
  }
}

/**
 * Concatenates chunks into one buffer.
 *
 * @param chunks the pieces, in order
 * @returns one buffer holding them all
 */
export function joinChunks(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * When each chunk of a recording arrived, as stored for paced replay: pairs
 * of [byte offset where the chunk ends, whole ms after the call started].
 *
 * @param recording the chunks and their arrival times
 * @returns the pairs, one per chunk
 */
export function timingOf(recording: Recording): [number, number][] {
  let end = 0;
  return recording.chunks.map((chunk, i) => {
    end += chunk.byteLength;
    return [end, Math.round(recording.times[i] ?? 0)];
  });
}

function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
