/**
 * An answer shared across instances as it arrives (private to
 * `redis_locks.ts`): the lock holder appends its upstream answer to a Redis
 * stream, head first (status and headers), then each body chunk, then an end
 * mark; an instance waiting on the same key reads that stream from the start
 * and streams the same bytes to its own clients a few ms behind. A late
 * reader gets every chunk so far at once.
 *
 * A stream lives {@link LIVE_TTL_MS} after its last chunk while the answer
 * runs and {@link ENDED_TTL_MS} after its end: long enough for a reader that
 * saw the lock before it was released, no longer. A reader whose writer's
 * lock is gone without an end mark stops: before the head it answers
 * "nobody", after it the body breaks off.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import { BUFFERS } from "./_redis_client.ts";
import { toBuffer, toBytes } from "./_redis_schema.ts";

/** A stream outlives its last chunk this long while its answer runs, in ms. */
const LIVE_TTL_MS = 10 * 60_000;

/** A stream outlives its end mark this long, in ms. */
const ENDED_TTL_MS = 15_000;

/** Entries read at a time. */
const BATCH = "128";

/** Appends fields to a stream and sets its TTL: KEYS[1] stream, ARGV ttl ms, then the fields. */
const ADD = `redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
return redis.call('PEXPIRE', KEYS[1], ARGV[1])`;

/** Sends one command to Redis (rejects when it cannot). */
export type Send = (
  args: readonly (string | Buffer)[],
  options?: typeof BUFFERS,
) => Promise<unknown>;

/**
 * The same answer, whose head and chunks are also appended to `stream` as
 * they pass. Publishing never holds the answer back and never fails it: a
 * chunk Redis does not take is only missing for the readers.
 *
 * @param send sends a command on the lock holder's connection
 * @param stream the stream's key
 * @param answer the upstream answer
 * @returns an answer with the same status, headers and bytes
 */
export function publishAnswer(send: Send, stream: string, answer: Response): Response {
  const add = (ttlMs: number, fields: (string | Buffer)[]) =>
    send(["EVAL", ADD, "1", stream, String(ttlMs), ...fields]).catch(() => {});
  const pairs: [string, string][] = [];
  answer.headers.forEach((value, name) => pairs.push([name, value])); // for...of is 20× slower
  const headers = JSON.stringify(pairs);
  add(LIVE_TTL_MS, ["k", "head", "status", String(answer.status), "headers", headers]);
  const end = (ok: boolean) => add(ENDED_TTL_MS, ["k", "end", "ok", ok ? "1" : "0"]);
  const reader = answer.body?.getReader();
  if (!reader) {
    end(true);
    return answer;
  }
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (e) {
        end(false);
        return controller.error(e);
      }
      if (next.done) {
        end(true);
        return controller.close();
      }
      const chunk = next.value;
      add(LIVE_TTL_MS, ["k", "data", "b", toBuffer(chunk)]);
      controller.enqueue(chunk);
    },
    cancel(reason) {
      end(false);
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: answer.status, headers: answer.headers });
}

/** What a reader needs: its own connection (a blocking read holds it), and a liveness check. */
export interface FeedSource {
  /** Sends a command on a connection of the reader's own; `close` ends it. */
  readonly send: Send;
  /** Closes the reader's connection. */
  close(): void;
  /** Whether the writer still holds its lock; false also when Redis cannot say. */
  alive(): Promise<boolean>;
  /** How long one read blocks before the writer's lock is checked, in ms. */
  readonly pollMs: number;
}

/** One stream entry: its kind and fields. */
interface Item {
  readonly kind: string;
  readonly fields: ReadonlyMap<string, Buffer>;
}

/**
 * Reads an answer another instance is publishing on `stream`.
 *
 * @param source the reader's connection and the writer's liveness check
 * @param stream the stream's key
 * @param signal stops reading (the body then breaks off)
 * @returns the answer once its head is there, its body streaming the rest;
 *   undefined when the writer is gone before its head
 * @throws when Redis cannot be read (the connection is closed)
 */
export async function followAnswer(
  source: FeedSource,
  stream: string,
  signal: AbortSignal,
): Promise<Response | undefined> {
  const items = itemsOf(source, stream, signal);
  const stop = () => source.close();
  signal.addEventListener("abort", stop, { once: true });
  const finish = () => {
    signal.removeEventListener("abort", stop);
    source.close();
  };
  let head: Item | undefined;
  try {
    head = (await items.next()).value;
  } catch (e) {
    finish();
    throw e;
  }
  if (head?.kind !== "head") {
    finish();
    return undefined;
  }
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let item: Item | undefined;
      try {
        item = (await items.next()).value;
      } catch (e) {
        finish();
        return controller.error(e);
      }
      const chunk = item?.kind === "data" ? item.fields.get("b") : undefined;
      if (chunk) return controller.enqueue(toBytes(chunk));
      finish();
      if (item?.kind === "end" && text(item, "ok") === "1") return controller.close();
      controller.error(
        new Error(item ? "The instance answering this request lost its upstream answer" : GONE),
      );
    },
    cancel: finish,
  });
  const headers = new Headers(JSON.parse(text(head, "headers") || "[]"));
  return new Response(body, { status: Number(text(head, "status")), headers });
}

const GONE = "The instance answering this request stopped mid-answer";

/** The stream's entries in order, ending when the writer is gone (or the signal aborts). */
async function* itemsOf(
  source: FeedSource,
  stream: string,
  signal: AbortSignal,
): AsyncGenerator<Item, undefined> {
  let last = "0";
  const read = async (block: boolean) => {
    const wait = block ? ["BLOCK", String(source.pollMs)] : [];
    const reply = await source.send(
      ["XREAD", "COUNT", BATCH, ...wait, "STREAMS", stream, last],
      BUFFERS,
    );
    const entries = entriesOf(reply);
    if (entries.length > 0) last = entries.at(-1)!.id;
    return entries;
  };
  while (!signal.aborted) {
    let entries = await read(true);
    if (entries.length === 0 && !await source.alive()) {
      // The end mark goes before the lock: one more look tells a finished writer from a dead one.
      entries = await read(false);
      if (entries.length === 0) return undefined;
    }
    for (const entry of entries) yield entry.item;
  }
  return undefined;
}

/**
 * XREAD's reply as entries: `[[stream, entries]]` in RESP 2, `{stream: entries}`
 * in RESP 3, null when nothing came; each entry `[id, [field, value, …]]`.
 */
function entriesOf(reply: unknown): { readonly id: string; readonly item: Item }[] {
  if (reply === null || typeof reply !== "object") return [];
  const streams = Array.isArray(reply)
    ? reply.map((pair) => (pair as [unknown, unknown])[1])
    : reply instanceof Map
    ? [...reply.values()]
    : Object.values(reply);
  const entries = (streams[0] ?? []) as [Buffer, Buffer[]][];
  return entries.map(([id, flat]) => {
    const fields = new Map<string, Buffer>();
    for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), flat[i + 1]!);
    return { id: String(id), item: { kind: String(fields.get("k") ?? ""), fields } };
  });
}

function text(item: Item, field: string): string {
  return item.fields.get(field)?.toString("utf8") ?? "";
}
