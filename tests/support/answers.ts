/**
 * Checks of whole answers in tests: SSE text split into events, and the text a `[mock:big:N]`
 * answer must carry.
 *
 * @module
 */
import assert from "node:assert/strict";

const decoder = new TextDecoder();

/** Parses an SSE text into `{ event, data }` pairs. */
export function sseEvents(text: string): { event: string; data: string }[] {
  return text.split(/\n\n/).filter((block) => block.trim() !== "").map((block) => {
    const lines = block.split("\n");
    const event = lines.find((l) => l.startsWith("event:"))?.slice(6).trim() ?? "";
    const data = lines.filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join(
      "\n",
    );
    return { event, data };
  });
}

/** The text a `[mock:big:N]` answer carries: the whole JSON message or the SSE deltas joined. */
function answerText(bytes: Uint8Array, stream: boolean): string {
  const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  if (!stream) {
    const message = JSON.parse(text);
    assert.equal(message.type, "message");
    return message.content.map((b: { text?: string }) => b.text ?? "").join("");
  }
  const events = sseEvents(text);
  assert.equal(events[0]?.event, "message_start", "stream starts with message_start");
  assert.equal(events.at(-1)?.event, "message_stop", "stream ends with message_stop");
  assert.ok(text.endsWith("\n\n"), "stream ends with a blank line");
  assert.ok(!events.some((e) => e.event === "error"), "stream has no error event");
  return events
    .filter((e) => e.event === "content_block_delta")
    .map((e) => JSON.parse(e.data).delta.text as string)
    .join("");
}

/**
 * Asserts that `bytes` is a complete answer to the `[mock:big:size]` request whose prompt is
 * `prompt`: its text is `size` characters of that very prompt repeated line after line.
 */
export function assertAnswers(
  bytes: Uint8Array,
  prompt: string,
  size: number,
  stream: boolean,
  where: string,
): void {
  let text: string;
  try {
    text = answerText(bytes, stream);
  } catch (e) {
    const start = JSON.stringify(decoder.decode(bytes.subarray(0, 200)));
    const end = JSON.stringify(decoder.decode(bytes.subarray(-200)));
    assert.fail(`${where}: not a whole answer (${e}); ${bytes.length} bytes ${start} … ${end}`);
  }
  assert.equal(text.length, size, `${where}: answer text has the requested size`);
  const lines = text.split("\n");
  const last = lines.pop()!;
  assert.ok(lines.length > 0, `${where}: answer text repeats the prompt`);
  for (const line of lines) {
    if (line !== prompt) {
      assert.fail(`${where}: answer carries a foreign line: ${line.slice(0, 120)}`);
    }
  }
  assert.ok(prompt.startsWith(last), `${where}: answer text ends with a prefix of the prompt`);
}
