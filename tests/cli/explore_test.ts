/**
 * `llm-cache-proxy explore` as a real subprocess with exactly the binary's permission flags:
 * the scripted modes against a store filled by the real proxy or directly, and the full-screen
 * browser driven through a pseudo-terminal by tmux.
 */
import assert from "node:assert/strict";
import { decodeKeys } from "../../src/cli/explore_terminal.ts";
import { RUN_FLAGS } from "../../src/cli/self.ts";
import { NO_USAGE } from "../../src/values/usage.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { NewEntry } from "../../src/store/store.ts";
import { startMockAnthropic } from "../support/mock_anthropic.ts";
import { baseEnv, ROOT, spawnServe } from "../support/process.ts";
import { messageBody } from "../support/proxy.ts";
import { newEntry } from "../support/entry.ts";
import { eventually, tempHome } from "../support/harness.ts";
import { cliScript, Tmux } from "../support/tmux.ts";
import { needs } from "../support/tools.ts";

/** The environment `explore` runs with: the cache home, no colour. HOME stays (Deno's cache). */
function exploreEnv(home: string): Record<string, string> {
  return { ...baseEnv(), NO_COLOR: "1", CACHE_HOME: home };
}

async function explore(home: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...RUN_FLAGS, "src/main.ts", "explore", ...args],
    cwd: ROOT,
    clearEnv: true,
    env: exploreEnv(home),
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** A 64-digit key: `head` then zeros. */
function hexKey(head: string): string {
  return head.padEnd(64, "0");
}

function entry(key: string, snippet: string, overrides: Partial<NewEntry> = {}): NewEntry {
  return newEntry(key, {
    body: new TextEncoder().encode(JSON.stringify({ content: [{ type: "text", text: snippet }] })),
    usage: { ...NO_USAGE, input_tokens: 12, output_tokens: 34 },
    snippet,
    ...overrides,
  });
}

/** Writes entries into the home's store; each later one is older. */
async function fill(home: string, entries: readonly NewEntry[]): Promise<void> {
  const store = SqliteStore.open(`${home}/cache.db`, { maxEntries: 100 });
  for (const [i, e] of entries.entries()) await store.put({ ...e, createdAt: e.createdAt - i });
  await store.close();
}

/** The keys in the home's store, newest first. */
async function storedKeys(home: string): Promise<string[]> {
  const store = SqliteStore.open(`${home}/cache.db`, { maxEntries: 100 });
  try {
    return (await store.list({ limit: 100 })).map((e) => e.key);
  } finally {
    await store.close();
  }
}

const ALPHA = entry(hexKey("1111aaaa"), "alpha answer", { model: "claude-haiku-4-5" });
const BRAVO = entry(hexKey("2222bbbb"), "bravo answer");
const CHARLIE = entry(hexKey("3333cccc"), "charlie answer", { model: "claude-opus-4-1" });

Deno.test("explore --list shows what the running proxy cached, and --invalidate reaches it", async () => {
  await using home = await tempHome("explore_test_");
  await using mock = await startMockAnthropic();
  await using proxy = await spawnServe({ CACHE_HOME: home.path, CACHE_UPSTREAM: mock.url });
  const post = (text: string, extra: Record<string, unknown> = {}) =>
    fetch(`${proxy.url}/v1/messages`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": "sk-ant-client-key",
      },
      body: messageBody(text, extra),
    });
  const weather = { tools: [{ name: "get_weather", input_schema: { type: "object" } }] };
  for (const [text, extra] of [["hello", {}], ["weather?", weather]] as const) {
    const res = await post(text, extra);
    assert.equal(res.status, 200, await res.text());
  }
  await eventually(
    "two stored entries",
    async () => (await storedKeys(home.path)).length === 2 || undefined,
  );

  const table = await explore(home.path, "--list");
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split("\n");
  assert.match(lines[0]!, /^KEY\s+AGE\s+MODEL\s+HITS\s+SIZE\s+SNIPPET$/);
  assert.equal(lines.length, 3);
  assert.match(table.stdout, /claude-sonnet-4-5-20250929 .*Hello! The capital of France is Paris/);

  const json = await explore(home.path, "--list", "--json", "--search", "get_weather");
  assert.equal(json.code, 0, json.stderr);
  const found = JSON.parse(json.stdout);
  assert.equal(found.length, 1);
  assert.match(found[0].snippet, /get_weather/);
  assert.equal(found[0].path, "/v1/messages");
  assert.equal(typeof found[0].size, "number");
  const limited = JSON.parse((await explore(home.path, "--list", "--json", "--limit", "1")).stdout);
  assert.equal(limited.length, 1);

  const gone = await explore(home.path, "--invalidate", found[0].key.slice(0, 10));
  assert.equal(gone.code, 0, gone.stderr);
  assert.match(gone.stdout, new RegExp(`Invalidated ${found[0].key}`));
  const again = await post("weather?", weather);
  await again.text();
  assert.equal(again.headers.get("x-cache"), "MISS", "the proxy saw the deletion");
});

