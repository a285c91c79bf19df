/**
 * Properties of the cache key over generated requests: two requests share a
 * key exactly when they ask the same thing. Equal values spelled apart (member
 * order, whitespace, string escapes) share one; anything else that differs
 * (a value, a type, array order, a member, a number's spelling, a header, the
 * path) never does, and a body with a duplicate member name shares a key only
 * with its own bytes.
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { cacheKey, KeyMemo, type KeyRequest } from "../../src/cache/key.ts";
import { keyRequest } from "../support/key_request.ts";
import { BODY, DOC, type Doc, sameRequest, spell } from "../support/json_spelling.ts";

const UPSTREAM = "https://api.anthropic.com";
const RUNS = { numRuns: 300 };
const SEED = fc.integer();
const encode = (text: string) => new TextEncoder().encode(text);

const key = (body: string, parts: Partial<KeyRequest> = {}) =>
  cacheKey(keyRequest({ body: encode(body), ...parts }), UPSTREAM);

Deno.test("cacheKey() property: every spelling of one body shares a key", async () => {
  await fc.assert(
    fc.asyncProperty(BODY, SEED, SEED, async (body, a, b) => {
      assert.equal(await key(spell(body, a)), await key(spell(body, b)));
    }),
    RUNS,
  );
});

Deno.test("cacheKey() property: one change anywhere in a body changes the key, unless it asks the same", async () => {
  await fc.assert(
    fc.asyncProperty(BODY, fc.nat(), fc.nat(3), DOC, SEED, async (body, at, kind, other, seed) => {
      const changed = change(body, at % size(body), kind, other);
      const same = (await key(spell(body, seed))) === (await key(spell(changed, seed + 1)));
      assert.equal(same, sameRequest(body, changed), `${spell(body, 0)} vs ${spell(changed, 0)}`);
    }),
    RUNS,
  );
});

Deno.test("cacheKey() property: two generated bodies share a key only when they ask the same", async () => {
  await fc.assert(
    fc.asyncProperty(BODY, BODY, SEED, async (a, b, seed) => {
      const same = (await key(spell(a, seed))) === (await key(spell(b, seed)));
      assert.equal(same, sameRequest(a, b));
    }),
    RUNS,
  );
});

Deno.test("cacheKey() property: the key follows path, anthropic-version, the set of betas and namespace", async () => {
  const parts = fc.record({
    path: fc.constantFrom("/v1/messages", "/v1/messages/count_tokens", "/v1/messages?beta=true"),
    anthropicVersion: fc.constantFrom(null, "2023-06-01", "2023-01-01"),
    betas: fc.subarray(["a-1", "b-2", "c-3"]),
    namespace: fc.constantFrom("", "team-a", "team-b"),
  });
  await fc.assert(
    fc.asyncProperty(BODY, parts, parts, SEED, async (body, x, y, seed) => {
      const text = spell(body, seed);
      const a = await key(text, { ...x, anthropicBeta: betaHeader(x.betas, seed) });
      const b = await key(text, { ...y, anthropicBeta: betaHeader(y.betas, seed + 1) });
      const sameSet = [...x.betas].sort().join() === [...y.betas].sort().join();
      const same = x.path === y.path && x.anthropicVersion === y.anthropicVersion &&
        x.namespace === y.namespace && sameSet;
      assert.equal(a === b, same);
    }),
    RUNS,
  );
});

Deno.test("cacheKey() property: a body with a duplicate member name shares a key only with its own bytes", async () => {
  const members = fc.uniqueArray(fc.tuple(fc.string({ maxLength: 3 }), DOC), {
    selector: ([name]) => name,
    minLength: 1,
    maxLength: 4,
  });
  await fc.assert(
    fc.asyncProperty(members, fc.nat(), DOC, fc.boolean(), SEED, async (list, i, v, deep, seed) => {
      const [name, first] = list[i % list.length]!;
      const wrap = (o: Doc): Doc =>
        deep ? { t: "obj", members: [["x", { t: "arr", items: [o] }]] } : o;
      const duplicated = spell(wrap({ t: "obj", members: [...list, [name, v]] }), seed);
      const k = await key(duplicated);
      const merged = (value: Doc) =>
        wrap({ t: "obj", members: list.map(([n, d]) => [n, n === name ? value : d] as const) });
      for (const value of [first, v]) assert.notEqual(k, await key(spell(merged(value), seed)));
      const respelled = spell(wrap({ t: "obj", members: [...list, [name, v]] }), seed + 1);
      assert.equal(k === (await key(respelled)), respelled === duplicated);
    }),
    RUNS,
  );
});

/** `anthropic-beta` as a client may spell a set: any order, spaces, repeats; null for none. */
function betaHeader(betas: readonly string[], seed: number): string | null {
  if (betas.length === 0) return seed % 2 === 0 ? null : "";
  const spelled = seed % 2 === 0 ? [...betas].reverse() : [...betas, betas[0]!];
  return spelled.join(seed % 3 === 0 ? ", " : ",");
}

