/**
 * A real, tiny disk for storage-failure tests: a tmpfs of a few KiB mounted on
 * a temporary folder, so "No space left on device" and "Read-only file system"
 * come from the kernel, not from a mock. Mounting needs root on Linux (`.ci/run`
 * runs as root); elsewhere {@link NO_MOUNT} says why, and the tests that need
 * it are ignored with that reason printed once.
 *
 * @module
 */

/** Why no tmpfs can be mounted here, or undefined when one can. */
export const NO_MOUNT: string | undefined = mountRefusal();
if (NO_MOUNT) {
  console.error(
    `%cSkipping the tests that fill a real disk: ${NO_MOUNT} (they mount a tiny tmpfs as root)`,
    "color: yellow",
  );
}

/**
 * Options for `Deno.test`: ignored where a tmpfs cannot be mounted.
 *
 * @returns `{ ignore }`
 */
export function needsMount(): { ignore: boolean } {
  return { ignore: NO_MOUNT !== undefined };
}

/**
 * Mounts a tmpfs of `kib` KiB on a new temporary folder; `await using` unmounts and removes it.
 *
 * @param kib its size
 * @param options `readOnly` mounts it read-only (and empty)
 * @returns its path
 */
export async function tinyDisk(
  kib: number,
  options: { readOnly?: boolean } = {},
): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "tiny_disk_" });
  const flags = `size=${kib}k${options.readOnly ? ",ro" : ""}`;
  const failed = run("mount", ["-t", "tmpfs", "-o", flags, "tmpfs", path]);
  if (failed) throw new Error(`cannot mount a tmpfs on ${path}: ${failed}`);
  return {
    path,
    async [Symbol.asyncDispose]() {
      run("umount", [path]);
      await Deno.remove(path, { recursive: true });
    },
  };
}

function mountRefusal(): string | undefined {
  if (Deno.build.os !== "linux") return `mounting a tmpfs needs Linux, not ${Deno.build.os}`;
  const dir = Deno.makeTempDirSync({ prefix: "tmpfs_probe_" });
  try {
    const failed = run("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]);
    if (failed) return `"mount -t tmpfs" is not permitted (${failed})`;
    run("umount", [dir]);
    return undefined;
  } finally {
    Deno.removeSync(dir);
  }
}

/** Runs a program; returns its error output when it fails. */
function run(program: string, args: string[]): string | undefined {
  try {
    const out = new Deno.Command(program, { args, stdout: "null", stderr: "piped" }).outputSync();
    return out.success ? undefined : new TextDecoder().decode(out.stderr).trim();
  } catch (e) {
    return (e as Error).message;
  }
}
