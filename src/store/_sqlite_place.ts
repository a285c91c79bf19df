/**
 * The database file on disk (private to `store/`): which file is at a path
 * now, and moving a corrupt one aside so a fresh one can take its place.
 *
 * @module
 */

/**
 * Which file is at `path` now: device and inode, so that a file deleted or
 * replaced under an open connection is noticed (only whether one exists where
 * the system has no inodes).
 *
 * @param path the database file
 * @returns an identity to compare, or undefined when there is no file
 */
export function fileIdentity(path: string): string | undefined {
  try {
    const info = Deno.statSync(path);
    return `${info.dev}:${info.ino ?? ""}`;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/**
 * Moves a database that cannot be read out of the way, with its `-wal` and
 * `-shm` files, as `<name>.corrupt-<time>` (`-wal`, `-shm`), so that a fresh one
 * can take its place and the old one stays for inspection.
 *
 * @param path the database file
 * @param at when, for the new name
 * @returns the new path of the database file
 */
export function setAside(path: string, at: Date): string {
  const stamp = at.toISOString().replace(/\.\d+Z$/, "Z").replaceAll(":", "-");
  const aside = `${path}.corrupt-${stamp}`;
  Deno.renameSync(path, aside);
  for (const suffix of ["-wal", "-shm"]) {
    try {
      Deno.renameSync(path + suffix, aside + suffix);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return aside;
}
