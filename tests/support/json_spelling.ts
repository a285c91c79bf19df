/**
 * JSON documents for property tests of the cache key, kept apart from how
 * they are spelled: a {@link Doc} is a value (numbers as their text, since
 * the key keeps it), {@link spell} writes it with random member order,
 * whitespace and string escapes, and {@link sameRequest} tells whether two
 * values are one request body.
 *
 * @module
 */
import fc from "fast-check";

/** A JSON value; a number is its text, an object's member names are unique. */
export type Doc =
  | { readonly t: "num"; readonly text: string }
  | { readonly t: "str"; readonly value: string }
  | { readonly t: "lit"; readonly value: boolean | null }
  | { readonly t: "arr"; readonly items: readonly Doc[] }
  | { readonly t: "obj"; readonly members: readonly (readonly [string, Doc])[] };

/** Member names: request fields, near spellings of each other, and anything. */
const NAME = fc.oneof(
  fc.constantFrom("model", "messages", "role", "content", "metadata", "a", "A", "", "__proto__"),
  fc.string({ unit: "binary", maxLength: 4 }),
);

/** Number spellings, among them several of one value (`1`, `1.0`, `1e0`, `10e-1`). */
const NUMBER = fc.oneof(
  fc.constantFrom("0", "-0", "1", "1.0", "1e0", "1E+0", "10e-1", "100", "1e2", "0.1"),
  fc.stringMatching(/^-?(0|[1-9][0-9]{0,20})(\.[0-9]{1,4})?([eE][+-]?[0-9]{1,3})?$/),
);

/** Strings with the characters whose spelling varies: escapes, `/`, controls, surrogates. */
const STRING = fc.oneof(
  fc.string({ unit: "binary", maxLength: 6 }),
  fc.constantFrom("A", "a", "/", '"', "\\", "\n", "\u2028", "\ud800", "\udc00x", "😀", "1", "true"),
);

const LEAF: fc.Arbitrary<Doc> = fc.oneof(
  NUMBER.map((text) => ({ t: "num", text }) as const),
  STRING.map((value) => ({ t: "str", value }) as const),
  fc.constantFrom(true, false, null).map((value) => ({ t: "lit", value }) as const),
);

const TREES = fc.letrec<{ doc: Doc; arr: Doc; obj: Doc }>((tie) => ({
  doc: fc.oneof({ maxDepth: 3, depthSize: "small" }, LEAF, tie("arr"), tie("obj")),
  arr: fc.array(tie("doc"), { maxLength: 4 }).map((items) => ({ t: "arr", items })),
  obj: fc.uniqueArray(fc.tuple(NAME, tie("doc")), { selector: ([name]) => name, maxLength: 4 })
    .map((members) => ({ t: "obj", members })),
}));

/** Any document, a few levels deep. */
export const DOC: fc.Arbitrary<Doc> = TREES.doc;

/** A request body: mostly an object, sometimes any other JSON value. */
export const BODY: fc.Arbitrary<Doc> = fc.oneof(
  { arbitrary: TREES.obj, weight: 4 },
  { arbitrary: TREES.doc, weight: 1 },
);

/**
 * Spells `doc` as JSON text, choosing member order, whitespace and string
 * escapes from `seed`.
 *
 * @param doc the value
 * @param seed the choices
 * @returns the text
 */
export function spell(doc: Doc, seed: number): string {
  return write(doc, random(seed));
}

/**
 * Whether two bodies are one request: equal values (numbers by their text,
 * object members in any order), the top-level `metadata` aside, as the key
 * ignores it.
 *
 * @param a one body
 * @param b the other
 * @returns true when they ask the same
 */
export function sameRequest(a: Doc, b: Doc): boolean {
  const withoutMetadata = (d: Doc): Doc =>
    d.t === "obj" ? { t: "obj", members: d.members.filter(([n]) => n !== "metadata") } : d;
  return same(withoutMetadata(a), withoutMetadata(b));
}

function same(a: Doc, b: Doc): boolean {
  switch (a.t) {
    case "num":
      return b.t === "num" && a.text === b.text;
    case "str":
    case "lit":
      return b.t === a.t && a.value === b.value;
    case "arr":
      return b.t === "arr" && a.items.length === b.items.length &&
        a.items.every((item, i) => same(item, b.items[i]!));
    case "obj":
      return b.t === "obj" && a.members.length === b.members.length &&
        a.members.every(([name, value]) => {
          const other = b.members.find(([n]) => n === name);
          return other !== undefined && same(value, other[1]);
        });
  }
}

type Random = () => number;

function write(doc: Doc, rnd: Random): string {
  const ws = () => ["", "", "", " ", "\n  ", "\t", "\r\n"][Math.floor(rnd() * 7)]!;
  switch (doc.t) {
    case "num":
      return doc.text;
    case "str":
      return quote(doc.value, rnd);
    case "lit":
      return String(doc.value);
    case "arr":
      return `[${ws()}${doc.items.map((d) => `${write(d, rnd)}${ws()}`).join(`,${ws()}`)}]`;
    case "obj": {
      const members = shuffled(doc.members, rnd);
      const spelled = members.map(([n, v]) => `${quote(n, rnd)}${ws()}:${ws()}${write(v, rnd)}`);
      return `{${ws()}${spelled.join(`${ws()},${ws()}`)}${ws()}}`;
    }
  }
}

/**
 * A string literal, each character written plainly or escaped, as `rnd`
 * picks. A lone surrogate is always escaped: UTF-8 cannot carry it.
 */
function quote(value: string, rnd: Random): string {
  let out = '"';
  for (const char of value) {
    const unit = char.charCodeAt(0);
    const lone = char.length === 1 && unit >= 0xd800 && unit <= 0xdfff;
    const must = char === '"' || char === "\\" || unit < 0x20 || lone;
    if (must || rnd() < 0.2) {
      const short = JSON.stringify(char).slice(1, -1);
      out += short.length === 2 && rnd() < 0.5 ? short : unicodeEscapes(char, rnd);
    } else {
      out += char === "/" && rnd() < 0.5 ? "\\/" : char;
    }
  }
  return `${out}"`;
}

/** `\\uXXXX` for each UTF-16 unit of `char` (two past U+FFFF), hex digits in either case. */
function unicodeEscapes(char: string, rnd: Random): string {
  let out = "";
  for (let i = 0; i < char.length; i++) {
    const hex = char.charCodeAt(i).toString(16).padStart(4, "0");
    out += `\\u${rnd() < 0.5 ? hex : hex.toUpperCase()}`;
  }
  return out;
}

function shuffled<T>(items: readonly T[], rnd: Random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** mulberry32: a small seeded generator, so a failing case replays from its seed. */
function random(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
