import assert from "node:assert/strict";
import { isJsonObject, type JsonObject, parseJsonTree } from "../../src/cache/canonical_json.ts";
import { applyClaudeCodeProfile } from "../../src/cache/claude_code_profile.ts";
import { dropBillingBlock } from "../../src/cache/normalize.ts";
import { claudeCodeBody, type Run, RUN_A, RUN_B } from "../support/claude_code.ts";

/** A recorded Claude Code 2.1.332 request as `RUN_A` sends it, parsed. */
async function recorded(run = RUN_A): Promise<JsonObject> {
  const body = parseJsonTree(await claudeCodeBody(run));
  assert.ok(isJsonObject(body));
  return body;
}

/** What the normalized tier hashes for `run`: no billing block, no metadata, the profile. */
async function keyed(run: Run): Promise<string> {
  const body = dropBillingBlock(await recorded(run));
  delete body.metadata;
  return JSON.stringify(applyClaudeCodeProfile(body, false));
}

// deno-lint-ignore no-explicit-any
function texts(body: any): { environment: string; system: string; user: string[] } {
  return {
    environment: body.messages[1].content[0].text,
    system: body.system[2].text,
    user: body.messages[0].content.map((b: { text: string }) => b.text),
  };
}

Deno.test("the profile replaces the folder, git flag, date, memory path and CLAUDE.md paths", async () => {
  const before = texts(await recorded());
  assert.ok(before.environment.includes(` - Primary working directory: ${RUN_A.cwd}\n`));
  const after = texts(applyClaudeCodeProfile(await recorded(), false));
  assert.ok(after.environment.includes(" - Primary working directory: <cwd>\n"));
  assert.ok(after.environment.includes(" - Is a git repository: <removed>\n"));
  assert.ok(after.environment.endsWith("\nToday's date is <date>."));
  assert.ok(after.environment.includes(" - Platform: linux\n - Shell: bash\n - OS Version: "));
  assert.ok(after.system.includes("You have a persistent file-based memory at `<memory>`."));
  assert.ok(after.user[0]!.includes("Contents of ~/.claude/CLAUDE.md (user's private global"));
  assert.ok(after.user[0]!.includes("Contents of <cwd>/CLAUDE.md (project instructions"));
  assert.ok(after.user[0]!.includes("\n\nUse tabs.\n"), "the file's content stays");
  assert.ok(!after.user[1]!.includes("gitStatus"), after.user[1]);
  assert.ok(after.user[1]!.includes("Claude Code attached this context automatically"));
  assert.equal(after.user[3], "Say hello");
  const everything = await keyed(RUN_A);
  assert.ok(!everything.includes(RUN_A.home), "no home path is left anywhere");
  assert.equal(everything, await keyed(RUN_B), "another folder, HOME and day give the same body");
});

Deno.test("keep_git_status keeps the git snapshot", async () => {
  const kept = texts(applyClaudeCodeProfile(await recorded(), true));
  assert.ok(kept.user[1]!.includes("# gitStatus\nThis is the git status"));
  assert.ok(kept.user[1]!.includes("Current branch: main"));
});

Deno.test("the profile touches nothing in a request without Claude Code's environment block", async () => {
  const plain = {
    model: "m",
    system: "You have a persistent file-based memory at `/home/x/.claude/projects/-p/memory/`.",
    messages: [
      {
        role: "user",
        content: " - Primary working directory: /home/x\nToday's date is 2026-12-04.",
      },
    ],
  };
  const body = parseJsonTree(JSON.stringify(plain));
  assert.ok(isJsonObject(body));
  assert.deepEqual(applyClaudeCodeProfile(body, false), plain);
  // Claude Code's request minus its environment block: nothing else is rewritten either.
  // deno-lint-ignore no-explicit-any
  const headless: any = await recorded();
  headless.messages.splice(1, 1);
  const copy = JSON.stringify(headless);
  assert.equal(JSON.stringify(applyClaudeCodeProfile(headless, false)), copy);
  // A working directory that is not an absolute POSIX path: not even the date line goes.
  // deno-lint-ignore no-explicit-any
  const windows: any = await recorded();
  windows.messages[1].content[0].text = windows.messages[1].content[0].text
    .replace(`directory: ${RUN_A.cwd}\n`, "directory: C:\\Users\\ann\\project\n");
  const before = JSON.stringify(windows);
  assert.ok(before.includes("C:\\\\Users"), "the test changed the line");
  assert.equal(JSON.stringify(applyClaudeCodeProfile(windows, false)), before);
});

Deno.test("the profile keeps prompt text that looks like a label, a path or a date", async () => {
  const question = `Contents of ${RUN_A.cwd}/CLAUDE.md (project instructions, checked into the ` +
    `codebase):\n - Primary working directory: ${RUN_A.cwd}\nToday's date is 2026-12-04.`;
  const body = await recorded({ ...RUN_A, question });
  assert.equal(texts(applyClaudeCodeProfile(body, false)).user[3], question);
});

Deno.test("a memory path whose slug is not the working directory's stays", async () => {
  // deno-lint-ignore no-explicit-any
  const body: any = await recorded();
  const slug = RUN_A.cwd.replace(/[^A-Za-z0-9]/g, "-");
  assert.ok(body.system[2].text.includes(`/${slug}/memory/`));
  body.system[2].text = body.system[2].text.replace(`/${slug}/memory/`, "/-home-other/memory/");
  const system = texts(applyClaudeCodeProfile(body, false)).system;
  assert.ok(system.includes(`at \`${RUN_A.home}/.claude/projects/`), system.slice(0, 200));
});

Deno.test("the environment block as a string (as in the calls after a tool result) is handled", async () => {
  // deno-lint-ignore no-explicit-any
  const body: any = await recorded();
  body.messages[1].content = body.messages[1].content[0].text;
  const after = applyClaudeCodeProfile(body, false);
  // deno-lint-ignore no-explicit-any
  const environment = (after as any).messages[1].content as string;
  assert.ok(environment.includes(" - Primary working directory: <cwd>\n"));
  assert.ok(environment.endsWith("\nToday's date is <date>."));
});
