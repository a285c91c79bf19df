import assert from "node:assert/strict";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import type { CallEvent } from "../../src/stats/events.ts";
import type { CallKind } from "../../src/values/call_kind.ts";
import { Ledger } from "../../src/stats/ledger.ts";
import { type CounterStore } from "../../src/store/store.ts";
import { Metrics, METRICS_CONTENT_TYPE } from "../../src/stats/metrics.ts";
import { NO_USAGE, type Usage } from "../../src/values/usage.ts";

/** What parse-prometheus-text-format returns (the package ships no types). */
interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  metrics: ParsedSample[];
}

interface ParsedSample {
  value?: string;
  labels?: Record<string, string>;
  buckets?: Record<string, string>;
  sum?: string;
  count?: string;
}

const parse = parsePrometheusTextFormat as (text: string) => ParsedFamily[];

/** A counter store in memory, seeded with what a former process left. */
class MemoryCounters implements CounterStore {
  #counters: Map<string, number>;

  constructor(seed: Iterable<[string, number]> = []) {
    this.#counters = new Map(seed);
  }

  addCounters(deltas: ReadonlyMap<string, number>): Promise<void> {
    for (const [name, value] of deltas) {
      this.#counters.set(name, (this.#counters.get(name) ?? 0) + value);
    }
    return Promise.resolve();
  }

