/**
 * `llm-cache-proxy explore --why KEY` as a real subprocess against a store filled directly, plus
 * the colours of its lines on a terminal.
 */
import assert from "node:assert/strict";
import { startMockAnthropic } from "../support/mock_anthropic.ts";
import { spawnServe } from "../support/process.ts";
import { messageBody } from "../support/proxy.ts";
import { tempHome } from "../support/harness.ts";
import { whyLines } from "../../src/cli/explore_view.ts";
import type { Style } from "../../src/cli/term.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { NewEntry } from "../../src/store/store.ts";
import { runCli } from "../support/cli.ts";
import { newEntry } from "../support/entry.ts";

const FIXTURE = new URL("../fixtures/anthropic/request_claude_code.json", import.meta.url);
const MINUTE = 60_000;

/** The Claude Code fixture on `date`, with a long system prompt, and `extra` messages after. */
function claudeCode(date: string, extra: readonly object[] = []): Uint8Array {
  const body = JSON.parse(Deno.readTextFileSync(FIXTURE));
  const filler = "Follow the repository conventions. ".repeat(80);
  body.system[2].text = `${filler}\n${body.system[2].text.replace("2026-11-26", date)}`;
  body.messages.push(...extra);
  return new TextEncoder().encode(JSON.stringify(body));
}

const REPLY = { role: "assistant", content: [{ type: "text", text: "a.txt b.txt" }] };
const NOW = Date.now();

function stored(head: string, ageMinutes: number, overrides: Partial<NewEntry>): NewEntry {
  const key = head.padEnd(64, "0");
  return newEntry(key, {
    createdAt: NOW - ageMinutes * MINUTE,
    snippet: `answer ${head}`,
    ...overrides,
  });
}

/** The entry asked about: the next day, one more message. */
const TARGET = stored("aaaa1111", 1, { request: claudeCode("2026-11-27", [REPLY]) });
/** Nearest: same message count (one fewer), shared first message. */
const NEAR = stored("bbbb2222", 10, { request: claudeCode("2026-11-26") });
/** Farther by message count. */
const FAR = stored("cccc3333", 5, { request: claudeCode("2026-11-27", [REPLY, REPLY, REPLY]) });
/** Identical request, but another model or namespace: never compared. */
const OTHER_MODEL = stored("dddd4444", 2, {
  model: "claude-opus-4-1",
  request: claudeCode("2026-11-27", [REPLY]),
});
const OTHER_SPACE = stored("dddd5555", 2, {
  namespace: "ci",
  request: claudeCode("2026-11-27", [REPLY]),
});
/** Stored before requests were kept. */
const OLD = stored("eeee6666", 30, { request: undefined });
/** The only entry of its model. */
const LONE = stored("ffff7777", 3, {
  model: "claude-haiku-4-5",
  request: claudeCode("2026-11-27"),
});

