/**
 * The parts of a `/v1/messages` request that decide its cache key, for the
 * key's tests.
 *
 * @module
 */
import type { KeyRequest } from "../../src/cache/key.ts";

/**
 * A `POST /v1/messages` with `anthropic-version: 2023-06-01`, no betas, the
 * default namespace and a small JSON body, changed by `overrides`.
 *
 * @param overrides parts to replace; `json`: a body to encode as JSON
 * @returns the request parts
 */
export function keyRequest(overrides: Partial<KeyRequest> & { json?: unknown } = {}): KeyRequest {
  const { json, ...rest } = overrides;
  return {
    method: "POST",
    path: "/v1/messages",
    anthropicVersion: "2023-06-01",
    anthropicBeta: null,
    namespace: "",
    body: new TextEncoder().encode(
      JSON.stringify(json ?? { model: "m", messages: [{ role: "user", content: "hi" }] }),
    ),
    ...rest,
  };
}
