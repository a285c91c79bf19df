/**
 * The price table's schema: what a price is, the rules of `prices.json` and
 * how they are read (by `config.ts`; the ledger applies them).
 *
 * @module
 */

/** Dollars per million tokens. */
export interface Price {
  readonly input: number;
  readonly cacheWrite5m: number;
  readonly cacheWrite1h: number;
  readonly cacheRead: number;
  readonly output: number;
}

/** A price for every model whose id contains `match`, in the order given. */
export interface PriceRule {
  readonly match: string | RegExp;
  readonly price: Price;
}

/**
 * A list price from input and output prices; cache prices follow input,
 * ×1.25 (5-minute write), ×2 (1-hour write) and ×0.1 (read), unless given.
 *
 * @param input dollars per million input tokens
 * @param output dollars per million output tokens
 * @param cache cache prices that do not follow the usual ratios
 * @returns the price
 */
export const listPrice = (input: number, output: number, cache: Partial<Price> = {}): Price => ({
  input,
  cacheWrite5m: cents(input * 1.25),
  cacheWrite1h: cents(input * 2),
  cacheRead: cents(input * 0.1),
  output,
  ...cache,
});

/** Drops binary floating-point noise (0.30000000000000004) from a derived price. */
function cents(dollars: number): number {
  return Math.round(dollars * 1e6) / 1e6;
}

/**
 * Reads the rules of a `prices.json` document: `{"<model substring>": {"input": 3,
 * "output": 15, "cache_write_5m": 3.75, "cache_write_1h": 6, "cache_read": 0.3}}` in
 * dollars per million tokens (cache prices default to 1.25×, 2× and 0.1× input),
 * or llm-cache-proxy v2's `{"haiku": [0.8e-6, 4e-6]}` (dollars per token, input and output).
 *
 * @param json the parsed document
 * @returns the rules, in the document's order
 * @throws {TypeError} naming the entry that is wrong and what it should be
 */
export function parsePrices(json: unknown): PriceRule[] {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new TypeError('must be an object like {"sonnet": {"input": 3, "output": 15}}');
  }
  return Object.entries(json).map(([match, value]) => ({
    match: match.toLowerCase(),
    price: parsePrice(match, value),
  }));
}

function parsePrice(name: string, value: unknown): Price {
  const bad = (why: string) => new TypeError(`"${name}": ${why}`);
  const dollars = (v: unknown, field: string) => {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw bad(`${field} must be a number ≥ 0`);
    }
    return v;
  };
  if (Array.isArray(value)) {
    if (value.length !== 2) throw bad("a v2 price is [input, output] in dollars per token");
    return listPrice(dollars(value[0], "input") * 1e6, dollars(value[1], "output") * 1e6);
  }
  if (typeof value !== "object" || value === null) throw bad('must be {"input": …, "output": …}');
  const v = value as Record<string, unknown>;
  const base = listPrice(dollars(v.input, "input"), dollars(v.output, "output"));
  const optional = (field: string, fallback: number) =>
    v[field] === undefined ? fallback : dollars(v[field], field);
  return {
    ...base,
    cacheWrite5m: optional("cache_write_5m", base.cacheWrite5m),
    cacheWrite1h: optional("cache_write_1h", base.cacheWrite1h),
    cacheRead: optional("cache_read", base.cacheRead),
  };
}
