/**
 * The settings every instance on one Redis shares (private to `redis.ts`):
 * the entry cap that the first instance wrote, and the longest stale window
 * any instance asked for, so that no instance evicts or prunes what the
 * others keep. A local value that differs is said once.
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

/** Where the fleet's settings come from, and where a difference is said. */
export interface SettingsSource {
  /** This instance's own settings. */
  readonly local: FleetSettings;
  /** The settings hash's key, for the way to change them. */
  readonly key: string;
  /** Runs the `settings` script with these ARGV after the prefix: {maxEntries, staleMs}. */
  readonly run: (argv: string[]) => Promise<unknown>;
  /** Told once per difference. */
  readonly note: ((message: string) => void) | undefined;
}

/**
 * The fleet's settings, read from Redis (and written there by the first
 * instance) on the first call; a failed read is tried again on the next.
 *
 * @param source this instance's settings, and how to reach Redis
 * @returns a getter of the settings
 */
export function fleetSettings(source: SettingsSource): () => Promise<FleetSettings> {
  let fleet: Promise<FleetSettings> | undefined;
  const read = async (): Promise<FleetSettings> => {
    const { local } = source;
    const reply = await source.run([String(local.maxEntries), String(local.staleMs)]);
    const [max, stale] = reply as [string, string];
    const settings = { maxEntries: Number(max), staleMs: Number(stale) };
    for (const note of settingsNotes(local, settings, source.key)) source.note?.(note);
    return settings;
  };
  return () =>
    fleet ??= read().catch((e) => {
      fleet = undefined;
      throw e;
    });
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
