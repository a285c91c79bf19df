import assert from "node:assert/strict";
import { DEFAULT_PRICE, PriceBook } from "../../src/stats/prices.ts";
import { parsePrices } from "../../src/values/prices.ts";
import { NO_USAGE } from "../../src/values/usage.ts";

Deno.test("PriceBook knows today's list prices by family and generation", async (t) => {
  const book = new PriceBook([], () => assert.fail("no warning for known models"));
  const cases: [string, number[]][] = [
    ["claude-sonnet-4-5-20250929", [3, 3.75, 6, 0.3, 15]],
    ["claude-sonnet-4-6", [3, 3.75, 6, 0.3, 15]],
    ["claude-haiku-4-5-20251001", [1, 1.25, 2, 0.1, 5]],
    ["claude-opus-4-5-20251101", [5, 6.25, 10, 0.5, 25]],
    ["claude-opus-4-1-20250805", [15, 18.75, 30, 1.5, 75]],
    ["claude-opus-4-20250514", [15, 18.75, 30, 1.5, 75]],
    ["claude-3-5-haiku-20241022", [0.8, 1, 1.6, 0.08, 4]],
    ["claude-3-haiku-20240307", [0.25, 0.3, 0.5, 0.03, 1.25]],
    ["claude-haiku-3", [0.25, 0.3, 0.5, 0.03, 1.25]],
  ];
  for (const [model, expected] of cases) {
    await t.step(model, () => {
      const p = book.priceOf(model);
      assert.deepEqual(
        [p.input, p.cacheWrite5m, p.cacheWrite1h, p.cacheRead, p.output],
        expected,
        "exactly, with no floating-point noise",
      );
    });
  }
});

Deno.test("PriceBook prices an unknown model at the default and warns once", () => {
  const warnings: string[] = [];
  const book = new PriceBook([], (w) => warnings.push(w));
  assert.equal(book.priceOf("gpt-9"), DEFAULT_PRICE);
  book.priceOf("gpt-9");
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /gpt-9.*prices\.json/);
});

Deno.test("PriceBook.costOf() adds every kind of token at its price", () => {
  const book = new PriceBook([], () => {});
  const usage = {
    ...NO_USAGE,
    "input_tokens": 1_000_000,
    "ephemeral_5m_input_tokens": 1_000_000,
    "ephemeral_1h_input_tokens": 1_000_000,
    "cache_read_input_tokens": 1_000_000,
    "output_tokens": 1_000_000,
  };
  assert.equal(book.costOf("claude-haiku-4-5", usage), 1 + 1.25 + 2 + 0.1 + 5);
});

Deno.test("parsePrices() reads per-million prices and v2's per-token pairs, overriding the table", () => {
  const rules = parsePrices({
    "my-model": { input: 2, output: 8, cache_read: 0.5 },
    haiku: [0.8e-6, 4e-6],
  });
  const book = new PriceBook(rules, () => {});
  const mine = book.priceOf("acme-my-model-1");
  assert.deepEqual([mine.input, mine.cacheWrite5m, mine.cacheRead, mine.output], [2, 2.5, 0.5, 8]);
  assert.equal(
    +book.priceOf("claude-haiku-4-5").output.toFixed(6),
    4,
    "prices.json wins over the table",
  );
});

Deno.test("parsePrices() names the entry that is wrong", () => {
  assert.throws(() => parsePrices([]), /must be an object/);
  assert.throws(
    () => parsePrices({ sonnet: { input: -1, output: 1 } }),
    /"sonnet": input must be a number ≥ 0/,
  );
  assert.throws(() => parsePrices({ sonnet: [1] }), /"sonnet": a v2 price is \[input, output\]/);
  assert.throws(() => parsePrices({ sonnet: { input: 1 } }), /"sonnet": output must be/);
});
