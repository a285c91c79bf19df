/**
 * What every subcommand is, for the command table in `mod.ts` and the
 * modules that define several commands at once.
 *
 * @module
 */

/** A subcommand: parses its own flags and returns an exit code. */
export interface Command {
  /** One line for the command list. */
  readonly summary: string;
  /** The text `<command> --help` prints. */
  readonly help: string;
  /**
   * Runs the command; throws `UsageError` for a bad command line and
   * `ConfigError` for a bad configuration.
   */
  run(args: string[]): Promise<number>;
}
