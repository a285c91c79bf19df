/**
 * The built-in `"profile": "claude-code"` of `normalize.json`: removes from a
 * Claude Code request the details that differ from machine to machine, folder
 * to folder and day to day, and nothing else. Checked against the requests of
 * `@anthropic-ai/claude-code` 2.1.332 (`claude -p`).
 *
 * Each item is found by its label at its place in the request, never by a
 * pattern run over the whole text, so prompt text that happens to look like a
 * path or a date is kept:
 *
 * - **the environment block**: the text block, in a `role: "system"` message,
 *   that starts `# Environment\nYou have been invoked in the following
 *   environment: `. Its line ` - Primary working directory: <path>` gives the
 *   working directory; the path, the value of ` - Is a git repository:` and
 *   the block's last line `Today's date is YYYY-MM-DD.` are replaced by
 *   placeholders. Platform, shell and OS version stay: another OS is another
 *   request.
 * - **the memory path**: the line of a `system` text block that starts
 *   ``You have a persistent file-based memory at `<home>/.claude/projects/<slug>/memory/` ``,
 *   whose slug is the working directory with every character other than a
 *   letter or digit turned into `-`. The path is replaced; `<home>` is taken
 *   as the home folder. A slug that is not the working directory's leaves the
 *   line as it is.
 * - **CLAUDE.md headers**: in the user's `<system-reminder>` that starts
 *   `Codebase and user instructions are shown below.`, each line
 *   `Contents of <path> (<label>):` has a leading working directory written
 *   `<cwd>` and a leading home folder written `~`. The files' contents stay.
 * - **the git snapshot**: the `# gitStatus` section (branch, changed files,
 *   git user, recent commits) of the user's `<system-reminder>` that starts
 *   `As you answer the user's questions, you can use the following context:`
 *   is removed, up to the next `# ` section or the reminder's closing
 *   sentence. `"keep_git_status": true` keeps it.
 *
 * The billing block (`x-anthropic-billing-header`) and `metadata` (device and
 * session ids) are already out of every key. A request without the
 * environment block, or whose working directory is not an absolute path, is
 * not Claude Code's and is left untouched. Paths inside tool calls and tool
 * results are not touched: they are the conversation.
 *
 * @module
 */
import { isJsonObject, type JsonObject, type JsonTree } from "./canonical_json.ts";

