/**
 * The mock's scripted agentic session (`[mock:agent]`), shaped for Claude Code: the model first
 * lists the working folder with `Bash`, then `Read`s `notes.txt` in it by its absolute path (taken
 * from the working directory Claude Code states in its environment block, as a real model does),
 * then answers with what the file says. `[mock:agent:cat]` shows the file with `Bash`
 * (`cat notes.txt`) instead, naming no path. Which step comes next is read from the conversation: the
 * number of `tool_result` blocks it already holds. The answer quotes the last tool result, so a
 * different file (or a failed read) gives a different answer.
 *
 * @module
 */

/** One content block of an assistant message. */
export type Block =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };

/** What the model says at this step of the session. */
export interface Turn {
  readonly content: Block[];
  readonly stopReason: "tool_use" | "end_turn";
}

/** The file the session reads, in the working folder. */
export const AGENT_FILE = "notes.txt";
/** The final answer starts with this, then the file's contents as `Read` returned them. */
export const AGENT_ANSWER = "Your notes say:";

const WORKING_DIRECTORY = /^ - Primary working directory: (.+)$/m;

/**
 * The next turn of the scripted session.
 *
 * @param messages the request's `messages`
 * @param toolId a fresh `tool_use` id
 * @param variant `cat` to show the file with `Bash` instead of `Read`
 * @returns the assistant's content and why it stops
 */
export function agentTurn(messages: unknown, toolId: string, variant?: string): Turn {
  const results = toolResults(messages);
  if (results.length === 0) {
    return {
      content: [
        { type: "text", text: "Let me look at the folder." },
        {
          type: "tool_use",
          id: toolId,
          name: "Bash",
          input: { command: "ls", description: "List files in current directory" },
        },
      ],
      stopReason: "tool_use",
    };
  }
  if (results.length === 1 && variant === "cat") {
    const input = { command: `cat ${AGENT_FILE}`, description: "Show the notes" };
    return {
      content: [{ type: "tool_use", id: toolId, name: "Bash", input }],
      stopReason: "tool_use",
    };
  }
  if (results.length === 1) {
    const cwd = WORKING_DIRECTORY.exec(allText(messages))?.[1] ?? ".";
    const input = { "file_path": `${cwd}/${AGENT_FILE}` };
    return {
      content: [{ type: "tool_use", id: toolId, name: "Read", input }],
      stopReason: "tool_use",
    };
  }
  const text = `${AGENT_ANSWER}\n${results.at(-1)}`;
  return { content: [{ type: "text", text }], stopReason: "end_turn" };
}

/** The texts of every `tool_result` block, in order. */
function toolResults(messages: unknown): string[] {
  const results: string[] = [];
  for (const message of Array.isArray(messages) ? messages : []) {
    const content: unknown = message?.content;
    if (!Array.isArray(content)) continue;
    for (const block of content) {
      if (block?.type === "tool_result") results.push(textOf(block.content));
    }
  }
  return results;
}

function allText(messages: unknown): string {
  return (Array.isArray(messages) ? messages : []).map((m) => textOf(m?.content)).join("\n");
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((b) => b?.type === "text" && typeof b.text === "string" ? b.text : "")
    .join("\n");
}

/**
 * The turn as a JSON message.
 *
 * @param turn the turn
 * @param id the message id
 * @param model the model named in the request
 * @returns the JSON text
 */
export function turnJson(turn: Turn, id: string, model: string): string {
  return JSON.stringify({
    id,
    type: "message",
    role: "assistant",
    model,
    content: turn.content,
    "stop_reason": turn.stopReason,
    "stop_sequence": null,
    usage: { input_tokens: 25, output_tokens: 15 },
  });
}

/**
 * The turn as SSE events, a tool's input sent in two `input_json_delta` pieces as the API does.
 *
 * @param turn the turn
 * @param id the message id
 * @param model the model named in the request
 * @returns the events, each ending in its blank line
 */
export function turnEvents(turn: Turn, id: string, model: string): string[] {
  const event = (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const message = {
    id,
    type: "message",
    role: "assistant",
    model,
    content: [],
    "stop_reason": null,
    "stop_sequence": null,
    usage: { input_tokens: 25, output_tokens: 1 },
  };
  const events = [event("message_start", { message })];
  turn.content.forEach((block, index) => {
    if (block.type === "text") {
      events.push(
        event("content_block_start", { index, content_block: { type: "text", text: "" } }),
      );
      events.push(
        event("content_block_delta", { index, delta: { type: "text_delta", text: block.text } }),
      );
    } else {
      const start = { ...block, input: {} };
      events.push(event("content_block_start", { index, content_block: start }));
      const json = JSON.stringify(block.input);
      for (const partial of [json.slice(0, json.length >> 1), json.slice(json.length >> 1)]) {
        const delta = { type: "input_json_delta", "partial_json": partial };
        events.push(event("content_block_delta", { index, delta }));
      }
    }
    events.push(event("content_block_stop", { index }));
  });
  const delta = { "stop_reason": turn.stopReason, "stop_sequence": null };
  events.push(event("message_delta", { delta, usage: { output_tokens: 15 } }));
  events.push(event("message_stop", {}));
  return events;
}
