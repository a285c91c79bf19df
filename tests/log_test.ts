import assert from "node:assert/strict";
import { createLogger, type Logger } from "../src/log.ts";
import { LogFileError } from "../src/log_file.ts";
import { redact } from "../src/redact.ts";
import { exists } from "../src/fs.ts";

const ISO = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`;
const KEY = "sk-ant-api03-AbCdEf0123456789_xyz-QRS";
const TOKEN = "cache-auth-token-7f3a9c";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "log_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function fileLines(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path);
  return text === "" ? [] : text.replace(/\n$/, "").split("\n");
}

/** Replaces console.log and console.error while `fn` runs. */
async function captureConsole(
  fn: () => void | Promise<void>,
): Promise<{ out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  const writeSync = Deno.stdout.writeSync;
  console.log = (line: string) => void out.push(line);
  console.error = (line: string) => void err.push(line);
  // Lines at info and below reach stdout in batches, through writeSync.
  Deno.stdout.writeSync = (bytes: Uint8Array) => {
    out.push(...new TextDecoder().decode(bytes).split("\n").filter((l) => l !== ""));
    return bytes.byteLength;
  };
  try {
    await fn();
  } finally {
    console.log = log;
    console.error = error;
    Deno.stdout.writeSync = writeSync;
  }
  return { out, err };
}

Deno.test("createLogger(level, write) writes `ISO LEVEL message` at or above the level", async () => {
  const lines: string[] = [];
  const log = createLogger("info", (line) => lines.push(line));
  log.error("it broke");
  log.info("listening");
  log.debug("details");
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, new RegExp(`^${ISO} ERROR it broke$`));
  assert.match(lines[1]!, new RegExp(`^${ISO} INFO listening$`));
  assert.equal(log.level, "info");
  assert.equal(log.format, "text");
  assert.deepEqual([log.enabled("error"), log.enabled("info"), log.enabled("debug")], [
    true,
    true,
    false,
  ]);
  await log.close(); // a no-op without a file
  await log.close();
});

Deno.test("createLogger() at silent writes nothing; debug writes everything", () => {
  const silent: string[] = [];
  const quiet = createLogger("silent", (line) => silent.push(line));
  quiet.error("x");
  quiet.info("x");
  assert.deepEqual(silent, []);
  assert.equal(quiet.enabled("error"), false);
  const loud: string[] = [];
  const debug = createLogger("debug", { write: (line) => loud.push(line) });
  debug.debug("d");
  assert.match(loud[0]!, new RegExp(`^${ISO} DEBUG d$`));
});

Deno.test("the text format leaves fields out; the JSON format writes one object per line", () => {
  const text: string[] = [];
  createLogger("info", (line) => text.push(line)).info("hello", { port: 4000 });
  assert.match(text[0]!, new RegExp(`^${ISO} INFO hello$`));

  const lines: string[] = [];
  const log = createLogger("debug", { format: "json", write: (line) => lines.push(line) });
  log.info("listening", { port: 4000, hosts: ["127.0.0.1", "::1"], big: 12n });
  log.error("failed", { error: new TypeError("bad"), level: "not mine", msg: "nor this" });
  log.debug("plain");
  const [first, second, third] = lines.map((line) => JSON.parse(line));
  assert.deepEqual(Object.keys(first).slice(0, 3), ["time", "level", "msg"]);
  assert.match(first.time, new RegExp(`^${ISO}$`));
  assert.deepEqual({ ...first, time: "t" }, {
    time: "t",
    level: "info",
    msg: "listening",
    port: 4000,
    hosts: ["127.0.0.1", "::1"],
    big: "12",
  });
  assert.deepEqual([second.level, second.msg], ["error", "failed"]);
  assert.deepEqual(second.error, { name: "TypeError", message: "bad" });
  assert.deepEqual(Object.keys(third), ["time", "level", "msg"]);
});

Deno.test("console lines: errors to stderr, the rest to stdout, colour only on the level word when asked", async () => {
  const plain = await captureConsole(() => {
    const log = createLogger("debug", { color: false });
    log.error("e");
    log.info("i");
    log.debug("d");
    return log.flush();
  });
  assert.deepEqual(plain.err.length, 1);
  assert.match(plain.err[0]!, new RegExp(`^${ISO} ERROR e$`));
  assert.deepEqual(plain.out.map((l) => l.replace(/^\S+ /, "")), ["INFO i", "DEBUG d"]);

  const colored = await captureConsole(() => {
    const log = createLogger("info", { color: true });
    log.error("e");
    log.info("i");
    return log.flush();
  });
  assert.match(colored.err[0]!, new RegExp(`^${ISO} \\x1b\\[31mERROR\\x1b\\[0m e$`));
  assert.match(colored.out[0]!, new RegExp(`^${ISO} \\x1b\\[32mINFO\\x1b\\[0m i$`));

  const json = await captureConsole(() => {
    const log = createLogger("info", { color: true, format: "json" });
    log.info("i");
    return log.flush();
  });
  assert.equal(JSON.parse(json.out[0]!).msg, "i");

  const off = await captureConsole(() => {
    createLogger("info", { console: false }).error("e");
  });
  assert.deepEqual(off, { out: [], err: [] });
});

Deno.test("without `color`, the console is coloured only on a terminal", async () => {
  const { out } = await captureConsole(() => {
    const log = createLogger("info");
    log.info("i");
    return log.flush();
  });
  const expectColour = !Deno.noColor && Deno.stdout.isTerminal();
  assert.equal(out[0]!.includes("\x1b["), expectColour);
});

Deno.test("redact() hides given secrets, Anthropic keys, Bearer tokens and auth header values", () => {
  assert.equal(redact(`key ${KEY} used`, [KEY]), "key [redacted] used");
  assert.equal(redact(`got ${TOKEN}!`, [undefined, "", TOKEN]), "got [redacted]!");
  assert.equal(redact("short tok here", ["tok"]), "short [redacted] here");
  assert.equal(redact(`unknown ${KEY}`), "unknown sk-ant-…[redacted]");
  assert.equal(redact("sk-ant-abcdefgh."), "sk-ant-…[redacted].");
  assert.equal(redact("sk-ant-short"), "sk-ant-short"); // fewer than 8 characters
  assert.equal(redact("Authorization: Bearer abc.def-ghi"), "Authorization: Bearer [redacted]");
  assert.equal(redact("sent bearer eyJhbGciOi.x/y+z= on"), "sent bearer [redacted] on");
  assert.equal(redact("x-api-key: my-own-key"), "x-api-key: [redacted]");
  assert.equal(redact("x-cache-auth=letmein rest"), "x-cache-auth=[redacted] rest");
  assert.equal(redact('{"x-api-key":"k1","b":1}'), '{"x-api-key":"[redacted]","b":1}');
  assert.equal(
    redact('"{\\"authorization\\":\\"Basic dXNlcg==\\"}"'),
    '"{\\"authorization\\":\\"Basic [redacted]\\"}"',
  );
  assert.equal(redact("Missing x-cache-auth header"), "Missing x-cache-auth header");
  // the longer secret goes first, so no part of it survives
  assert.equal(redact("abcdef", ["abc", "abcdef"]), "[redacted]");
  // nothing is redacted twice
  assert.equal(
    redact(`authorization: Bearer ${TOKEN}`, [TOKEN]),
    "authorization: Bearer [redacted]",
  );
  assert.equal(redact(`x-api-key: ${KEY}`, [KEY]), "x-api-key: [redacted]");
});

Deno.test("the logger redacts every line: console, writer and file, text and JSON", async () => {
  await withTempDir(async (dir) => {
    const lines: string[] = [];
    const log = createLogger("debug", {
      format: "json",
      write: (line) => lines.push(line),
      file: `${dir}/proxy.log`,
      secrets: [KEY, TOKEN, undefined],
    });
    log.error(`upstream refused ${KEY}`, { header: `Bearer ${TOKEN}`, token: TOKEN });
    log.info("client sent x-api-key: sk-ant-api03-clientkey-0000", { quote: 'say "hi"' });
    log.debug(`auth ${TOKEN}`);
    await log.close();
    const written = await fileLines(`${dir}/proxy.log`);
    assert.deepEqual(written, lines);
    for (const line of written) {
      assert.ok(!line.includes(KEY) && !line.includes(TOKEN) && !line.includes("clientkey"), line);
      JSON.parse(line);
    }
    const [first, second, third] = written.map((line) => JSON.parse(line));
    assert.equal(first.msg, "upstream refused [redacted]");
    assert.equal(first.header, "Bearer [redacted]");
    assert.equal(first.token, "[redacted]");
    assert.equal(second.msg, "client sent x-api-key: [redacted]");
    assert.equal(second.quote, 'say "hi"');
    assert.equal(third.msg, "auth [redacted]");

    const text: string[] = [];
    createLogger("info", { write: (line) => text.push(line), secrets: [TOKEN] }).info(
      `token ${TOKEN} and Bearer ${TOKEN}x`,
    );
    assert.match(text[0]!, / INFO token \[redacted\] and Bearer \[redacted\]x?$/);
    assert.ok(!text[0]!.includes(TOKEN));
  });
});

Deno.test("file output: mode 0600, the folder made, nothing written on the caller's turn, close() flushes it all", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/nested/logs/proxy.log`;
    const log = createLogger("info", { file: path, console: false });
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    }
    for (let i = 0; i < 5000; i++) log.info(`line ${i}`);
    assert.equal((await Deno.stat(path)).size, 0, "the caller never waits for the disk");
    await log.close();
    const lines = await fileLines(path);
    assert.equal(lines.length, 5000);
    assert.match(lines[0]!, new RegExp(`^${ISO} INFO line 0$`));
    assert.match(lines[4999]!, / INFO line 4999$/);
    log.info("after close");
    await log.close();
    assert.equal((await fileLines(path)).length, 5000);
  });
});