const ENVIRONMENT = "# Environment\nYou have been invoked in the following environment: \n";
const WORKING_DIRECTORY = /^ - Primary working directory: (\/[^\n]*)$/m;
const GIT_FLAG = /^ - Is a git repository: (?:true|false)$/m;
const DATE_LINE = /\nToday's date is \d{4}-\d{2}-\d{2}\.$/;
const MEMORY =
  /^(You have a persistent file-based memory at `)(\/[^`\n]*)\/\.claude\/projects\/([^/`\n]+)\/memory\/`/m;
const INSTRUCTIONS = "<system-reminder>\nCodebase and user instructions are shown below.";
const CONTENTS = /^Contents of (\/[^\n]*?) \(([^()\n]+)\):$/gm;
const CONTEXT =
  "<system-reminder>\nAs you answer the user's questions, you can use the following " +
  "context:\n";
const GIT_STATUS = "# gitStatus\n";
const SECTION_END = [
  "\n# ",
  "\n\nClaude Code attached this context automatically",
  "\n</system-reminder>",
];

/** Where this request's per-machine details were found. */
interface Machine {
  readonly cwd: string;
  home: string | undefined;
}

/**
 * Removes Claude Code's per-machine details from a parsed request, in place.
 *
 * @param body a parsed request body (billing block and metadata already out)
 * @param keepGitStatus keep the `# gitStatus` section
 * @returns the same body
 */
export function applyClaudeCodeProfile(body: JsonObject, keepGitStatus: boolean): JsonObject {
  const environment = environmentMessage(body);
  const cwd = environment === undefined ? undefined : workingDirectory(environment.content);
  if (environment === undefined || cwd === undefined) return body;
  mapTexts(
    environment,
    "content",
    (text) =>
      text.startsWith(ENVIRONMENT)
        ? text.replace(WORKING_DIRECTORY, " - Primary working directory: <cwd>")
          .replace(GIT_FLAG, " - Is a git repository: <removed>")
          .replace(DATE_LINE, "\nToday's date is <date>.")
        : text,
  );
  const machine: Machine = { cwd, home: undefined };
  mapTexts(body, "system", (text) => withoutMemoryPath(text, machine));
  for (const message of userMessages(body)) {
    mapTexts(message, "content", (text) => {
      if (text.startsWith(INSTRUCTIONS)) return withPlaceholders(text, machine);
      if (!keepGitStatus && text.startsWith(CONTEXT)) return withoutGitStatus(text);
      return text;
    });
  }
  return body;
}

/** The `role: "system"` message whose content (a string or text blocks) has the environment block. */
function environmentMessage(body: JsonObject): JsonObject | undefined {
  if (!Array.isArray(body.messages)) return undefined;
  return body.messages.find((m): m is JsonObject =>
    isJsonObject(m) && m.role === "system" &&
    (typeof m.content === "string"
      ? m.content.startsWith(ENVIRONMENT)
      : textBlocks(m.content).some((b) => b.text.startsWith(ENVIRONMENT)))
  );
}

/** The absolute path on the environment block's working directory line. */
function workingDirectory(content: JsonTree | undefined): string | undefined {
  const texts = typeof content === "string" ? [content] : textBlocks(content).map((b) => b.text);
  const block = texts.find((text) => text.startsWith(ENVIRONMENT));
  return block === undefined ? undefined : WORKING_DIRECTORY.exec(block)?.[1];
}

function withoutMemoryPath(text: string, machine: Machine): string {
  const m = MEMORY.exec(text);
  if (m === null || m[3] !== slug(machine.cwd)) return text;
  machine.home = m[2];
  return text.replace(MEMORY, "$1<memory>`");
}

/** Claude Code's name for a folder's project: every character but a letter or digit is `-`. */
function slug(path: string): string {
  return path.replace(/[^A-Za-z0-9]/g, "-");
}

function withPlaceholders(text: string, machine: Machine): string {
  return text.replace(CONTENTS, (line, path: string, label: string) => {
    const short = under(path, machine.cwd, "<cwd>") ??
      (machine.home === undefined ? undefined : under(path, machine.home, "~"));
    return short === undefined ? line : `Contents of ${short} (${label}):`;
  });
}

function under(path: string, folder: string, name: string): string | undefined {
  return path.startsWith(`${folder}/`) ? `${name}${path.slice(folder.length)}` : undefined;
}

function withoutGitStatus(text: string): string {
  const start = text.indexOf(`\n${GIT_STATUS}`, CONTEXT.length - 1);
  if (start < 0) return text;
  const from = start + 1 + GIT_STATUS.length;
  const ends = SECTION_END.map((end) => text.indexOf(end, from)).filter((i) => i >= 0);
  if (ends.length === 0) return text;
  return text.slice(0, start + 1) + text.slice(Math.min(...ends) + 1);
}

type TextBlock = JsonObject & { text: string };

/** The text blocks of a `system` or a message's `content` given as blocks. */
function textBlocks(content: JsonTree | undefined): TextBlock[] {
  if (!Array.isArray(content)) return [];
  return content.filter((b): b is TextBlock =>
    isJsonObject(b) && b.type === "text" && typeof b.text === "string"
  );
}

/** Applies `f` to `owner[field]`: a string, or the text of its text blocks. */
function mapTexts(owner: JsonObject, field: string, f: (text: string) => string): void {
  const content = owner[field];
  if (typeof content === "string") owner[field] = f(content);
  for (const block of textBlocks(content)) block.text = f(block.text);
}

function userMessages(body: JsonObject): JsonObject[] {
  if (!Array.isArray(body.messages)) return [];
  return body.messages.filter((m): m is JsonObject => isJsonObject(m) && m.role === "user");
}
