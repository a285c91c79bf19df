import assert from "node:assert/strict";
import {
  canonicalize,
  canonicalJson,
  isJsonObject,
  type JsonTree,
  parseJsonTree,
} from "../../src/cache/canonical_json.ts";

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

Deno.test("canonicalJson() serializes what transform returns, numbers still as written", () => {
  const text = '{"keep":[1.0,2],"drop":true,"n":12345678901234567891}';
  const transform = (tree: JsonTree) => {
    assert.ok(isJsonObject(tree));
    delete tree.drop;
    return tree;
  };
  assert.equal(
    canonicalJson(text, { transform }),
    '{"keep":[1.0,2],"n":12345678901234567891}',
  );
  assert.equal(canonicalJson("[1]", { transform: () => "replaced" }), '"replaced"');
});

Deno.test("parseJsonTree() and canonicalize() are canonicalJson() in two steps", () => {
  const text = '{ "b": [1.50, {"y": null, "x": "\\u00e9"}], "a": false }';
  const tree = parseJsonTree(text);
  assert.ok(tree !== undefined);
  assert.equal(canonicalize(tree), canonicalJson(text));
  assert.equal(canonicalize(tree), '{"a":false,"b":[1.50,{"x":"é","y":null}]}');
  assert.equal(parseJsonTree("{"), undefined);
  assert.ok(isJsonObject(parseJsonTree("{}")));
  for (const notObject of ["[]", "1", "null", '"s"']) {
    assert.ok(!isJsonObject(parseJsonTree(notObject)), notObject);
  }
});