Deno.test("file output appends to an existing file and flush() waits for the disk", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/proxy.log`;
    await Deno.writeTextFile(path, "old line\n");
    const log = createLogger("info", { file: path, console: false });
    log.info("first");
    await log.flush();
    assert.equal((await fileLines(path)).length, 2);
    await new Promise((resolve) => setTimeout(resolve, 5));
    log.info("second");
    await log.flush();
    const lines = await fileLines(path);
    assert.equal(lines[0], "old line");
    assert.match(lines[2]!, / INFO second$/);
    await log.close();
  });
});

Deno.test("the file rotates by size: proxy.log, .1, .2, .3, none over the limit, oldest dropped", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/proxy.log`;
    const maxBytes = 1000;
    const log = createLogger("info", { file: path, console: false, maxBytes, keep: 3 });
    const total = 200;
    for (let i = 0; i < total; i++) {
      log.info(`line ${String(i).padStart(4, "0")} ${"x".repeat(40)}`);
      if (i % 37 === 0) await log.flush(); // rotate across batches as well as within one
    }
    await log.close();
    const names = [path, `${path}.1`, `${path}.2`, `${path}.3`];
    for (const name of names) assert.ok(await exists(name), name);
    assert.equal(await exists(`${path}.4`), false);
    let lineBytes = 0;
    const numbers: number[] = [];
    for (const name of names.toReversed()) { // oldest first
      const bytes = (await Deno.stat(name)).size;
      const lines = await fileLines(name);
      lineBytes = Math.max(lineBytes, ...lines.map((l) => l.length + 1));
      assert.ok(bytes <= maxBytes, `${name} has ${bytes} bytes`);
      if (Deno.build.os !== "windows") {
        assert.equal((await Deno.stat(name)).mode! & 0o777, 0o600);
      }
      numbers.push(...lines.map((l) => Number(/line (\d+)/.exec(l)![1])));
    }
    assert.ok(lineBytes > 0 && (await Deno.stat(`${path}.1`)).size > maxBytes - lineBytes);
    // the newest lines, in order, with no gap; the oldest ones are gone
    assert.equal(numbers.at(-1), total - 1);
    assert.deepEqual(numbers, numbers.map((_, i) => numbers[0]! + i));
    assert.ok(numbers[0]! > 0);
  });
});

