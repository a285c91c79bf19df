import assert from "node:assert/strict";
import { canonicalJson } from "../../src/cache/canonical_json.ts";

Deno.test("canonicalJson() sorts keys at every depth and drops whitespace", () => {
  assert.equal(
    canonicalJson('{ "b": [ {"y":1, "x":2} ], "a": "s" }'),
    '{"a":"s","b":[{"x":2,"y":1}]}',
  );
});

Deno.test("canonicalJson() keeps number text so distinct big numbers never collide", () => {
  const a = canonicalJson('{"seed":12345678901234567891}');
  const b = canonicalJson('{"seed":12345678901234567892}');
  assert.notEqual(a, b);
  assert.equal(a, '{"seed":12345678901234567891}');
  assert.equal(canonicalJson("[1.0, 1e2, -0]"), "[1.0,1e2,-0]");
});

Deno.test("canonicalJson() spells equal strings alike whatever their escapes", () => {
  assert.equal(canonicalJson('"\\u0041\\/"'), canonicalJson('"A/"'));
});

Deno.test("canonicalJson() leaves out the named top-level fields only", () => {
  assert.equal(
    canonicalJson('{"metadata":{"user_id":"u"},"x":{"metadata":1}}', {
      omitTopLevel: ["metadata"],
    }),
    '{"x":{"metadata":1}}',
  );
});

Deno.test("canonicalJson() returns undefined for text that is not JSON", () => {
  for (const text of ["", "{", "{'a':1}", "[1,]", "NaN"]) {
    assert.equal(canonicalJson(text), undefined);
  }
});
