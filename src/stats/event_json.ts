/**
 * A call event as JSON, fast: the monitor encodes every event while someone
 * watches, and `JSON.stringify` spent most of that re-encoding the same usage
 * object and snippet of a cached entry on every hit. This builds the same
 * JSON from a template, with the JSON of usage objects (a hit's is the stored
 * entry's own object) and of strings remembered.
 *
 * @module
 */
import { type CallEvent } from "./events.ts";
import { HIT_KINDS } from "../values/call_kind.ts";
import type { Usage } from "../values/usage.ts";

/** Strings remembered (models, paths, snippets); beyond this, encoded each time. */
const MAX_STRINGS = 4096;

const usageJson = new WeakMap<Usage, string>();
const stringJson = new Map<string, string>();

/**
 * Encodes an event exactly as `JSON.stringify` would encode {@link monitorEvent}'s object.
 *
 * @param event the call event
 * @returns its JSON text
 */
export function eventJson(event: CallEvent): string {
  return `{"seq":${event.seq},"time":${str(event.time)},"kind":"${event.kind}",` +
    `"model":${nullable(event.model)},"path":${str(event.path)},"status":${event.status},` +
    `"bytes":${event.bytes},"durationMs":${num(event.durationMs)},"usage":${usage(event.usage)},` +
    `"dollars":${num(event.dollars)},"snippet":${str(event.snippet)},"key":${
      nullable(event.key)
    },` +
    `"t":${num(Date.parse(event.time))},"type":"${event.kind}","from_cache":${
      HIT_KINDS.has(event.kind)
    },` +
    `"in":${event.usage.input_tokens},"out":${event.usage.output_tokens},` +
    `"usd":${num(event.dollars)},"ms":${num(Math.round(event.durationMs))}` +
    (event.namespace === undefined ? "}" : `,"namespace":${str(event.namespace)}}`);
}

/** A `/monitor` event: the call event plus the fields llm-cache-proxy v2's events had. */
export interface MonitorEvent extends CallEvent {
  /** When the call ended, in ms since the epoch. */
  readonly t: number;
  /** The kind, under v2's name. */
  readonly type: CallEvent["kind"];
  /** True for a call answered from the cache. */
  readonly "from_cache": boolean;
  /** Input and output tokens of the answer. */
  readonly in: number;
  readonly out: number;
  /** The dollars, under v2's name. */
  readonly usd: number;
  /** The duration in whole ms. */
  readonly ms: number;
}

/**
 * The object a `/monitor` event encodes (what {@link eventJson} writes, built the slow way).
 *
 * @param event the call event
 * @returns the event with v2's fields
 */
export function monitorEvent(event: CallEvent): MonitorEvent {
  return {
    ...event,
    t: Date.parse(event.time),
    type: event.kind,
    "from_cache": HIT_KINDS.has(event.kind),
    in: event.usage.input_tokens,
    out: event.usage.output_tokens,
    usd: event.dollars,
    ms: Math.round(event.durationMs),
  };
}

function usage(value: Usage): string {
  let json = usageJson.get(value);
  if (json === undefined) usageJson.set(value, json = JSON.stringify(value));
  return json;
}

function str(value: string): string {
  let json = stringJson.get(value);
  if (json === undefined) {
    json = JSON.stringify(value);
    if (stringJson.size < MAX_STRINGS) stringJson.set(value, json);
  }
  return json;
}

function nullable(value: string | null): string {
  return value === null ? "null" : str(value);
}

/** As JSON writes numbers: NaN and infinities become null. */
function num(value: number): string {
  return Number.isFinite(value) ? String(value) : "null";
}