Deno.test("explore --view shows an entry's metadata and body by key prefix", async () => {
  await using home = await tempHome("explore_test_");
  await fill(home.path, [ALPHA, BRAVO]);
  const shown = await explore(home.path, "--view", "2222BBBB");
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(`^key +${BRAVO.key}$`, "m"));
  assert.match(shown.stdout, /^model +claude-sonnet-4-5-20250929$/m);
  assert.match(shown.stdout, /^usage +12 in, 34 out/m);
  assert.match(shown.stdout, /^snippet +bravo answer$/m);
  assert.match(shown.stdout, /^ {6}"text": "bravo answer"$/m, "body pretty-printed");

  const json = await explore(home.path, "--view", BRAVO.key, "--json");
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout);
  assert.equal(parsed.key, BRAVO.key);
  assert.equal(parsed.body, new TextDecoder().decode(BRAVO.body));
  assert.equal(parsed.hitCount, 0, "viewing is not a hit");
});

Deno.test("explore --invalidate deletes one entry and refuses unclear prefixes", async (t) => {
  await using home = await tempHome("explore_test_");
  const twin = entry(hexKey("1111aaaa9"), "twin answer");
  await fill(home.path, [ALPHA, BRAVO, twin]);

  await t.step("an ambiguous prefix: exit 1, asks for more digits", async () => {
    const out = await explore(home.path, "--invalidate", "1111aaaa");
    assert.equal(out.code, 1);
    assert.match(out.stderr, /1111aaaa matches several entries.*give more digits/);
    assert.match(out.stderr, /1111aaaa00/);
    assert.match(out.stderr, /1111aaaa90/);
  });
  await t.step("an unknown prefix: exit 1, points at --list", async () => {
    const out = await explore(home.path, "--invalidate", "deadbeef");
    assert.equal(out.code, 1);
    assert.match(out.stderr, /no cache entry starts with deadbeef.*explore --list/);
  });
  await t.step("not a key: exit 2", async () => {
    const out = await explore(home.path, "--view", "xyz");
    assert.equal(out.code, 2);
    assert.match(out.stderr, /--view "xyz" is not a cache key/);
  });
  assert.equal((await storedKeys(home.path)).length, 3, "nothing deleted so far");

  const out = await explore(home.path, "--invalidate", "2222bbbb", "--json");
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), { deleted: true, key: BRAVO.key });
  assert.deepEqual((await storedKeys(home.path)).sort(), [ALPHA.key, twin.key].sort());
});

Deno.test("explore without a terminal or with clashing flags exits 2", async () => {
  await using home = await tempHome("explore_test_");
  const bare = await explore(home.path);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /needs a terminal.*--list, --view KEY or --invalidate KEY/);
  for (
    const args of [["--list", "--view", "12345678"], ["--limit", "5"], ["--list", "--limit", "0"]]
  ) {
    const out = await explore(home.path, ...args);
    assert.equal(out.code, 2, args.join(" "));
  }
});

Deno.test(
  "explore --list on an empty cache says how to fill it and creates nothing",
  needs("tmux"),
  async () => {
    await using home = await tempHome("explore_test_");
    const out = await explore(home.path, "--list");
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /cache is empty.*\n.*ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:4000/);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(home.path)), []);
    assert.equal((await explore(home.path, "--list", "--json")).stdout.trim(), "[]");
  },
);

