/**
 * A map that forgets its least recently used entries once it holds more than
 * a byte budget: every in-memory cache in the proxy is one of these, so none
 * grows without bound.
 *
 * @module
 */

/** A least-recently-used map bounded by the summed size of its values. */
export class Lru<K, V> {
  #map = new Map<K, { value: V; size: number }>();
  #bytes = 0;
  #maxBytes: number;

  /** @param maxBytes the budget; an entry larger than it is never kept */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes currently held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Number of entries held. */
  get size(): number {
    return this.#map.size;
  }

  /**
   * Reads a value and marks it most recently used.
   *
   * @param key the key
   * @returns the value, or undefined
   */
  get(key: K): V | undefined {
    const slot = this.#map.get(key);
    if (!slot) return undefined;
    this.#map.delete(key);
    this.#map.set(key, slot);
    return slot.value;
  }

  /**
   * Stores a value, evicting the least recently used ones beyond the budget.
   *
   * @param key the key
   * @param value the value
   * @param size what the entry costs, in bytes
   */
  set(key: K, value: V, size: number): void {
    this.delete(key);
    if (size > this.#maxBytes) return;
    this.#map.set(key, { value, size });
    this.#bytes += size;
    for (const [oldKey] of this.#map) {
      if (this.#bytes <= this.#maxBytes) break;
      this.delete(oldKey);
    }
  }

  /** Forgets every entry. */
  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
  }

  /**
   * Forgets one entry.
   *
   * @param key the key
   */
  delete(key: K): void {
    const slot = this.#map.get(key);
    if (!slot) return;
    this.#map.delete(key);
    this.#bytes -= slot.size;
  }
}
