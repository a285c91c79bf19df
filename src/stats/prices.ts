/**
 * What a call costs: list prices by model family and generation, in dollars
 * per million tokens, overridable by `$CACHE_HOME/prices.json` (read and
 * validated by `config.ts`). A hit saves what the original call cost; a miss
 * spends it.
 *
 * @module
 */
import type { Usage } from "../values/usage.ts";
import { listPrice as price, type Price, type PriceRule } from "../values/prices.ts";

/** List prices (2026-11), most specific first. */
export const BUILT_IN_PRICES: readonly PriceRule[] = [
  { match: /opus-4-[5-9]|opus-4\.[5-9]|opus-[5-9]/, price: price(5, 25) },
  { match: /opus/, price: price(15, 75) }, // Opus 4, 4.1 and 3
  { match: /sonnet/, price: price(3, 15) }, // Sonnet 3.7 and 4.x
  { match: /haiku-4|haiku-[5-9]/, price: price(1, 5) },
  { match: /3-5-haiku|haiku-3-5/, price: price(0.8, 4) },
  // Haiku 3's cache prices do not follow the usual ratios.
  { match: /haiku/, price: price(0.25, 1.25, { cacheWrite5m: 0.3, cacheRead: 0.03 }) },
];

/** What an unknown model is priced at: Sonnet's list price, the middle of the range. */
export const DEFAULT_PRICE: Price = price(3, 15);

/** Looks prices up by model id; overrides first, then the built-in table. */
export class PriceBook {
  #rules: readonly PriceRule[];
  #byModel = new Map<string, Price>();
  #warn: (message: string) => void;

  /**
   * @param overrides rules from `prices.json`, tried before the built-in ones
   * @param warn told once per unknown model
   */
  constructor(overrides: readonly PriceRule[], warn: (message: string) => void) {
    this.#rules = [...overrides, ...BUILT_IN_PRICES];
    this.#warn = warn;
  }

  /**
   * The price of `model`.
   *
   * @param model a model id, e.g. `claude-sonnet-4-5-20250929`
   * @returns its price, or {@link DEFAULT_PRICE} (with a warning, once)
   */
  priceOf(model: string | undefined): Price {
    const known = this.#byModel.get(model ?? "");
    if (known) return known;
    const id = (model ?? "").toLowerCase();
    const rule = this.#rules.find((r) =>
      typeof r.match === "string" ? id.includes(r.match) : r.match.test(id)
    );
    if (!rule) {
      this.#warn(
        `No price known for model "${model ?? "(none)"}": counting it at Sonnet's list price ` +
          "($3/$15 per million tokens). Add it to $CACHE_HOME/prices.json",
      );
    }
    const price = rule?.price ?? DEFAULT_PRICE;
    // Bounded by the models that reach this proxy; each is looked up (and warned about) once.
    if (this.#byModel.size < 10_000) this.#byModel.set(model ?? "", price);
    return price;
  }

  /**
   * Dollars a call with `usage` costs on `model`.
   *
   * @param model the model id
   * @param usage the call's token usage
   * @returns the cost in dollars
   */
  costOf(model: string | undefined, usage: Usage): number {
    const p = this.priceOf(model);
    return (usage.input_tokens * p.input +
      usage.ephemeral_5m_input_tokens * p.cacheWrite5m +
      usage.ephemeral_1h_input_tokens * p.cacheWrite1h +
      usage.cache_read_input_tokens * p.cacheRead +
      usage.output_tokens * p.output) / 1e6;
  }
}
