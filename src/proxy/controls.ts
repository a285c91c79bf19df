/**
 * Per-request controls: `x-cache-*` request headers that change how one call
 * uses the cache. They are read here, validated (a bad value is a 400 that
 * names the header), and never forwarded upstream.
 *
 * @module
 */
import { CACHE_MODES, type CacheMode } from "../config_vars.ts";
import { HttpError } from "./errors.ts";

/** What one request asks of the cache. */
export interface Controls {
  /** `x-cache-bypass: 1`: go upstream, neither read nor write the cache. */
  readonly bypass: boolean;
  /** `x-cache-refresh: 1`: go upstream and replace the stored answer. */
  readonly refresh: boolean;
  /** `x-cache-ttl: <seconds>`: how long what this call stores stays fresh. */
  readonly ttlSec: number | undefined;
  /** `x-cache-namespace: <name>`: the key space, `""` by default. */
  readonly namespace: string;
  /** `x-cache-mode`: overrides `CACHE_MODE` for this call. */
  readonly mode: CacheMode | undefined;
  /** `x-cache-replay: realtime`: replay a stream at the pace it was recorded. */
  readonly realtime: boolean;
}

/** A request without any control header. */
export const NO_CONTROLS: Controls = {
  bypass: false,
  refresh: false,
  ttlSec: undefined,
  namespace: "",
  mode: undefined,
  realtime: false,
};

const YES = new Set(["1", "true", "yes"]);
const NO = new Set(["", "0", "false", "no"]);
const NAMESPACE = /^[A-Za-z0-9._:-]{1,64}$/;
const MAX_TTL_SEC = 10 * 365 * 86400;

/**
 * Reads the control headers of a request.
 *
 * @param headers the request headers
 * @returns the controls; {@link NO_CONTROLS} when there are none
 * @throws {HttpError} 400 naming the header and what it accepts
 */
export function readControls(headers: Headers): Controls {
  const bypass = headers.get("x-cache-bypass");
  const refresh = headers.get("x-cache-refresh");
  const ttl = headers.get("x-cache-ttl");
  const namespace = headers.get("x-cache-namespace");
  const mode = headers.get("x-cache-mode");
  const replay = headers.get("x-cache-replay");
  if (
    bypass === null && refresh === null && ttl === null && namespace === null && mode === null &&
    replay === null
  ) {
    return NO_CONTROLS; // the common case: a hit pays for six lookups and nothing else
  }
  return {
    bypass: yesNo("x-cache-bypass", bypass),
    refresh: yesNo("x-cache-refresh", refresh),
    ttlSec: ttl === null ? undefined : seconds(ttl),
    namespace: namespace === null ? "" : namespaceOf(namespace),
    mode: mode === null ? undefined : modeOf(mode),
    realtime: replay === null ? false : pacing(replay),
  };
}

function yesNo(name: string, value: string | null): boolean {
  const v = (value ?? "").trim().toLowerCase();
  if (YES.has(v)) return true;
  if (NO.has(v)) return false;
  throw invalid(`${name}: "${value}" must be 1 or 0 (true/false, yes/no)`);
}

function seconds(value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!(n >= 1 && n <= MAX_TTL_SEC)) {
    throw invalid(`x-cache-ttl: "${value}" must be whole seconds from 1 to ${MAX_TTL_SEC}`);
  }
  return n;
}

function namespaceOf(value: string): string {
  const v = value.trim();
  if (!NAMESPACE.test(v)) {
    throw invalid(
      `x-cache-namespace: "${value}" must be 1 to 64 letters, digits, ".", "_", ":" or "-"`,
    );
  }
  return v;
}

function modeOf(value: string): CacheMode {
  const v = value.trim().toLowerCase();
  if ((CACHE_MODES as readonly string[]).includes(v)) return v as CacheMode;
  throw invalid(`x-cache-mode: "${value}" must be one of ${CACHE_MODES.join(", ")}`);
}

function pacing(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === "realtime") return true;
  if (v === "instant" || v === "") return false;
  throw invalid(`x-cache-replay: "${value}" must be realtime or instant`);
}

function invalid(message: string): HttpError {
  return new HttpError(400, "invalid_request_error", message);
}
