import assert from "node:assert/strict";
import { Lru } from "../src/lru.ts";

Deno.test("Lru forgets the least recently used entries beyond its byte budget", () => {
  const lru = new Lru<string, number>(10);
  lru.set("a", 1, 4);
  lru.set("b", 2, 4);
  assert.equal(lru.get("a"), 1); // b is now the least recently used
  lru.set("c", 3, 4);
  assert.equal(lru.get("b"), undefined);
  assert.deepEqual([lru.get("a"), lru.get("c"), lru.size, lru.bytes], [1, 3, 2, 8]);
});

Deno.test("Lru never keeps an entry larger than its budget and counts replacements once", () => {
  const lru = new Lru<string, number>(10);
  lru.set("huge", 1, 11);
  assert.equal(lru.get("huge"), undefined);
  lru.set("a", 1, 6);
  lru.set("a", 2, 6);
  assert.deepEqual([lru.get("a"), lru.bytes, lru.size], [2, 6, 1]);
  lru.delete("a");
  assert.deepEqual([lru.bytes, lru.size], [0, 0]);
});

Deno.test("Lru gives a used entry a second chance and evicts the unused one behind it", () => {
  const lru = new Lru<string, number>(3);
  for (const key of ["a", "b", "c"]) lru.set(key, 0, 1);
  lru.get("a");
  lru.get("b");
  lru.set("d", 0, 1);
  assert.deepEqual(["a", "b", "c", "d"].map((k) => lru.get(k) !== undefined), [
    true,
    true,
    false,
    true,
  ]);
  lru.set("e", 0, 1); // a, b and d were used since: their marks are cleared in turn
  assert.equal(lru.size, 3);
  assert.equal(lru.bytes, 3);
});
