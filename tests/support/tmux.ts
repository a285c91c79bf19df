/**
 * A pseudo-terminal for tests of what a person types: a private tmux server
 * (its socket in the test's folder) running the CLI in one pane, with
 * send-keys to type and capture-pane to read the screen.
 *
 * @module
 */
import { RUN_FLAGS } from "../../src/cli/self.ts";
import { eventually } from "./harness.ts";
import { ROOT } from "./process.ts";

const decoder = new TextDecoder();

/** One tmux server with one pane; `await using` it to kill the server. */
export class Tmux implements AsyncDisposable {
  /** The server's socket. */
  readonly socket: string;

  private constructor(socket: string) {
    this.socket = socket;
  }

  /**
   * Starts a server whose one pane runs `script` (see {@link cliScript}).
   *
   * @param folder where the socket lives
   * @param script a shell script to run in the pane
   * @param size columns and rows
   * @returns the server
   */
  static async start(
    folder: string,
    script: string,
    size: { columns: number; rows: number } = { columns: 120, rows: 30 },
  ): Promise<Tmux> {
    const tmux = new Tmux(`${folder}/tmux.sock`);
    await tmux.run(
      "new-session",
      "-d",
      "-x",
      String(size.columns),
      "-y",
      String(size.rows),
      "sh",
      script,
    );
    return tmux;
  }

  /**
   * Runs a tmux command against this server.
   *
   * @param args e.g. `send-keys`, `Enter`
   * @returns what it printed
   * @throws {Error} when tmux fails
   */
  async run(...args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-S", this.socket, "-f", "/dev/null", ...args],
    }).output();
    if (!out.success) throw new Error(`tmux ${args[0]}: ${decoder.decode(out.stderr)}`);
    return decoder.decode(out.stdout);
  }

  /**
   * Waits until the pane shows text that `test` accepts.
   *
   * @param what what is awaited, for the error
   * @param test accepts the pane's text
   * @param timeoutMs how long to wait
   * @returns the pane's text
   * @throws {Error} with the screen, after the timeout
   */
  async screen(what: string, test: (pane: string) => boolean, timeoutMs = 15_000): Promise<string> {
    let pane = "";
    try {
      return await eventually(what, async () => {
        pane = await this.run("capture-pane", "-p", "-J");
        return test(pane) ? pane : undefined;
      }, timeoutMs);
    } catch (e) {
      throw new Error(`${(e as Error).message}; the screen:\n${pane}`);
    }
  }

  /** Kills the server and everything in its pane. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.run("kill-server").catch(() => {});
  }
}

/**
 * Writes a shell script that runs `llm-cache-proxy <args>` from source with the
 * binary's flags and `env`, then prints `exit=<code>` and the terminal's
 * canonical/echo modes (to check they were restored), and waits.
 *
 * @param folder where the script is written
 * @param env the whole environment of the command
 * @param args the command line after the program name
 * @returns the script's path
 */
export async function cliScript(
  folder: string,
  env: Record<string, string>,
  args: readonly string[],
): Promise<string> {
  const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
  const lines = [
    ...Object.entries(env)
      .filter(([name]) => name !== "TERM" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      .map(([name, value]) => `export ${name}=${quote(value)}`),
    `cd ${quote(ROOT)}`,
    [Deno.execPath(), "run", ...RUN_FLAGS, "src/main.ts", ...args].map(quote).join(" "),
    'echo "exit=$?"',
    `echo "modes: $(stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' ')"`,
    "exec sleep 60",
  ];
  const path = `${folder}/${args[0] ?? "cli"}.sh`;
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return path;
}
