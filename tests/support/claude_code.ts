/**
 * Claude Code requests for normalization tests, built from a real request of
 * the pinned CLI as another run would send it, and the README's normalize.json
 * for Claude Code, read from the README itself so the tests check what users
 * copy.
 *
 * @module
 */

/** A request of Claude Code 2.1.332 (`claude -p`), recorded by the mock. */
const FIXTURE = new URL("../fixtures/claude_code/request_2.1.332.json", import.meta.url);
/** What the recorded run had. */
const RECORDED = {
  home: "/home/alice",
  cwd: "/home/alice/projects/demo",
  date: "2026-12-04",
  question: "[mock:text] Say hello",
};
const README = new URL("../../README.md", import.meta.url);
const HEADING = "### Claude Code from another folder";

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
 * The recorded request as `run` sends it: its billing block (with a `cch`, as
 * earlier versions sent), session, date, paths (working directory, memory
 * folder, CLAUDE.md headers), platform, project CLAUDE.md and question.
 *
 * @param run what differs
 * @returns the request body, as JSON text
 */
export async function claudeCodeBody(run: Run): Promise<string> {
  const text = (await Deno.readTextFile(FIXTURE))
    .replaceAll(RECORDED.cwd, run.cwd)
    .replaceAll(slug(RECORDED.cwd), slug(run.cwd))
    .replaceAll(RECORDED.home, run.home)
    .replaceAll(`Today's date is ${RECORDED.date}.`, `Today's date is ${run.date}.`)
    .replace(" - Platform: linux\\n", ` - Platform: ${run.platform ?? "linux"}\\n`)
    .replace("\\n\\nUse tabs.\\n", `\\n\\n${run.claudeMd ?? "Use tabs."}\\n`)
    .replace("cc_entrypoint=sdk-cli;", `cc_entrypoint=sdk-cli; cch=${run.cch};`)
    .replace(
      `"text":"${RECORDED.question}"`,
      JSON.stringify({ text: run.question ?? "Say hello" }).slice(1, -1),
    );
  // deno-lint-ignore no-explicit-any
  const body: any = JSON.parse(text);
  const user = JSON.parse(body.metadata.user_id);
  body.metadata.user_id = JSON.stringify({ ...user, session_id: `session_${run.session}` });
  return JSON.stringify(body);
}

function slug(path: string): string {
  return path.replace(/[^A-Za-z0-9]/g, "-");
}

/**
 * The normalize.json recipe for Claude Code, as the README shows it.
 *
 * @returns the parsed JSON block under "Claude Code from another folder"
 */
export async function readmeRecipe(): Promise<unknown> {
  const text = await Deno.readTextFile(README);
  const section = text.slice(text.indexOf(HEADING));
  const block = /```json\n([\s\S]*?)\n```/.exec(section);
  if (!block) throw new Error(`README.md has no JSON block under "${HEADING}"`);
  return JSON.parse(block[1]!);
}
