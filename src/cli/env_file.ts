/**
 * Edits `$CACHE_HOME/.env`, the config file `setup` writes and `on`/`off`
 * update: values are replaced in place so comments and order survive, and
 * the file is replaced atomically with mode 0600 (it holds the API key).
 *
 * @module
 */
import { replaceFile } from "../fs.ts";

/** New values by variable name; `undefined` removes the variable. */
export type EnvUpdate = Readonly<Record<string, string | undefined>>;

/**
 * Reads the file, or returns `""` when there is none.
 *
 * @param path the `.env` file
 * @returns its text
 */
export async function readEnvText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "";
    throw e;
  }
}

/**
 * Applies `update` to `.env` text: an existing `NAME=` line is replaced (or
 * removed), a new name is appended.
 *
 * @param text the current file text
 * @param update the values to set or remove
 * @returns the new text, ending with a newline
 */
export function applyEnvUpdate(text: string, update: EnvUpdate): string {
  const pending = new Map(Object.entries(update));
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    const name = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line)?.[1];
    if (name === undefined || !pending.has(name)) {
      lines.push(line);
      continue;
    }
    const value = pending.get(name);
    pending.delete(name);
    if (value !== undefined) lines.push(`${name}=${quote(value)}`);
  }
  while (lines.length > 0 && lines.at(-1) === "") lines.pop();
  for (const [name, value] of pending) {
    if (value !== undefined) lines.push(`${name}=${quote(value)}`);
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

/**
 * Applies `update` to the file at `path`, creating it (and its folder) when
 * missing; the result has mode 0600.
 *
 * @param path the `.env` file
 * @param update the values to set or remove
 * @returns the new text
 */
export async function updateEnvFile(path: string, update: EnvUpdate): Promise<string> {
  const text = applyEnvUpdate(await readEnvText(path), update);
  await writePrivateFile(path, text);
  return text;
}

/**
 * Writes `text` to `path` through a temporary file and a rename, so a reader
 * sees the old file or the new one, never half of one; mode 0600, and the
 * folder is created 0700 when missing.
 *
 * @param path the file to replace
 * @param text its new content
 */
export function writePrivateFile(path: string, text: string): Promise<void> {
  return replaceFile(path, text, 0o600);
}

/** Plain values stay bare; anything dotenv would misread is single-quoted. */
function quote(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]*$/.test(value)) return value;
  if (!value.includes("'") && !value.includes("\n")) return `'${value}'`;
  return JSON.stringify(value);
}
