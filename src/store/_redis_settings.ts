/**
 * The settings every instance on one Redis shares (private to `redis.ts`):
 * the entry cap that the first instance wrote, and the longest stale window
 * any instance asked for, so that no instance evicts or prunes what the
 * others keep. A local value that differs is said once, at start.
 *
 * @module
 */

/** The fleet-wide settings, as the `settings` script returns them. */
export interface FleetSettings {
  /** Entries kept before the least recently hit are evicted. */
  readonly maxEntries: number;
  /** How long past expiry an entry stays, in ms. */
  readonly staleMs: number;
}

/**
 * What to tell the operator when this instance's settings differ from the fleet's.
 *
 * @param local this instance's settings
 * @param fleet what Redis holds
 * @param key the settings hash's key, for the way to change them
 * @returns one line per difference that matters
 */
export function settingsNotes(
  local: FleetSettings,
  fleet: FleetSettings,
  key: string,
): string[] {
  const notes: string[] = [];
  if (fleet.maxEntries !== local.maxEntries) {
    notes.push(
      `CACHE_MAX_ENTRIES is ${local.maxEntries} here, but the fleet's Redis caps entries at ` +
        `${fleet.maxEntries} (set by the first instance): using ${fleet.maxEntries}. To change ` +
        `it for every instance: redis-cli HSET ${key} maxEntries N, then restart them`,
    );
  }
  if (fleet.staleMs > local.staleMs) {
    notes.push(
      `CACHE_STALE_SEC is ${local.staleMs / 1000} here, but another instance keeps entries ` +
        `${fleet.staleMs / 1000} s past expiry: they stay that long, for every instance`,
    );
  }
  return notes;
}
