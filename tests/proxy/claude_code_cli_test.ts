/**
 * The real Claude Code CLI through the proxy, against the mock Anthropic API:
 * which reruns are served from the cache, with and without the README's
 * `normalize.json` (the built-in `claude-code` profile), and which are not.
 */
import assert from "node:assert/strict";
import { parseNormalizeRules } from "../../src/values/normalize_rules.ts";
import type { CallKind } from "../../src/values/call_kind.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { readmeRecipe } from "../support/claude_code.ts";
import {
  CLAUDE_BIN,
  CLAUDE_VERSION,
  type ClaudeOptions,
  runClaude,
  userHome,
} from "../support/claude_cli.ts";
import { tempHome } from "../support/harness.ts";
import { AGENT_ANSWER, AGENT_FILE } from "../support/mock_agent.ts";
import { type ProxyOptions, type ProxyUnderTest, startProxy } from "../support/proxy.ts";
import { needs } from "../support/tools.ts";

const HELLO = "[mock:text] Say hello";
const AGENT = "[mock:agent] What do my notes say?";
const AGENT_CAT = "[mock:agent:cat]";

/** The kinds of the calls one `claude -p` run made through `proxy`, and its output. */
async function served(
  proxy: ProxyUnderTest,
  prompt: string,
  options: Omit<ClaudeOptions, "proxy">,
): Promise<{ kinds: Partial<Record<CallKind, number>>; stdout: string }> {
  const before: Partial<Record<CallKind, number>> = { ...proxy.stats.ledger.session().byKind };
  const run = await runClaude(prompt, { proxy: proxy.url, ...options });
  assert.equal(run.code, 0, `claude -p failed: ${run.stderr}${run.stdout}`);
  const after: Partial<Record<CallKind, number>> = proxy.stats.ledger.session().byKind;
  const kinds: Partial<Record<CallKind, number>> = {};
  for (const [kind, n] of Object.entries(after) as [CallKind, number][]) {
    if (n !== (before[kind] ?? 0)) kinds[kind] = n - (before[kind] ?? 0);
  }
  return { kinds, stdout: run.stdout };
}

async function withProfile(options: ProxyOptions = {}): Promise<ProxyUnderTest> {
  return await startProxy({ normalize: parseNormalizeRules(await readmeRecipe()), ...options });
}

