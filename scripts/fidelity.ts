/**
 * `deno task fidelity`: the live proof, against the real (paid) Anthropic API.
 * With `ANTHROPIC_API_KEY` set it starts the proxy (`src/main.ts serve`, a
 * fresh cache home, the key passed through as the client's) and sends through
 * it a JSON message, a stream, a tool_use, a streaming tool_use and a
 * `count_tokens` call, each cold then warm, and a burst of identical requests.
 * It checks that every warm answer is byte-identical to its cold one and
 * served from the cache, and that a burst makes exactly one upstream call.
 * It ends with `N passed, N failed` and exits 1 on a failure.
 *
 * Without a key it prints one line saying what it needs and exits 0, sending
 * nothing. It is not part of `deno task test`. `FIDELITY_UPSTREAM` (default
 * the real API) and `FIDELITY_MODEL` (default `claude-haiku-4-5`) change where
 * and with what it runs.
 *
 * @module
 */
import { post } from "./_bench_http.ts";
import { proxyCommand, type Running, start } from "./_bench_proc.ts";

const BURST = 5;
const TOOLS = [{
  name: "get_weather",
  description: "The current weather in a city.",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
}];

/** One check's outcome, as printed. */
interface Outcome {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

async function main(): Promise<number> {
  const key = Deno.env.get("ANTHROPIC_API_KEY") ?? "";
  if (key === "") {
    console.log(
      "fidelity: skipped, nothing sent: set ANTHROPIC_API_KEY to check cold→warm replay " +
        "against the real API (a few small paid requests)",
    );
    return 0;
  }
  const upstream = Deno.env.get("FIDELITY_UPSTREAM") ?? "https://api.anthropic.com";
  const model = Deno.env.get("FIDELITY_MODEL") ?? "claude-haiku-4-5";
  const home = await Deno.makeTempDir({ prefix: "fidelity_" });
  const { args, env } = proxyCommand(home, upstream);
  const proxy = await start(args, env);
  const outcomes: Outcome[] = [];
  try {
    const message = (text: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({
        model,
        max_tokens: 64,
        messages: [{ role: "user", content: text }],
        ...extra,
      });
    const weather = "What is the weather in Paris? Use the tool.";
    const cases: [string, string][] = [
      ["json", message("Say hello in three words.")],
      ["stream", message("Count from one to five.", { stream: true })],
      ["tool_use", message(weather, { tools: TOOLS })],
      ["stream tool_use", message(weather, { tools: TOOLS, stream: true })],
    ];
    for (const [name, body] of cases) outcomes.push(await coldWarm(proxy, key, name, body));
    outcomes.push(await countTokens(proxy, key, message("Hello")));
    outcomes.push(await burst(proxy, key, message("Name one prime number.")));
  } finally {
    await proxy.stop();
    await Deno.remove(home, { recursive: true });
  }
  for (const o of outcomes) console.log(`${o.ok ? "ok  " : "FAIL"} ${o.name}: ${o.detail}`);
  const failed = outcomes.filter((o) => !o.ok).length;
  console.log(`${outcomes.length - failed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

/** Sends `body` twice: a cold MISS, then a warm HIT with the same bytes. */
async function coldWarm(proxy: Running, key: string, name: string, body: string): Promise<Outcome> {
  const cold = await post(proxy.url, body, { "x-api-key": key });
  if (cold.status !== 200) return { name, ok: false, detail: `cold ${cold.status}: ${text(cold)}` };
  const warm = await post(proxy.url, body, { "x-api-key": key });
  const same = equalBytes(cold.bytes, warm.bytes);
  const ok = cold.cache === "MISS" && warm.cache === "HIT" && same;
  const detail = `cold ${cold.cache}, warm ${warm.cache}, ${cold.bytes.length} bytes ` +
    (same ? "byte-identical" : "DIFFERENT");
  return { name, ok, detail };
}

/** `count_tokens` passes through (never cached) and answers with a count. */
async function countTokens(proxy: Running, key: string, body: string): Promise<Outcome> {
  const { model, messages } = JSON.parse(body);
  const res = await fetch(`${proxy.url}/v1/messages/count_tokens`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "x-api-key": key,
    },
    body: JSON.stringify({ model, messages }),
  });
  const answer = await res.text();
  const tokens = res.ok ? JSON.parse(answer).input_tokens : undefined;
  const ok = res.ok && Number.isInteger(tokens);
  return {
    name: "count_tokens",
    ok,
    detail: ok ? `${tokens} input tokens` : `${res.status}: ${answer}`,
  };
}

/** {@link BURST} identical requests at once: one goes upstream, the others wait for it. */
async function burst(proxy: Running, key: string, body: string): Promise<Outcome> {
  const answers = await Promise.all(
    Array.from({ length: BURST }, () => post(proxy.url, body, { "x-api-key": key })),
  );
  const misses = answers.filter((a) => a.cache === "MISS").length;
  const same = answers.every((a) => a.status === 200 && equalBytes(a.bytes, answers[0]!.bytes));
  const kinds = answers.map((a) => a.cache).join(", ");
  return {
    name: `burst of ${BURST}`,
    ok: misses === 1 && same,
    detail: `${misses} upstream call${misses === 1 ? "" : "s"} (${kinds})` +
      (same ? ", byte-identical" : ", answers DIFFER"),
  };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function text(answer: { bytes: Uint8Array }): string {
  return new TextDecoder().decode(answer.bytes).slice(0, 300);
}

if (import.meta.main) Deno.exit(await main());
