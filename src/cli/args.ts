/**
 * Flag parsing shared by every command: `node:util` `parseArgs` in strict
 * mode, with mistakes turned into a {@link UsageError} that `main` prints as
 * one line with a pointer to the command's `--help` (exit code 2).
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** A mistake on the command line; `main` prints it and exits with 2. */
export class UsageError extends Error {
  /** @param message what is wrong, without the command name */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses `args` against `options`, allowing at most `maxPositionals` operands.
 *
 * @param args the flags after the command name
 * @param options the flags the command takes
 * @param maxPositionals how many operands it takes
 * @returns the parsed flags and operands
 * @throws {UsageError} on an unknown flag, a missing value or extra operands
 * @example
 * ```ts
 * const { values } = parseFlags(["--json"], { json: { type: "boolean" } });
 * ```
 */
export function parseFlags<const O extends Options>(
  args: string[],
  options: O,
  maxPositionals = 0,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true }>> {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split(/\.(?:\s|$)/)[0]!);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument "${parsed.positionals[maxPositionals]}"`);
  }
  return parsed;
}

/**
 * Reads a whole-number flag.
 *
 * @param name the flag, for the error
 * @param raw its value, if given
 * @param min the smallest allowed
 * @param max the largest allowed
 * @returns the number, or undefined when the flag was not given
 * @throws {UsageError} when it is not a whole number in range
 */
export function wholeFlag(
  name: string,
  raw: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!(n >= min && n <= max)) {
    throw new UsageError(`--${name} "${raw}" must be a whole number from ${min} to ${max}`);
  }
  return n;
}