Deno.test("rotation: a file over the limit at start rotates first; keep 0 truncates; a line over the limit stands alone", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/proxy.log`;
    await Deno.writeTextFile(path, "x".repeat(500) + "\n");
    const log = createLogger("info", { file: path, console: false, maxBytes: 300, keep: 1 });
    log.info("small");
    await log.flush();
    assert.equal((await Deno.stat(`${path}.1`)).size, 501);
    assert.equal((await fileLines(path)).length, 1);
    log.info("y".repeat(400));
    await log.close();
    assert.match((await fileLines(path))[0]!, /y{400}$/);
    assert.match((await fileLines(`${path}.1`))[0]!, / INFO small$/);
    assert.equal(await exists(`${path}.2`), false);

    const single = `${dir}/single.log`;
    const none = createLogger("info", { file: single, console: false, maxBytes: 100, keep: 0 });
    for (let i = 0; i < 10; i++) none.info(`n${i}`);
    await none.close();
    assert.equal(await exists(`${single}.1`), false);
    const lines = await fileLines(single);
    assert.ok((await Deno.stat(single)).size <= 100);
    assert.match(lines.at(-1)!, / INFO n9$/);
  });
});

Deno.test("a full queue drops lines, counts them, and the next line written says how many", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/proxy.log`;
    const log = createLogger("info", {
      file: path,
      console: false,
      format: "json",
      maxQueueBytes: 2000,
    });
    const total = 100;
    for (let i = 0; i < total; i++) log.info(`line ${i}`, { i });
    await log.flush();
    log.info("after");
    await log.close();
    const records = (await fileLines(path)).map((line) => JSON.parse(line));
    const kept = records.filter((r) => typeof r.i === "number");
    assert.ok(kept.length > 0 && kept.length < total, `${kept.length} kept`);
    assert.deepEqual(kept.map((r) => r.i), kept.map((_, i) => i), "the first lines, in order");
    const notice = records.at(-2);
    assert.equal(notice.level, "error");
    assert.equal(notice.dropped, total - kept.length);
    assert.match(notice.msg, new RegExp(`dropped ${total - kept.length} lines`));
    assert.equal(records.at(-1).msg, "after");
    assert.equal(records.length, kept.length + 2);
  });
});

Deno.test("close() writes the count of lines dropped when no line follows them", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/proxy.log`;
    const log = createLogger("info", { file: path, console: false, maxQueueBytes: 1 });
    log.info("kept");
    log.info("dropped 1");
    log.info("dropped 2");
    await log.close();
    const lines = await fileLines(path);
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, / INFO kept$/);
    assert.match(lines[1]!, / ERROR Log file: dropped 2 lines/);
  });
});

Deno.test("a log file that cannot be opened is a LogFileError naming the path and the fix", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "");
    const path = `${dir}/file/proxy.log`;
    assert.throws(
      () => createLogger("info", { file: path }),
      (e: unknown) =>
        e instanceof LogFileError && e.message.includes(path) && e.message.includes('"none"'),
    );
  });
});

Deno.test("a silent logger opens no file", async () => {
  await withTempDir(async (dir) => {
    const log: Logger = createLogger("silent", { file: `${dir}/proxy.log` });
    log.error("x");
    await log.close();
    assert.equal(await exists(`${dir}/proxy.log`), false);
  });
});