/** How many nodes a document has. */
function size(doc: Doc): number {
  if (doc.t === "arr") return 1 + doc.items.reduce((n, d) => n + size(d), 0);
  if (doc.t === "obj") return 1 + doc.members.reduce((n, [, d]) => n + size(d), 0);
  return 1;
}

/** `doc` with node `at` (in pre-order) changed in one of four ways. */
function change(doc: Doc, at: number, kind: number, other: Doc): Doc {
  if (at === 0) return changeHere(doc, kind, other);
  let rest = at - 1;
  const inChild = (child: Doc): Doc => {
    const n = size(child);
    const out = rest >= 0 && rest < n ? change(child, rest, kind, other) : child;
    rest -= n;
    return out;
  };
  if (doc.t === "arr") return { t: "arr", items: doc.items.map(inChild) };
  if (doc.t === "obj") return { t: "obj", members: doc.members.map(([k, d]) => [k, inChild(d)]) };
  return doc;
}

/** 0: another value; 1: another type or spelling; 2: reorder, drop or wrap; 3: add to it. */
function changeHere(doc: Doc, kind: number, other: Doc): Doc {
  if (kind === 0) return other;
  if (kind === 1) {
    if (doc.t === "num") {
      return { t: "num", text: /[.eE]/.test(doc.text) ? `${doc.text}0` : `${doc.text}.0` };
    }
    if (doc.t === "arr") return { t: "obj", members: doc.items.map((d, i) => [String(i), d]) };
    if (doc.t === "obj") return { t: "arr", items: doc.members.map(([, d]) => d) };
    return { t: "str", value: doc.t === "str" ? `${doc.value}\u0000` : String(doc.value) };
  }
  if (kind === 2) {
    if (doc.t === "arr") return { t: "arr", items: [...doc.items].reverse() };
    if (doc.t === "obj") return { t: "obj", members: doc.members.slice(1) };
    return { t: "arr", items: [doc] };
  }
  if (doc.t === "arr") return { t: "arr", items: [...doc.items, other] };
  if (doc.t === "obj") {
    const name = `${doc.members.map(([n]) => n).join("")}+`; // unlike every name present
    return { t: "obj", members: [...doc.members, [name, other]] };
  }
  if (doc.t === "str") return { t: "str", value: `${doc.value}x` };
  return { t: "arr", items: [doc, other] };
}

Deno.test("KeyMemo property: remembered keys agree with cacheKey() for any bytes, in any order", async () => {
  // The memo keys requests by their bytes one character each: bodies that are not UTF-8, or
  // differ only in bytes a lax decoder would turn into the same U+FFFD, must not meet there.
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 12 }),
    fc.uint8Array({ maxLength: 12 }).map((b) => new Uint8Array([0xff, ...b])),
    BODY.map((body) => encode(spell(body, 0))),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(bytes, { minLength: 1, maxLength: 8 }), async (bodies) => {
      const memo = new KeyMemo(UPSTREAM);
      for (const body of [...bodies, ...bodies.toReversed()]) {
        const request = keyRequest({ body });
        assert.equal(await memo.key(request), await cacheKey(request, UPSTREAM));
        assert.equal(memo.known(request), await cacheKey(request, UPSTREAM));
      }
    }),
    RUNS,
  );
});
