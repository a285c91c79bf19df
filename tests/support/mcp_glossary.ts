/**
 * A minimal MCP server on stdio with one tool, `lookup`, for the tests that
 * give Claude Code an MCP server (`--mcp-config`): it answers `initialize`
 * and `tools/list`, and `{}` to any other request.
 *
 * @module
 */

const TOOL = {
  name: "lookup",
  description: "Looks a word up in the team glossary.",
  inputSchema: { type: "object", properties: { word: { type: "string" } }, required: ["word"] },
};

function reply(id: unknown, result: unknown): void {
  const line = JSON.stringify({ jsonrpc: "2.0", id, result }) + "\n";
  Deno.stdout.writeSync(new TextEncoder().encode(line));
}

let buffered = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  buffered += chunk;
  let end;
  while ((end = buffered.indexOf("\n")) >= 0) {
    const message = JSON.parse(buffered.slice(0, end));
    buffered = buffered.slice(end + 1);
    if (message.id === undefined) continue; // a notification
    if (message.method === "initialize") {
      const serverInfo = { name: "glossary", version: "1.0.0" };
      const version = message.params?.protocolVersion;
      reply(message.id, { protocolVersion: version, capabilities: { tools: {} }, serverInfo });
    } else if (message.method === "tools/list") reply(message.id, { tools: [TOOL] });
    else reply(message.id, {});
  }
}
