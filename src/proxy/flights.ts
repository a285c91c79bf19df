/**
 * The flights under way, by cache key: where a request finds the upstream
 * call an identical one already made, and where a miss starts its own.
 *
 * @module
 */
import {
  Flight,
  type FlightEnd,
  type FlightLimits,
  NO_LIMITS,
  type UpstreamCall,
} from "./flight.ts";

/** The flights under way, by cache key. */
export class Flights<T = void> {
  /** The bounds of every flight started here. */
  readonly limits: FlightLimits;
  #byKey = new Map<string, Flight<T>>();

  /** @param limits the timeout and the recording cap of each flight @default NO_LIMITS */
  constructor(limits: FlightLimits = NO_LIMITS) {
    this.limits = limits;
  }

  /**
   * The flight for `key` that a new client may join, if any.
   *
   * @param key the cache key
   * @returns the flight to join, or undefined
   */
  get(key: string): Flight<T> | undefined {
    const flight = this.#byKey.get(key);
    return flight?.joinable ? flight : undefined;
  }

  /**
   * Starts a flight for `key`; it is forgotten once its end handler has run,
   * so a request arriving meanwhile joins it rather than calling upstream again.
   *
   * @param key the cache key
   * @param call makes the upstream request
   * @param onEnd receives the recording when the body ends
   * @param keep asked when the last client leaves whether the call goes on (see {@link Flight})
   * @returns the new flight
   */
  start(
    key: string,
    call: UpstreamCall,
    onEnd: FlightEnd<T>,
    keep?: () => Promise<boolean>,
  ): Flight<T> {
    const flight: Flight<T> = new Flight(
      call,
      async (recording, end) => {
        try {
          return await onEnd(recording, end);
        } finally {
          if (this.#byKey.get(key) === flight) this.#byKey.delete(key);
        }
      },
      this.limits,
      keep,
    );
    this.#byKey.set(key, flight);
    return flight;
  }
}
