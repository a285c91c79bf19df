/**
 * The file operations several commands share: does a path exist, and
 * replacing a file so that a reader sees the old one or the new one, never
 * half of one.
 *
 * @module
 */

/**
 * Tells whether `path` exists.
 *
 * @param path a file or folder
 * @returns false when it does not exist
 * @throws {Deno.errors.PermissionDenied} and other errors than "not found"
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Writes `text` to `path` through a temporary file and a rename, creating the
 * folder when missing. The mode is set explicitly (a create is masked by the
 * umask).
 *
 * @param path the file to replace
 * @param text its new content
 * @param mode its permission bits, e.g. 0o600 for a file holding a key
 */
export async function replaceFile(path: string, text: string, mode: number): Promise<void> {
  const folder = path.slice(0, Math.max(0, path.lastIndexOf("/"))) || ".";
  await Deno.mkdir(folder, { recursive: true, mode: 0o700 });
  const temp = `${path}.${Deno.pid}.tmp`;
  try {
    await Deno.writeTextFile(temp, text, { mode });
    if (Deno.build.os !== "windows") await Deno.chmod(temp, mode);
    await Deno.rename(temp, path);
  } catch (e) {
    await Deno.remove(temp).catch(() => {});
    throw e;
  }
}
