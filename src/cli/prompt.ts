/**
 * Asking questions on the command line: one line per answer, read from a
 * terminal or, in scripts, from a pipe (`printf 'a\nb\n' | … setup`). A secret
 * answer is read on a terminal in raw mode and echoed as `*`, never as typed;
 * from a pipe it is simply the next line. End of input means "take the
 * default" for every question left.
 *
 * @module
 */

/** Where answers come from: `Deno.stdin`, or a fake in tests. */
export interface PromptInput {
  read(buffer: Uint8Array): Promise<number | null>;
  isTerminal(): boolean;
  setRaw(mode: boolean): void;
}

/** Where questions go: `Deno.stdout`, or a fake in tests. */
export interface PromptOutput {
  write(bytes: Uint8Array): Promise<number>;
}

/** One question and how its answer is read. */
export interface Question<T> {
  /** What is asked, e.g. `Port`. */
  readonly text: string;
  /** The default as shown in brackets, e.g. `4000`. */
  readonly shown?: string;
  /** Read without echoing what is typed (an API key). */
  readonly secret?: boolean;
  /**
   * Turns a trimmed answer into the value; `""` means the default.
   *
   * @throws {Error} whose message says why the answer is refused; the question is asked again
   */
  parse(answer: string): T;
}

/** The user pressed Ctrl-C while a secret was typed (the terminal was in raw mode). */
export class PromptAborted extends Error {
  constructor() {
    super("Cancelled");
    this.name = "PromptAborted";
  }
}

const ENTER = new Set([0x0a, 0x0d]);
const CTRL_C = 0x03;
const CTRL_D = 0x04;
const CTRL_U = 0x15;
const ESC = 0x1b;
const BACKSPACE = new Set([0x08, 0x7f]);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Asks questions on one input and output. */
export class Prompter {
  readonly #input: PromptInput;
  readonly #output: PromptOutput;
  /** Bytes read but not used yet: a pipe delivers many answers per read. */
  #pending = new Uint8Array(0);
  #ended = false;

  /**
   * @param input where answers come from
   * @param output where questions and reasons go
   */
  constructor(input: PromptInput = Deno.stdin, output: PromptOutput = Deno.stdout) {
    this.#input = input;
    this.#output = output;
  }

  /**
   * Asks `question` until its answer parses; at the end of input, takes the default.
   *
   * @param question the question
   * @returns the parsed answer
   * @throws {PromptAborted} on Ctrl-C during a secret answer
   * @example
   * ```ts
   * const port = await new Prompter().ask({ text: "Port", shown: "4000", parse: Number });
   * ```
   */
  async ask<T>(question: Question<T>): Promise<T> {
    const shown = question.shown === undefined ? "" : ` [${question.shown}]`;
    for (;;) {
      await this.write(`${question.text}${shown}: `);
      const answer = question.secret ? await this.readSecret() : await this.readLine();
      // A terminal echoes the line break of a typed answer (readSecret writes its own); a pipe
      // or the end of input shows none.
      const terminal = this.#input.isTerminal();
      if (!terminal || (answer === undefined && !question.secret)) await this.write("\n");
      if (answer === undefined) return question.parse("");
      try {
        return question.parse(answer.trim());
      } catch (e) {
        await this.write(`  ${(e as Error).message}; try again\n`);
      }
    }
  }

  /**
   * Reads one line, without its line break.
   *
   * @returns the line, or undefined at the end of input
   */
  async readLine(): Promise<string | undefined> {
    for (;;) {
      const end = this.#pending.indexOf(0x0a);
      if (end !== -1) {
        const line = this.#pending.subarray(0, end);
        this.#pending = this.#pending.slice(end + 1);
        return decoder.decode(line).replace(/\r$/, "");
      }
      if (!(await this.#fill())) {
        if (this.#pending.length === 0) return undefined;
        const rest = decoder.decode(this.#pending);
        this.#pending = new Uint8Array(0);
        return rest;
      }
    }
  }

  /**
   * Reads one answer without showing it: on a terminal in raw mode, echoing
   * `*` per character (Backspace and Ctrl-U edit, Ctrl-C cancels); from a
   * pipe, the next line.
   *
   * @returns the answer, or undefined at the end of input
   * @throws {PromptAborted} on Ctrl-C
   */
  async readSecret(): Promise<string | undefined> {
    if (!this.#input.isTerminal()) return await this.readLine();
    this.#input.setRaw(true);
    try {
      return await this.#readRaw();
    } finally {
      this.#input.setRaw(false);
      await this.write("\n");
    }
  }

  /**
   * Writes text as is.
   *
   * @param text what to write
   */
  async write(text: string): Promise<void> {
    let bytes = encoder.encode(text);
    while (bytes.length > 0) bytes = bytes.subarray(await this.#output.write(bytes));
  }

  async #readRaw(): Promise<string | undefined> {
    const typed: number[] = [];
    let escape: "esc" | "sequence" | undefined;
    for (;;) {
      if (this.#pending.length === 0 && !(await this.#fill())) {
        return typed.length === 0 ? undefined : decoder.decode(new Uint8Array(typed));
      }
      const byte = this.#pending[0]!;
      this.#pending = this.#pending.subarray(1);
      if (escape !== undefined) {
        // Arrow keys and the like arrive as ESC [ … final byte; none of them is part of a key.
        if (escape === "esc") escape = byte === 0x5b || byte === 0x4f ? "sequence" : undefined;
        else if (byte >= 0x40 && byte <= 0x7e) escape = undefined;
        continue;
      }
      if (ENTER.has(byte)) return decoder.decode(new Uint8Array(typed));
      if (byte === CTRL_C) throw new PromptAborted();
      if (byte === CTRL_D) {
        if (typed.length === 0) return undefined;
        return decoder.decode(new Uint8Array(typed));
      }
      if (byte === ESC) escape = "esc";
      else if (BACKSPACE.has(byte)) await this.#erase(typed, 1);
      else if (byte === CTRL_U) await this.#erase(typed, Infinity);
      else if (byte >= 0x20) {
        typed.push(byte);
        if ((byte & 0xc0) !== 0x80) await this.write("*"); // one star per character, not per byte
      }
    }
  }

  /** Drops the last `count` characters typed and their stars. */
  async #erase(typed: number[], count: number): Promise<void> {
    for (let n = 0; n < count && typed.length > 0; n++) {
      let byte = typed.pop();
      while (byte !== undefined && (byte & 0xc0) === 0x80) byte = typed.pop(); // to the first byte
      await this.write("\b \b");
    }
  }

  /** Reads more input into the pending bytes; false at the end of input. */
  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const buffer = new Uint8Array(4096);
    const n = await this.#input.read(buffer);
    if (n === null || n === 0) {
      this.#ended = true;
      return false;
    }
    const joined = new Uint8Array(this.#pending.length + n);
    joined.set(this.#pending);
    joined.set(buffer.subarray(0, n), this.#pending.length);
    this.#pending = joined;
    return true;
  }
}
