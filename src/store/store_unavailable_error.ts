/**
 * The error of a call that a fail-open store did not try because its backend is down.
 *
 * @module
 */

/** Rejects a call that was not tried because the store is down. */
export class StoreUnavailableError extends Error {
  /** @param cause the error that began the outage */
  constructor(cause: unknown) {
    super("Cache store is unreachable: the call was skipped until it is back", { cause });
    this.name = "StoreUnavailableError";
  }
}
