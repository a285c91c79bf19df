/**
 * Normalization tiers through the proxy, with Claude-Code-shaped requests and the README's recipe.
 */
import assert from "node:assert/strict";
import { parseNormalizeRules } from "../../src/values/normalize_rules.ts";
import { claudeCodeBody, readmeRecipe, RUN_A, RUN_B } from "../support/claude_code.ts";
import { messageBody, postMessage, type ProxyUnderTest, startProxy } from "../support/proxy.ts";

async function kind(proxy: ProxyUnderTest, body: string): Promise<string | null> {
  const res = await postMessage(proxy, body);
  await res.arrayBuffer();
  assert.equal(res.status, 200);
  return res.headers.get("x-cache");
}

Deno.test("Claude Code from another folder, HOME and day is a HIT-NORM with the README's recipe", async () => {
  await using proxy = await startProxy({ normalize: parseNormalizeRules(await readmeRecipe()) });
  assert.equal(await kind(proxy, await claudeCodeBody(RUN_A)), "MISS");
  assert.equal(await kind(proxy, await claudeCodeBody(RUN_B)), "HIT-NORM");
  // Only the billing block and session differ: an exact hit, no rules needed.
  assert.equal(
    await kind(proxy, await claudeCodeBody({ ...RUN_A, cch: "99999", session: "cccc" })),
    "HIT",
  );
  assert.equal(
    await kind(proxy, await claudeCodeBody({ ...RUN_A, question: "Delete every file." })),
    "MISS",
    "another question is another answer",
  );
  assert.equal(proxy.mock.count("/v1/messages"), 2);
  assert.deepEqual(proxy.stats.ledger.session().byKind, { MISS: 2, "HIT-NORM": 1, HIT: 1 });
});

Deno.test("without normalize.json, only the billing block and metadata are ignored", async () => {
  await using proxy = await startProxy();
  assert.equal(await kind(proxy, await claudeCodeBody(RUN_A)), "MISS");
  assert.equal(
    await kind(proxy, await claudeCodeBody({ ...RUN_A, cch: "1", session: "2" })),
    "HIT",
  );
  assert.equal(await kind(proxy, await claudeCodeBody(RUN_B)), "MISS");
});

Deno.test("suffix tier: a conversation that ends the same way is a HIT-SUFFIX", async () => {
  await using proxy = await startProxy({
    normalize: parseNormalizeRules({ suffix_only: true, suffix_turns: 1 }),
  });
  const ending = (history: string) =>
    messageBody("", {
      messages: [
        { role: "user", content: history },
        { role: "assistant", content: "ok" },
        { role: "user", content: "What is 2 + 2?" },
      ],
    });
  assert.equal(await kind(proxy, ending("first context")), "MISS");
  assert.equal(await kind(proxy, ending("other context")), "HIT-SUFFIX");
});
