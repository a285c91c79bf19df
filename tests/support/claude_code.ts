/**
 * Claude-Code-shaped requests for normalization tests, built from the fixture
 * `request_claude_code.json` as another run would send it, and the README's
 * normalize.json recipe for Claude Code, read from the README itself so the
 * tests check what users copy.
 *
 * @module
 */

const FIXTURE = new URL("../fixtures/anthropic/request_claude_code.json", import.meta.url);
const README = new URL("../../README.md", import.meta.url);

/** What differs between two Claude Code runs. */
export interface Run {
  readonly cch: string;
  readonly session: string;
  readonly date: string;
  readonly cwd: string;
  readonly home: string;
  readonly question?: string;
  readonly platform?: string;
  readonly claudeMd?: string;
}

/** A first run: Ann, in her project, on 2026-11-26. */
export const RUN_A: Run = {
  cch: "7f3e9",
  session: "aaaa",
  date: "2026-11-26",
  cwd: "/home/ann/project",
  home: "/home/ann",
};

/** The same prompt from Bob's Mac, in another folder, the next day, with another billing block. */
export const RUN_B: Run = {
  cch: "0c1d2",
  session: "bbbb",
  date: "2026-11-27",
  cwd: "/Users/bob/src/elsewhere",
  home: "/Users/bob",
};

/**
 * The fixture as `run` sends it: its billing block, session, date and paths in
 * system text blocks, a CLAUDE.md reminder in the user's message, and a
 * `role: "system"` message.
 *
 * @param run what differs
 * @returns the request body, as JSON text
 */
export async function claudeCodeBody(run: Run): Promise<string> {
  // deno-lint-ignore no-explicit-any
  const body: any = JSON.parse(await Deno.readTextFile(FIXTURE));
  body.system[0].text = body.system[0].text.replace("cch=7f3e9", `cch=${run.cch}`);
  body.metadata.user_id = body.metadata.user_id.replace(/session_.*$/, `session_${run.session}`);
  body.system[2].text = body.system[2].text
    .replace("/home/user/project", run.cwd)
    .replace("2026-11-26", run.date)
    .replace("linux", run.platform ?? "linux");
  body.system[2].text +=
    `\nIs directory a git repo: ${run.cwd.endsWith("project") ? "Yes" : "No"}` +
    `\nNotes are in ${run.home}/notes.\ngitStatus: This is the git status at the start of the ` +
    `conversation.\nCurrent branch: ${run.cwd.split("/").at(-1)}\n\nStatus:\nM ${run.cwd}/a.ts`;
  body.messages.at(-1).content.unshift({
    type: "text",
    text: "<system-reminder>\nAs you answer the user's questions, you can use the following " +
      `context:\n# claudeMd\nContents of ${run.home}/.claude/CLAUDE.md (user's private global ` +
      `instructions for all projects):\n\nBe terse.\n\nContents of ${run.cwd}/CLAUDE.md (project ` +
      `instructions, checked into the codebase):\n\n${
        run.claudeMd ?? "Use tabs."
      }\n# currentDate\nToday's date is ` +
      `${run.date}.\n</system-reminder>`,
  });
  body.messages.unshift({
    role: "system",
    content: `Today's date: ${run.date}\nWorking directory: ${run.cwd}\nNotes in ${run.home}/notes`,
  });
  if (run.question) body.messages.at(-1).content.at(-1).text = run.question;
  return JSON.stringify(body);
}

/**
 * The normalize.json recipe for Claude Code, as the README shows it.
 *
 * @returns the parsed JSON block under "Recipe: Claude Code"
 */
export async function readmeRecipe(): Promise<unknown> {
  const text = await Deno.readTextFile(README);
  const section = text.slice(text.indexOf("### Recipe: Claude Code"));
  const block = /```json\n([\s\S]*?)\n```/.exec(section);
  if (!block) throw new Error('README.md has no JSON block under "### Recipe: Claude Code"');
  return JSON.parse(block[1]!);
}
