import assert from "node:assert/strict";
import fc from "fast-check";
import {
  canonicalize,
  canonicalJson,
  isJsonObject,
  type JsonTree,
  MAX_JSON_DEPTH,
  nestsTooDeep,
  parseJsonTree,
} from "../../src/cache/canonical_json.ts";

import { DOC, type Doc, spell } from "../support/json_spelling.ts";

/** `depth` arrays, one inside the other, in an object's field (one level more). */
const nested = (depth: number) => `{"x":${"[".repeat(depth - 1)}${"]".repeat(depth - 1)}}`;

Deno.test("canonicalJson() sorts keys at every depth and drops whitespace", () => {
  assert.equal(
    canonicalJson('{ "b": [ {"y":1, "x":2} ], "a": "s" }'),
    '{"a":"s","b":[{"x":2,"y":1}]}',
  );
});

Deno.test("canonicalJson() sorts index-like keys as text and keeps a __proto__ key as a key", () => {
  assert.equal(canonicalJson('{"a":3,"9":2,"10":1}'), '{"10":1,"9":2,"a":3}');
  assert.equal(canonicalJson('{"x":[{"2":1,"1":0.5}]}'), '{"x":[{"1":0.5,"2":1}]}');
  assert.equal(
    canonicalJson('{"b":1,"__proto__":{"z":1,"y":2.0}}'),
    '{"__proto__":{"y":2.0,"z":1},"b":1}',
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

Deno.test("parseJsonTree() refuses a duplicate member name at any depth, however it is spelled", async (t) => {
  const duplicates: [string, string][] = [
    ["top level", '{"a":1,"a":2}'],
    ["same value", '{"a":1,"a":1}'],
    ["nested", '{"m":[{"role":"user","content":"x","role":"assistant"}]}'],
    ["escaped spelling", '{"\\u0061":1,"a":2}'],
    ["empty name", '{"":1,"":2}'],
    ["__proto__", '{"__proto__":{},"__proto__":{"x":1}}'],
    ["name with quote", '{"a\\"":1,"a\\"":2}'],
    ["in the ignored metadata", '{"metadata":{"user_id":"a","user_id":"b"}}'],
  ];
  for (const [name, text] of duplicates) {
    await t.step(name, () => {
      assert.notEqual(JSON.parse(text), undefined, "it is JSON");
      assert.equal(parseJsonTree(text), undefined);
      assert.equal(canonicalJson(text, { omitTopLevel: ["metadata"] }), undefined);
    });
  }
});

Deno.test("parseJsonTree() is not fooled by colons, quotes and braces inside strings", () => {
  const texts = [
    '{"a:b":"c:d","e":"{\\"f\\":1,\\"f\\":2}"}',
    '{"a":"\\\\","b":"\\\\\\"x:"}',
    '[{"a":1},{"a":1},{"a":{"a":{"a":[]}}}]',
    '{ "a" : 1 ,\n\t"b" :\r\n[ ":" ] }',
    '{"__proto__":1}',
  ];
  for (const text of texts) {
    const tree = parseJsonTree(text);
    assert.ok(tree !== undefined, text);
    assert.equal(canonicalize(tree), canonicalJson(text));
    assert.equal(canonicalJson(text), canonicalJson(JSON.stringify(JSON.parse(text))));
  }
});

Deno.test("parseJsonTree() parses up to MAX_JSON_DEPTH levels and refuses one more", () => {
  assert.equal(MAX_JSON_DEPTH, 128);
  assert.equal(canonicalJson(nested(MAX_JSON_DEPTH)), nested(MAX_JSON_DEPTH));
  assert.ok(!nestsTooDeep(nested(MAX_JSON_DEPTH)));
  assert.ok(nestsTooDeep(nested(MAX_JSON_DEPTH + 1)));
  assert.equal(parseJsonTree(nested(MAX_JSON_DEPTH + 1)), undefined);
  const strings = `{"x":"${"[".repeat(500)}","y":["{{{{"]}`;
  assert.ok(!nestsTooDeep(strings), "brackets inside strings do not nest");
});

Deno.test("parseJsonTree() refuses a million levels without handing them to JSON.parse", () => {
  const text = nested(1_000_000);
  const parse = JSON.parse;
  const parsed: number[] = [];
  JSON.parse = (source: string, reviver?: Parameters<typeof parse>[1]) => {
    parsed.push(source.length);
    return parse(source, reviver);
  };
  try {
    assert.ok(nestsTooDeep(text));
    assert.equal(parseJsonTree(text), undefined);
    assert.equal(canonicalJson(text), undefined);
  } finally {
    JSON.parse = parse;
  }
  assert.deepEqual(parsed, []);
});

/** The canonical spelling of a generated document, worked out apart from the code under test. */
function expected(doc: Doc): string {
  switch (doc.t) {
    case "num":
      return doc.text;
    case "str":
    case "lit":
      return JSON.stringify(doc.value);
    case "arr":
      return `[${doc.items.map(expected).join(",")}]`;
    case "obj": {
      const members = [...doc.members].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${members.map(([n, v]) => `${JSON.stringify(n)}:${expected(v)}`).join(",")}}`;
    }
  }
}

/** The same document with each number cut to its integer part, up to 16 digits (`-0` stays). */
function integers(doc: Doc): Doc {
  switch (doc.t) {
    case "num":
      return { t: "num", text: doc.text.replace(/[.eE].*$/, "").slice(0, 17) };
    case "arr":
      return { t: "arr", items: doc.items.map(integers) };
    case "obj":
      return { t: "obj", members: doc.members.map(([n, v]) => [n, integers(v)] as const) };
    default:
      return doc;
  }
}

/** Whether JSON.parse got a reviver while `parse` ran. */
function usedReviver<T>(parse: () => T): boolean[] {
  const original = JSON.parse;
  const revivers: boolean[] = [];
  JSON.parse = (source: string, reviver?: Parameters<typeof original>[1]) => {
    revivers.push(reviver !== undefined);
    return original(source, reviver);
  };
  try {
    parse();
  } finally {
    JSON.parse = original;
  }
  return revivers;
}

Deno.test("canonicalJson() property: every number is spelled as written, whichever way it was parsed", () => {
  fc.assert(
    fc.property(DOC, fc.integer(), fc.boolean(), (generated, seed, cut) => {
      const doc = cut ? integers(generated) : generated;
      assert.equal(canonicalJson(spell(doc, seed)), expected(doc));
    }),
    { numRuns: 1000 },
  );
});

Deno.test("parseJsonTree() needs no reviver for integers of up to 15 digits, and uses one for any other number", () => {
  const plain = [
    "{}",
    '{"a":[0,-1,10,123456789012345,-123456789012345]}',
    '[true,false,null,"1.5e3"]',
  ];
  const spelled = [
    "[1.0]",
    "[1e2]",
    "[1E2]",
    "[1e+2]",
    "[-0]",
    "[1234567890123456]",
    '{"a":[1,-0.5]}',
  ];
  for (const text of plain) {
    assert.deepEqual(usedReviver(() => parseJsonTree(text)), [false], text);
    assert.equal(canonicalJson(text), canonicalJson(JSON.stringify(JSON.parse(text))), text);
  }
  for (const text of spelled) {
    assert.deepEqual(usedReviver(() => parseJsonTree(text)), [true], text);
  }
  assert.equal(
    canonicalJson("[-0, 1234567890123456, 12345678901234567]"),
    "[-0,1234567890123456,12345678901234567]",
  );
});
