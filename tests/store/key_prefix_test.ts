import assert from "node:assert/strict";
import { isKeyPrefix, resolveKeyPrefix } from "../../src/store/key_prefix.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { NO_USAGE } from "../../src/values/usage.ts";
import { newEntry } from "../support/entry.ts";

const A1 = `aaaaaaaa1${"0".repeat(55)}`;
const A2 = `aaaaaaaa2${"0".repeat(55)}`;
const B = `bbbbbbbb${"0".repeat(56)}`;

async function storeWith(keys: readonly string[]): Promise<SqliteStore> {
  const store = SqliteStore.open(":memory:", { maxEntries: 10 });
  for (const [i, key] of keys.entries()) {
    await store.put(newEntry(key, {
      model: undefined,
      createdAt: 1000 + i,
      expiresAt: 10_000,
      body: new TextEncoder().encode("{}"),
      usage: NO_USAGE,
      snippet: "",
    }));
  }
  return store;
}

Deno.test("resolveKeyPrefix() finds the one entry a full key or a unique prefix names", async () => {
  const store = await storeWith([A1, A2, B]);
  assert.deepEqual(await resolveKeyPrefix(store, B), { kind: "found", key: B });
  assert.deepEqual(await resolveKeyPrefix(store, "bbbbbbbb"), { kind: "found", key: B });
  assert.deepEqual(await resolveKeyPrefix(store, "AAAAAAAA1"), { kind: "found", key: A1 });
  await store.close();
});

Deno.test("resolveKeyPrefix() reports a shared prefix as ambiguous with its matches", async () => {
  const store = await storeWith([A1, A2, B]);
  const found = await resolveKeyPrefix(store, "aaaaaaaa");
  assert.equal(found.kind, "ambiguous");
  assert.equal(found.kind === "ambiguous" && found.prefix, "aaaaaaaa");
  assert.deepEqual(found.kind === "ambiguous" && [...found.matches].sort(), [A1, A2]);
  await store.close();
});

Deno.test("resolveKeyPrefix() tells a malformed key from one that matches nothing", async () => {
  const store = await storeWith([A1]);
  assert.deepEqual(await resolveKeyPrefix(store, "CCCCCCCC"), { kind: "none", prefix: "cccccccc" });
  for (const given of ["aaaaaaa", "aaaaaaaz", "", " aaaaaaaa", `${A1}0`]) {
    assert.deepEqual(await resolveKeyPrefix(store, given), { kind: "invalid", given }, given);
  }
  await store.close();
});

Deno.test("isKeyPrefix() takes 8 to 64 lower-case hex digits", () => {
  assert.equal(isKeyPrefix("0123abcd"), true);
  assert.equal(isKeyPrefix("f".repeat(64)), true);
  assert.equal(isKeyPrefix("f".repeat(65)), false);
  assert.equal(isKeyPrefix("0123abc"), false);
  assert.equal(isKeyPrefix("0123ABCD"), false);
});