/** A git repository with a CLAUDE.md and one commit, whose hash depends on the clock and user. */
async function gitProject(folder: string, user: string, claudeMd = "Use tabs.\n"): Promise<void> {
  await Deno.writeTextFile(`${folder}/CLAUDE.md`, claudeMd);
  await Deno.writeTextFile(`${folder}/main.ts`, `console.log("${user}");\n`);
  const git = async (...args: string[]) => {
    const out = await new Deno.Command("git", { args, cwd: folder, stdout: "null" }).output();
    assert.ok(out.success, `git ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  };
  await git("init", "-q", "-b", "main");
  await git(
    "-c",
    `user.name=${user}`,
    "-c",
    `user.email=${user}@example.com`,
    "commit",
    "-q",
    "--allow-empty",
    "-m",
    `start of ${user}'s work`,
  );
  await git("add", "main.ts");
}

Deno.test("the installed CLI is the pinned version the README names", needs("claude"), async () => {
  const output = await new Deno.Command(CLAUDE_BIN, { args: ["--version"] }).output();
  assert.equal(new TextDecoder().decode(output.stdout).trim(), `${CLAUDE_VERSION} (Claude Code)`);
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  assert.ok(readme.includes(`Checked with Claude Code ${CLAUDE_VERSION} `), "README's version");
});

Deno.test(
  "an identical rerun of claude -p is an exact HIT without normalize.json",
  needs("claude"),
  async () => {
    await using proxy = await startProxy();
    await using alice = await userHome("alice");
    const where = { home: alice.home, cwd: alice.project };
    const first = await served(proxy, HELLO, where);
    assert.deepEqual(first.kinds, { MISS: 1 });
    const again = await served(proxy, HELLO, where);
    assert.deepEqual(again.kinds, { HIT: 1 });
    assert.equal(again.stdout, first.stdout);
    assert.equal(proxy.mock.count("/v1/messages"), 1);
    // Without the profile, another folder is another request.
    await using bob = await userHome("bob");
    assert.deepEqual((await served(proxy, HELLO, { home: bob.home, cwd: bob.project })).kinds, {
      MISS: 1,
    });
  },
);

Deno.test(
  "with the profile, another HOME and another folder are a HIT-NORM, git repos included",
  needs("claude", "git"),
  async () => {
    await using proxy = await withProfile();
    await using alice = await userHome("alice", "demo");
    await using bob = await userHome("bob", "demo");
    await using carol = await userHome("carol", "website");
    for (const [user, folder] of [["alice", alice], ["bob", bob], ["carol", carol]] as const) {
      await gitProject(folder.project, user);
    }
    const first = await served(proxy, HELLO, { home: alice.home, cwd: alice.project });
    assert.deepEqual(first.kinds, { MISS: 1 });
    const sent = proxy.mock.calls[0]!.text;
    assert.ok(
      sent.includes(`Primary working directory: ${alice.project}`),
      "the CLI names its folder",
    );
    assert.ok(sent.includes("# gitStatus"), "and sends a git snapshot");
    const otherHome = await served(proxy, HELLO, { home: bob.home, cwd: bob.project });
    assert.deepEqual(otherHome.kinds, { "HIT-NORM": 1 });
    assert.equal(otherHome.stdout, first.stdout);
    const otherFolder = await served(proxy, HELLO, { home: carol.home, cwd: carol.project });
    assert.deepEqual(otherFolder.kinds, { "HIT-NORM": 1 });
    assert.equal(proxy.mock.count("/v1/messages"), 1);
  },
);

Deno.test(
  "with the profile, another day is a HIT-NORM (the CLI under faketime)",
  needs("claude", "faketime"),
  async () => {
    await using proxy = await withProfile();
    await using alice = await userHome("alice");
    const where = { home: alice.home, cwd: alice.project };
    assert.deepEqual((await served(proxy, HELLO, { ...where, day: "2027-01-15" })).kinds, {
      MISS: 1,
    });
    assert.ok(proxy.mock.calls[0]!.text.includes("Today's date is 2027-01-15."), "faketime took");
    assert.deepEqual((await served(proxy, HELLO, { ...where, day: "2027-02-20" })).kinds, {
      "HIT-NORM": 1,
    });
    assert.equal(proxy.mock.count("/v1/messages"), 1);
  },
);

Deno.test(
  "with the profile, another prompt, CLAUDE.md, tool set or MCP server is a MISS",
  needs("claude", "git"),
  async () => {
    await using proxy = await withProfile();
    await using alice = await userHome("alice");
    await using bob = await userHome("bob");
    await gitProject(alice.project, "alice");
    await gitProject(bob.project, "bob", "Use spaces.\n");
    const where = { home: alice.home, cwd: alice.project };
    assert.deepEqual((await served(proxy, HELLO, where)).kinds, { MISS: 1 });
    const mcp = `${alice.home}/mcp.json`;
    const server = new URL("../support/mcp_glossary.ts", import.meta.url).pathname;
    await Deno.writeTextFile(
      mcp,
      JSON.stringify({
        mcpServers: { glossary: { command: Deno.execPath(), args: ["run", "--quiet", server] } },
      }),
    );
    const others: [string, string, Omit<ClaudeOptions, "proxy">][] = [
      ["another prompt", "[mock:text] Say goodbye", where],
      ["another CLAUDE.md", HELLO, { home: bob.home, cwd: bob.project }],
      ["another tool set", HELLO, { ...where, args: ["--disallowedTools", "Write"] }],
      ["an MCP server", HELLO, { ...where, args: ["--mcp-config", mcp] }],
    ];
    for (const [what, prompt, options] of others) {
      assert.deepEqual((await served(proxy, prompt, options)).kinds, { MISS: 1 }, what);
    }
    const last = proxy.mock.calls.at(-1)!.text;
    assert.ok(last.includes("mcp__glossary__lookup"), "the MCP server's tool reached the request");
    assert.equal(proxy.mock.count("/v1/messages"), 5);
  },
);

Deno.test(
  "an agentic session is stored, rerun from the cache, and replayed with upstream down",
  needs("claude"),
  async () => {
    await using cache = await tempHome("claude_agent_");
    const db = `${cache.path}/cache.db`;
    await using alice = await userHome("alice");
    await Deno.writeTextFile(`${alice.project}/${AGENT_FILE}`, "Buy milk.\n");
    const inAlice = { home: alice.home, cwd: alice.project };
    let first: string;
    let upstream: string; // part of every key: the replaying proxy names the same, now closed
    {
      await using proxy = await withProfile({ store: SqliteStore.open(db, { maxEntries: 1000 }) });
      upstream = proxy.mock.url;
      const run = await served(proxy, AGENT, inAlice);
      first = run.stdout;
      assert.ok(first.includes(`${AGENT_ANSWER}\n1\tBuy milk.`), first);
      assert.deepEqual(run.kinds, { MISS: 3 }, "ls, Read, answer: each stored");
      const rerun = await served(proxy, AGENT, inAlice);
      assert.deepEqual(rerun.kinds, { HIT: 3 });
      assert.equal(rerun.stdout, first);
      assert.equal(proxy.mock.count("/v1/messages"), 3);
    }
    await using proxy = await withProfile({
      store: SqliteStore.open(db, { maxEntries: 1000 }),
      upstream,
      env: { CACHE_MODE: "replay" },
    });
    await proxy.mock.close();
    const replayed = await served(proxy, AGENT, inAlice);
    assert.deepEqual(replayed.kinds, { HIT: 3 });
    assert.equal(replayed.stdout, first);
  },
);

Deno.test(
  "from another folder, a session is served from the cache until a replayed call names the first folder",
  needs("claude"),
  async () => {
    await using proxy = await withProfile();
    await using alice = await userHome("alice");
    await using bob = await userHome("bob", "elsewhere");
    for (const folder of [alice.project, bob.project]) {
      await Deno.writeTextFile(`${folder}/${AGENT_FILE}`, "Buy milk.\n");
    }
    const inAlice = { home: alice.home, cwd: alice.project };
    const inBob = { home: bob.home, cwd: bob.project };
    // ls, then cat: no call names a path.
    const byCat = await served(proxy, `${AGENT_CAT} What do my notes say?`, inAlice);
    assert.deepEqual(byCat.kinds, { MISS: 3 });
    const byCatElsewhere = await served(proxy, `${AGENT_CAT} What do my notes say?`, inBob);
    assert.deepEqual(byCatElsewhere.kinds, { "HIT-NORM": 3 });
    assert.equal(byCatElsewhere.stdout, byCat.stdout);
    // ls, then Read of Alice's absolute path, replayed in Bob's folder: Claude Code refuses to
    // read outside its folder, so the tool result differs and the answer is asked upstream.
    assert.deepEqual((await served(proxy, AGENT, inAlice)).kinds, { MISS: 3 });
    const elsewhere = await served(proxy, AGENT, inBob);
    assert.deepEqual(elsewhere.kinds, { "HIT-NORM": 2, MISS: 1 });
    const result = JSON.parse(proxy.mock.calls.at(-1)!.text).messages.at(-1).content[0];
    assert.equal(result.is_error, true);
    assert.match(
      result.content,
      /requested permissions to read from \/home\/.*\/projects\/demo\/notes\.txt/,
    );
    assert.ok(!elsewhere.stdout.includes("Buy milk."), elsewhere.stdout);
  },
);
