/**
 * A map that forgets its least recently used entries once it holds more than
 * a byte budget: every in-memory cache in the proxy is one of these, so none
 * grows without bound.
 *
 * It is a second-chance ("clock") LRU: a read only marks the entry used, so
 * the hit path never reorders the map; eviction walks from the oldest entry,
 * giving each used one a second chance at the back.
 *
 * @module
 */

interface Slot<V> {
  value: V;
  size: number;
  used: boolean;
}

/** A least-recently-used map bounded by the summed size of its values. */
export class Lru<K, V> {
  #map = new Map<K, Slot<V>>();
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
   * Reads a value and marks it used.
   *
   * @param key the key
   * @returns the value, or undefined
   */
  get(key: K): V | undefined {
    const slot = this.#map.get(key);
    if (!slot) return undefined;
    slot.used = true;
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
    this.#map.set(key, { value, size, used: false });
    this.#bytes += size;
    while (this.#bytes > this.#maxBytes) this.#evictOne();
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

  /** Forgets every entry. */
  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
  }

  /** Evicts the oldest unused entry; used ones met on the way move to the back, unmarked. */
  #evictOne(): void {
    for (const [key, slot] of this.#map) {
      this.#map.delete(key);
      if (!slot.used) {
        this.#bytes -= slot.size;
        return;
      }
      slot.used = false;
      this.#map.set(key, slot);
    }
  }
}
