/**
 * Errors as the Anthropic API shapes them, so that SDKs and Claude Code show
 * the proxy's own failures the way they show the API's.
 *
 * @module
 */

/** The `error.type` values the proxy itself sends. */
export type ApiErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "not_found_error"
  | "request_too_large"
  | "api_error"
  | "timeout_error";

/** A failure that becomes an HTTP response with an Anthropic-shaped body. */
export class HttpError extends Error {
  /**
   * @param status the HTTP status
   * @param type the Anthropic `error.type`
   * @param message what went wrong and what to do next
   */
  constructor(readonly status: number, readonly type: ApiErrorType, message: string) {
    super(message);
    this.name = "HttpError";
  }
}

/**
 * The error as the API's own SSE `error` event, for a stream whose head has
 * already been sent (the API breaks off with one, e.g. `overloaded_error`).
 *
 * @param error the failure
 * @returns `event: error`, its JSON data line and the blank line
 */
export function errorEvent(error: HttpError): string {
  return `event: error\ndata: ${JSON.stringify(errorBody(error))}\n\n`;
}

/**
 * Builds `{"type":"error","error":{"type":…,"message":…}}` with a status.
 *
 * @param error the failure
 * @param headers extra response headers
 * @returns the JSON response
 */
export function errorResponse(error: HttpError, headers: HeadersInit = {}): Response {
  const out = new Headers(headers);
  out.set("content-type", "application/json");
  return new Response(JSON.stringify(errorBody(error)), { status: error.status, headers: out });
}

/**
 * The 504 for an upstream that stayed silent past `CACHE_UPSTREAM_TIMEOUT_SEC`.
 *
 * @param ms how long it was given
 * @returns the error
 */
export function silentUpstream(ms: number): HttpError {
  return new HttpError(
    504,
    "timeout_error",
    `The Anthropic API sent nothing for ${ms / 1000} s, so the proxy closed the call ` +
      "(CACHE_UPSTREAM_TIMEOUT_SEC). Retry; raise CACHE_UPSTREAM_TIMEOUT_SEC for long answers",
  );
}

function errorBody(error: HttpError) {
  return { type: "error", error: { type: error.type, message: error.message } };
}
