/**
 * The terminal side of `explore`: raw mode, the alternate screen and the
 * cursor, keys decoded from what the terminal sends, window resizes and stop
 * signals, and whole screens written out. The browser in `explore_screen.ts`
 * only sees key names and draws lines.
 *
 * @module
 */

/** Escape sequences of the keys the browser uses, after the ESC. */
const ESCAPES: Readonly<Record<string, string>> = {
  "[A": "up",
  "[B": "down",
  "[C": "right",
  "[D": "left",
  OA: "up",
  OB: "down",
  OC: "right",
  OD: "left",
  "[5~": "pageup",
  "[6~": "pagedown",
  "[H": "home",
  "[F": "end",
  OH: "home",
  OF: "end",
  "[1~": "home",
  "[4~": "end",
  "[7~": "home",
  "[8~": "end",
};

const CONTROLS: Readonly<Record<string, string>> = {
  "\r": "enter",
  "\n": "enter",
  "\x7f": "backspace",
  "\b": "backspace",
  "\x03": "ctrl-c",
  "\x15": "ctrl-u",
};

/**
 * Splits what a terminal in raw mode sent into keys: a character as itself,
 * others by name (`up`, `down`, `left`, `right`, `pageup`, `pagedown`, `home`,
 * `end`, `enter`, `esc`, `backspace`, `ctrl-c`, `ctrl-u`). Other escape
 * sequences and control characters are dropped.
 *
 * @param text the bytes read, decoded
 * @returns the keys in order
 */
export function decodeKeys(text: string): string[] {
  const keys: string[] = [];
  for (let i = 0; i < text.length;) {
    if (text[i] === "\x1b") {
      // deno-lint-ignore no-control-regex
      const seq = /^\x1b(\[[0-9;]*[~A-Za-z]|O[A-Za-z])/.exec(text.slice(i));
      const name = seq ? ESCAPES[seq[1]!] : "esc";
      if (name) keys.push(name);
      i += seq ? seq[0].length : 1;
      continue;
    }
    const char = String.fromCodePoint(text.codePointAt(i)!);
    const name = CONTROLS[char];
    if (name) keys.push(name);
    else if (char >= " ") keys.push(char);
    i += char.length;
  }
  return keys;
}

/** Terminal modes: the alternate screen with the cursor hidden, and back. */
const ENTER = "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J";
const LEAVE = "\x1b[?25h\x1b[?1049l";
const STOP_SIGNALS: readonly Deno.Signal[] = ["SIGTERM", "SIGHUP", "SIGINT"];

/**
 * The terminal in raw mode on the alternate screen: keys in, screens out.
 * Keys arrive as {@link decodeKeys} names, plus `resize` when the window
 * changes and `quit` when input ends or a stop signal arrives.
 */
export class Terminal {
  #queue: string[] = [];
  #wake: (() => void) | undefined;
  #listeners: [Deno.Signal, () => void][] = [];
  #encoder = new TextEncoder();

  /** Switches the terminal over; {@link restore} switches it back. */
  static open(): Terminal {
    const terminal = new Terminal();
    Deno.stdin.setRaw(true);
    terminal.#write(ENTER);
    terminal.#listen();
    void terminal.#readKeys();
    return terminal;
  }

  /** The next key, `resize` or `quit`. */
  async next(): Promise<string> {
    while (this.#queue.length === 0) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    return this.#queue.shift()!;
  }

  /** Rows and columns, or 80×24 when the size cannot be read. */
  size(): { columns: number; rows: number } {
    try {
      const { columns, rows } = Deno.consoleSize();
      return { columns: Math.max(columns, 20), rows: Math.max(rows, 5) };
    } catch {
      return { columns: 80, rows: 24 };
    }
  }

  /** Draws a whole screen over the last one. */
  draw(lines: readonly string[]): void {
    this.#write(`\x1b[H${lines.map((line) => `${line}\x1b[K`).join("\r\n")}\x1b[J`);
  }

  /** Gives the terminal back: normal screen, cursor shown, cooked mode. */
  restore(): void {
    for (const [signal, listener] of this.#listeners) Deno.removeSignalListener(signal, listener);
    try {
      this.#write(LEAVE);
    } catch {
      // The terminal is gone (SIGHUP): nothing to restore on it.
    }
    try {
      Deno.stdin.setRaw(false);
    } catch {
      // Same.
    }
  }

  #push(key: string): void {
    this.#queue.push(key);
    this.#wake?.();
  }

  #listen(): void {
    if (Deno.build.os === "windows") return;
    const on = (signal: Deno.Signal, key: string) => {
      const listener = () => this.#push(key);
      Deno.addSignalListener(signal, listener);
      this.#listeners.push([signal, listener]);
    };
    on("SIGWINCH", "resize");
    for (const signal of STOP_SIGNALS) on(signal, "quit");
  }

  async #readKeys(): Promise<void> {
    const buffer = new Uint8Array(1024);
    const decoder = new TextDecoder();
    try {
      for (let n = await Deno.stdin.read(buffer); n !== null; n = await Deno.stdin.read(buffer)) {
        for (const key of decodeKeys(decoder.decode(buffer.subarray(0, n), { stream: true }))) {
          this.#push(key);
        }
      }
    } catch {
      // Input closed under us: same as its end.
    }
    this.#push("quit");
  }

  #write(text: string): void {
    const bytes = this.#encoder.encode(text);
    for (let done = 0; done < bytes.length;) done += Deno.stdout.writeSync(bytes.subarray(done));
  }
}