async function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "explore_why_test_" });
  try {
    const store = SqliteStore.open(`${home}/cache.db`, { maxEntries: 100 });
    for (const e of [TARGET, NEAR, FAR, OTHER_MODEL, OTHER_SPACE, OLD, LONE]) await store.put(e);
    await store.close();
    await fn(home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

function why(home: string, ...args: string[]) {
  return runCli(["explore", "--why", ...args], { env: { CACHE_HOME: home, HOME: home } });
}

Deno.test("explore --why shows what differs from the nearest stored request", async () => {
  await withHome(async (home) => {
    const out = await why(home, "AAAA1111");
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^entry +aaaa11110000 +1m \d+s ago +"answer aaaa1111"$/);
    assert.match(lines[1]!, /^nearest +bbbb22220000 +10m \d+s ago +"answer bbbb2222"$/);
    assert.equal(lines[2], "why      system differs, 1 more message");
    assert.deepEqual(lines.slice(4), [
      "- the nearest entry's request   + this entry's",
      "~ system[2].text",
      `    - "…\\nPlatform: linux\\nToday's date: 2026-11-26\\n</env>"`,
      `    + "…\\nPlatform: linux\\nToday's date: 2026-11-27\\n</env>"`,
      "+ messages[1]",
      `    + ${JSON.stringify(REPLY)}`,
    ]);
  });
});

Deno.test("explore --why --json gives the reason and every difference", async () => {
  await withHome(async (home) => {
    const out = await why(home, TARGET.key.slice(0, 12), "--json");
    assert.equal(out.code, 0, out.stderr);
    const report = JSON.parse(out.stdout);
    assert.equal(report.key, TARGET.key);
    assert.deepEqual(report.nearest, {
      key: NEAR.key,
      createdAt: NEAR.createdAt,
      snippet: "answer bbbb2222",
    });
    assert.equal(report.reason, "system differs, 1 more message");
    assert.deepEqual(
      report.diff.map((d: { path: string; kind: string }) => [d.path, d.kind]),
      [["system[2].text", "changed"], ["messages[1]", "added"]],
    );
    assert.match(report.diff[0].after, /2026-11-27/);
    assert.equal(report.diff[1].before, null);
  });
});

Deno.test("explore --why without a stored request or anything to compare with", async (t) => {
  await withHome(async (home) => {
    await t.step("an entry stored before requests were kept: exit 1", async () => {
      const out = await why(home, "eeee6666");
      assert.equal(out.code, 1);
      assert.match(out.stderr, /no stored request: it was stored before requests were kept/);
    });
    await t.step("nothing of the same route and model: exit 0", async () => {
      const out = await why(home, "ffff7777");
      assert.equal(out.code, 0, out.stderr);
      assert.match(
        out.stdout,
        /^No stored request of the same route and model to compare with \(\/v1\/messages, claude-haiku-4-5\)$/m,
      );
      const json = await why(home, "ffff7777", "--json");
      assert.deepEqual(JSON.parse(json.stdout), {
        key: LONE.key,
        nearest: null,
        reason: null,
        diff: [],
      });
    });
    await t.step("--why with --list or --search: exit 2", async () => {
      assert.equal((await why(home, "aaaa1111", "--list")).code, 2);
      assert.equal((await why(home, "aaaa1111", "--search", "x")).code, 2);
    });
  });
});

Deno.test("whyLines() paints removed values red and added values green", () => {
  const tag = (name: string) => (text: string) => `<${name}>${text}</${name}>`;
  const style: Style = {
    color: true,
    marks: true,
    bold: (text) => text,
    dim: (text) => text,
    green: tag("green"),
    red: tag("red"),
    yellow: tag("yellow"),
    cyan: tag("cyan"),
    ok: (text) => text,
    fail: (text) => text,
    warn: (text) => text,
  };
  const entry = { key: "a".repeat(64), createdAt: 0, snippet: "x" };
  const lines = whyLines(
    {
      entry,
      nearest: { ...entry, key: "b".repeat(64) },
      reason: "max_tokens differs",
      diff: [
        { path: "max_tokens", kind: "changed", before: "1", after: "2" },
        { path: "tools", kind: "removed", before: "[]", after: undefined },
      ],
    },
    MINUTE,
    { style, maxDiff: 1 },
  );
  assert.deepEqual(lines.slice(5), [
    "~ max_tokens",
    "<red>    - 1</red>",
    "<green>    + 2</green>",
    "… 1 more differences; --json lists all",
  ]);
});

Deno.test("explore --why on the key of a call that got an error says why nothing was kept", async () => {
  await using home = await tempHome("explore_why_error_");
  await using mock = await startMockAnthropic();
  await using proxy = await spawnServe({ CACHE_HOME: home.path, CACHE_UPSTREAM: mock.url });
  const res = await fetch(`${proxy.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: messageBody("[mock:400] refused"),
  });
  await res.body?.cancel();
  assert.equal(res.status, 400);
  const key = res.headers.get("x-cache-key")!;
  const out = await why(home.path, key);
  assert.equal(out.code, 1);
  assert.match(out.stderr, new RegExp(`no cache entry starts with ${key}\\. Only a complete 200`));
  assert.match(out.stderr, /a call that got an error, broke off/);
});