  readCounters(): Promise<Map<string, number>> {
    return Promise.resolve(new Map(this.#counters));
  }
}

const HAIKU = "claude-haiku-4-5-20251001";
/** A model name a client made up: every character a label value escapes, and a tab. */
const ODD = 'my "best"\\model\n\tv2';

let seq = 0;
function call(
  kind: CallKind,
  model: string | null,
  durationMs: number,
  dollars: number,
  usage: Partial<Usage> = {},
): CallEvent {
  return {
    seq: ++seq,
    time: new Date(0).toISOString(),
    kind,
    model,
    path: "/v1/messages",
    status: kind === "ERROR" ? 529 : 200,
    bytes: 100,
    durationMs,
    usage: { ...NO_USAGE, ...usage },
    dollars,
    snippet: "",
    key: null,
  };
}

const EVENTS: CallEvent[] = [
  call("MISS", HAIKU, 900, 0.0011, { input_tokens: 200, output_tokens: 74 }),
  call("HIT", HAIKU, 0.4, 0.0011, { input_tokens: 200, output_tokens: 74 }),
  call("HIT", HAIKU, 1, 0.0011, { input_tokens: 200, output_tokens: 74 }), // on a bound: le is ≤
  call("HIT-COALESCED", HAIKU, 40, 0.0011, { input_tokens: 200, output_tokens: 74 }),
  call("MISS", ODD, 150_000, 0.02, { input_tokens: 1000, cache_read_input_tokens: 500 }),
  call("HIT", ODD, 250, 0.02, { input_tokens: 1000, cache_read_input_tokens: 500 }),
  call("ERROR", ODD, 120, 0),
  call("ERROR", null, 5, 0),
];
const HIT_DURATIONS_MS = [0.4, 1, 40, 250];
const MISS_DURATIONS_MS = [900, 150_000];

/** A sample value or bucket bound as the format spells it. */
function number(text: string | undefined): number {
  assert.ok(text !== undefined);
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  const value = Number(text);
  assert.ok(!Number.isNaN(value) || text === "NaN", `not a number: ${text}`);
  return value;
}

/** Renders after feeding the events to a ledger (over persisted counters) and to the metrics. */
async function scrape(events: readonly CallEvent[]) {
  const ledger = await Ledger.open(new MemoryCounters([[`calls\tMISS\t${HAIKU}`, 5]]));
  try {
    const metrics = new Metrics();
    for (const event of events) {
      ledger.record(event);
      metrics.record(event);
    }
    const text = metrics.render({
      counters: ledger.counters(),
      totals: ledger.allTime(),
      entries: 3,
      bytes: 4096,
      uptimeSec: 12.5,
    });
    const families = new Map(parse(text).map((f) => [f.name, f]));
    return { text, families, counters: new Map(ledger.counters()), totals: ledger.allTime() };
  } finally {
    await ledger.close();
  }
}

function familyOf(families: Map<string, ParsedFamily>, name: string, type: string): ParsedFamily {
  const family = families.get(name);
  assert.ok(family, `no family ${name}`);
  assert.equal(family.type, type, name);
  assert.notEqual(family.help, "", name);
  return family;
}

/** The only value of an unlabelled family. */
function valueOf(families: Map<string, ParsedFamily>, name: string, type: string): number {
  const [only, ...rest] = familyOf(families, name, type).metrics;
  assert.equal(rest.length, 0, name);
  assert.equal(only?.labels, undefined, name);
  return number(only?.value);
}

/** Cumulative bucket counts by bound, ascending, then `_sum` and `_count`. */
function histogramOf(families: Map<string, ParsedFamily>, name: string) {
  const [only, ...rest] = familyOf(families, name, "HISTOGRAM").metrics;
  assert.equal(rest.length, 0, name);
  assert.ok(only?.buckets, name);
  const buckets = Object.entries(only.buckets)
    .map(([le, count]): [number, number] => [number(le), number(count)])
    .sort(([a], [b]) => a - b);
  return { buckets, sum: number(only.sum), count: number(only.count) };
}

Deno.test("Metrics.render() text parses, one family of each name", async () => {
  const { text } = await scrape(EVENTS);
  assert.equal(METRICS_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
  assert.ok(text.endsWith("\n"));
  const names = parse(text).map((f) => f.name);
  assert.deepEqual(names, [...new Set(names)]);
  assert.equal(names.length, 18);
});

Deno.test("Metrics.render() counts the calls whose answer was too large to record", async () => {
  const oversize = { ...call("MISS", HAIKU, 900, 0), oversize: true };
  const before = valueOf(
    (await scrape(EVENTS)).families,
    "llm_cache_answers_oversize_total",
    "COUNTER",
  );
  const { families } = await scrape([...EVENTS, oversize, call("HIT-COALESCED", HAIKU, 900, 0)]);
  assert.equal(before, 0);
  assert.equal(valueOf(families, "llm_cache_answers_oversize_total", "COUNTER"), 1);
});

Deno.test("Metrics.render() shows the ledger's counters by kind and model", async (t) => {
  const { families, counters } = await scrape(EVENTS);
  for (const metric of ["calls", "tokens", "usd"]) {
    await t.step(`llm_cache_${metric}_by_kind_total`, () => {
      const family = familyOf(families, `llm_cache_${metric}_by_kind_total`, "COUNTER");
      const shown = new Map(family.metrics.map((s) => {
        assert.deepEqual(Object.keys(s.labels ?? {}).sort(), ["kind", "model"]);
        return [`${metric}\t${s.labels?.kind}\t${s.labels?.model}`, number(s.value)];
      }));
      const kept = new Map([...counters].filter(([key]) => key.startsWith(`${metric}\t`)));
      assert.deepEqual(shown, kept);
    });
  }
  await t.step("every kind and model present, the odd name unescaped whole", () => {
    const calls = familyOf(families, "llm_cache_calls_by_kind_total", "COUNTER").metrics;
    const byLabels = new Map(calls.map((s) => [`${s.labels?.kind} ${s.labels?.model}`, s.value]));
    assert.deepEqual(
      byLabels,
      new Map([
        [`ERROR (none)`, "1"],
        [`ERROR ${ODD}`, "1"],
        [`HIT ${HAIKU}`, "2"],
        [`HIT ${ODD}`, "1"],
        [`HIT-COALESCED ${HAIKU}`, "1"],
        [`MISS ${HAIKU}`, "6"], // 5 from a former process
        [`MISS ${ODD}`, "1"],
      ]),
    );
  });
});

Deno.test("Metrics.render() escapes label values", async () => {
  const { text } = await scrape(EVENTS);
  assert.ok(
    text.includes(
      'llm_cache_calls_by_kind_total{kind="HIT",model="my \\"best\\"\\\\model\\n\tv2"} 1',
    ),
  );
});

Deno.test("Metrics.render() shows v2's totals, unlabelled, with v2's meaning, and the gauges", async () => {
  const { families, totals } = await scrape(EVENTS);
  const counter = (name: string) => valueOf(families, name, "COUNTER");
  // 5 misses from a former process, then the 8 events above: v2 counted hits, misses and
  // errors, and its calls are their sum.
  assert.equal(counter("llm_cache_calls_total"), 13);
  assert.equal(counter("llm_cache_hits_total"), totals.hits);
  assert.equal(counter("llm_cache_hits_total"), 4);
  assert.equal(counter("llm_cache_coalesced_total"), 1);
  assert.equal(counter("llm_cache_misses_total"), totals.misses);
  assert.equal(counter("llm_cache_misses_total"), 7);
  assert.equal(counter("llm_cache_errors_total"), totals.errors);
  assert.equal(counter("llm_cache_errors_total"), 2);
  // v2 counted input and output tokens, never cache reads.
  assert.equal(counter("llm_cache_tokens_saved_total"), 3 * 274 + 1000);
  assert.equal(counter("llm_cache_usd_saved_total"), Number(totals.usdSaved.toFixed(4)));
  assert.equal(counter("llm_cache_usd_spent_total"), Number(totals.usdSpent.toFixed(4)));
  const gauge = (name: string) => valueOf(families, name, "GAUGE");
  assert.equal(gauge("llm_cache_hit_ratio"), Number((4 / 13).toFixed(4)), "v2's: hits / calls");
  assert.equal(gauge("llm_cache_entries"), 3);
  assert.equal(gauge("llm_cache_bytes"), 4096);
  assert.equal(gauge("llm_cache_uptime_seconds"), 12.5);
});

Deno.test("Metrics.record() times hits and misses in cumulative histograms", async (t) => {
  const { families } = await scrape(EVENTS);
  const cases = [
    ["llm_cache_hit_duration_seconds", HIT_DURATIONS_MS, 0.0001, 0.1],
    ["llm_cache_miss_duration_seconds", MISS_DURATIONS_MS, 0.05, 120],
  ] as const;
  for (const [name, durationsMs, first, last] of cases) {
    await t.step(name, () => {
      const { buckets, sum, count } = histogramOf(families, name);
      const bounds = buckets.map(([le]) => le);
      assert.equal(bounds[0], first);
      assert.deepEqual(bounds.slice(-2), [last, Infinity]);
      for (const [le, cumulative] of buckets) {
        assert.equal(cumulative, durationsMs.filter((ms) => ms / 1000 <= le).length, `le=${le}`);
      }
      assert.equal(count, durationsMs.length);
      assert.equal(buckets.at(-1)?.[1], count);
      const seconds = durationsMs.reduce((s, ms) => s + ms / 1000, 0);
      assert.ok(Math.abs(sum - seconds) < 1e-9, `${sum} ≠ ${seconds}`);
    });
  }
});

Deno.test("Metrics.render() before any call", async () => {
  const { families } = await scrape([]);
  assert.deepEqual(
    familyOf(families, "llm_cache_calls_by_kind_total", "COUNTER").metrics.map((s) => s.labels),
    [{ kind: "MISS", model: HAIKU }],
  );
  assert.deepEqual(familyOf(families, "llm_cache_usd_by_kind_total", "COUNTER").metrics, []);
  for (const name of ["llm_cache_hit_duration_seconds", "llm_cache_miss_duration_seconds"]) {
    const { buckets, sum, count } = histogramOf(families, name);
    assert.ok(buckets.every(([, cumulative]) => cumulative === 0));
    assert.equal(sum, 0);
    assert.equal(count, 0);
  }
});
