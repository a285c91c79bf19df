import assert from "node:assert/strict";
import {
  PromptAborted,
  Prompter,
  type PromptInput,
  type PromptOutput,
  type Question,
} from "../../src/cli/prompt.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An input that hands out `chunks` one per read, as a terminal or a pipe would. */
class FakeInput implements PromptInput {
  readonly rawModes: boolean[] = [];
  #chunks: Uint8Array[];
  #terminal: boolean;

  constructor(chunks: (string | number[])[], terminal: boolean) {
    this.#chunks = chunks.map((c) =>
      typeof c === "string" ? encoder.encode(c) : Uint8Array.from(c)
    );
    this.#terminal = terminal;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    const chunk = this.#chunks.shift();
    if (chunk === undefined) return Promise.resolve(null);
    buffer.set(chunk);
    return Promise.resolve(chunk.length);
  }

  isTerminal(): boolean {
    return this.#terminal;
  }

  setRaw(mode: boolean): void {
    this.rawModes.push(mode);
  }
}

/** Collects what is written, in pieces of at most 3 bytes to exercise partial writes. */
class FakeOutput implements PromptOutput {
  bytes: number[] = [];
  write(bytes: Uint8Array): Promise<number> {
    const n = Math.min(3, bytes.length);
    this.bytes.push(...bytes.subarray(0, n));
    return Promise.resolve(n);
  }
  get text(): string {
    return decoder.decode(Uint8Array.from(this.bytes));
  }
}

const port: Question<number> = {
  text: "Port",
  shown: "4000",
  parse: (answer) => {
    if (answer === "") return 4000;
    if (!/^\d+$/.test(answer)) throw new Error(`"${answer}" is not a port`);
    return Number(answer);
  },
};

const key: Question<string> = { text: "Key", secret: true, parse: (answer) => answer };

Deno.test("Prompter.readSecret() on a terminal reads in raw mode and echoes only stars", async () => {
  const input = new FakeInput(["sk-ant-", "secret", "\r"], true);
  const output = new FakeOutput();
  const answer = await new Prompter(input, output).ask(key);
  assert.equal(answer, "sk-ant-secret");
  assert.deepEqual(input.rawModes, [true, false], "raw mode on, then restored");
  assert.equal(output.text, `Key: ${"*".repeat(13)}\n`);
  assert.ok(!output.text.includes("secret"));
});

Deno.test("Prompter.readSecret() handles Backspace, Ctrl-U, arrow keys and a multi-byte character", async () => {
  const output = new FakeOutput();
  const input = new FakeInput(
    ["junk", [0x15], "abX", [0x7f], [0x1b, 0x5b, 0x44], "c", [0xc3, 0xa9], [0x7f], "d\n"],
    true,
  );
  assert.equal(await new Prompter(input, output).readSecret(), "abcd");
  assert.ok(!/[a-z]/.test(output.text), "no typed character is shown");
});

Deno.test("Prompter.readSecret() throws PromptAborted on Ctrl-C and restores the terminal", async () => {
  const input = new FakeInput(["abc", [0x03]], true);
  await assert.rejects(() => new Prompter(input, new FakeOutput()).readSecret(), PromptAborted);
  assert.deepEqual(input.rawModes, [true, false]);
});

Deno.test("Prompter.readSecret() returns undefined on Ctrl-D at the start", async () => {
  const input = new FakeInput([[0x04]], true);
  assert.equal(await new Prompter(input, new FakeOutput()).readSecret(), undefined);
});

Deno.test("Prompter.readSecret() from a pipe reads the next line, without raw mode or echo", async () => {
  const input = new FakeInput(["sk-ant-piped\nrest\n"], false);
  const output = new FakeOutput();
  const prompter = new Prompter(input, output);
  assert.equal(await prompter.ask(key), "sk-ant-piped");
  assert.equal(await prompter.readLine(), "rest");
  assert.deepEqual(input.rawModes, []);
  assert.ok(!output.text.includes("piped"));
});

Deno.test("Prompter.ask() asks again with the reason after a bad answer", async () => {
  const output = new FakeOutput();
  const prompter = new Prompter(new FakeInput(["abc\n41", "00\n"], false), output);
  assert.equal(await prompter.ask(port), 4100);
  assert.equal(output.text, 'Port [4000]: \n  "abc" is not a port; try again\nPort [4000]: \n');
});

Deno.test("Prompter.ask() takes the default at the end of input, and on an empty line", async () => {
  const prompter = new Prompter(new FakeInput(["\r\n"], false), new FakeOutput());
  assert.equal(await prompter.ask(port), 4000, "empty line (CRLF)");
  assert.equal(await prompter.ask(port), 4000, "end of input");
  assert.equal(await prompter.ask(port), 4000, "still the end of input");
});

Deno.test("Prompter.readLine() returns a last line without a line break", async () => {
  const prompter = new Prompter(new FakeInput(["one\ntw", "o"], false), new FakeOutput());
  assert.deepEqual(
    [await prompter.readLine(), await prompter.readLine(), await prompter.readLine()],
    ["one", "two", undefined],
  );
});