/** Starts explore in a fresh tmux server; `await using` the result to kill the server. */
function startBrowser(home: string): Promise<Tmux> {
  return cliScript(home, exploreEnv(home), ["explore"]).then((script) => Tmux.start(home, script));
}

Deno.test(
  "explore on a terminal browses, views, invalidates, searches and quits",
  needs("tmux"),
  async () => {
    await using home = await tempHome("explore_test_");
    await fill(home.path, [ALPHA, BRAVO, CHARLIE]);
    await using tmux = await startBrowser(home.path);

    await tmux.screen("the list", (p) => p.includes("3 entries") && /▸ 1111aaaa0000/.test(p));
    await tmux.run("resize-window", "-x", "50");
    await tmux.screen("the list redrawn narrower", (p) => /^▸ 1111aaaa0000 .*…$/m.test(p));
    await tmux.run("resize-window", "-x", "120");
    await tmux.screen("the list redrawn wider", (p) => /alpha answer$/m.test(p));
    await tmux.run("send-keys", "Down");
    await tmux.screen("the second row selected", (p) => /▸ 2222bbbb0000 .*bravo answer/.test(p));

    await tmux.run("send-keys", "Enter");
    await tmux.screen(
      "the entry",
      (p) => p.includes(`key      ${BRAVO.key}`) && /"text": "bravo answer"/.test(p),
    );
    await tmux.run("send-keys", "Escape");
    await tmux.screen("the list again", (p) => /KEY +AGE/.test(p) && /▸ 2222bbbb0000/.test(p));

    await tmux.run("send-keys", "d");
    await tmux.screen(
      "the question",
      (p) => /Invalidate 2222bbbb0000 \(bravo answer\)\? y\/n/.test(p),
    );
    await tmux.run("send-keys", "y");
    await tmux.screen(
      "the shorter list",
      (p) => p.includes("2 entries") && !p.includes("bravo answer"),
    );
    assert.deepEqual(await storedKeys(home.path), [ALPHA.key, CHARLIE.key]);

    await tmux.run("send-keys", "/");
    await tmux.run("send-keys", "-l", "charlie");
    await tmux.screen("the search typed", (p) => p.includes("Search: charlie"));
    await tmux.run("send-keys", "Enter");
    await tmux.screen(
      "the narrowed list",
      (p) =>
        p.includes('search "charlie": 1 shown') && p.includes("charlie answer") &&
        !p.includes("alpha answer"),
    );

    await tmux.run("send-keys", "q");
    const after = await tmux.screen("the exit", (p) => p.includes("modes:"));
    assert.match(after, /^exit=0$/m);
    assert.match(after, /^modes: icanon echo *$/m, `cooked mode restored:\n${after}`);
    assert.equal((await tmux.run("display-message", "-p", "#{alternate_on}")).trim(), "0");
  },
);

Deno.test("explore on a terminal says how to fill an empty cache", needs("tmux"), async () => {
  await using home = await tempHome("explore_test_");
  await using tmux = await startBrowser(home.path);
  await tmux.screen("the hint", (p) => /The cache is empty.*\n.*ANTHROPIC_BASE_URL=/.test(p));
  await tmux.run("send-keys", "C-c");
  assert.match(await tmux.screen("the exit", (p) => p.includes("modes:")), /^exit=0$/m);
});

Deno.test("decodeKeys() names the keys a raw terminal sends", () => {
  assert.deepEqual(decodeKeys("\x1b[A\x1bOBj\r\x1b[5~\x1b[6~"), [
    "up",
    "down",
    "j",
    "enter",
    "pageup",
    "pagedown",
  ]);
  assert.deepEqual(decodeKeys("\x1b"), ["esc"]);
  assert.deepEqual(decodeKeys("\x03\x7fé😀"), ["ctrl-c", "backspace", "é", "😀"]);
  assert.deepEqual(decodeKeys("\x1b[1;5A\x01x"), ["x"], "unknown sequences and controls dropped");
});
