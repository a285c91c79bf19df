import assert from "node:assert/strict";
import { createLogger } from "../../src/log.ts";
import { callFields, callLine, logCalls } from "../../src/stats/call_log.ts";
import { type CallEvent, type CallReport, EventBus } from "../../src/stats/events.ts";
import { Ledger } from "../../src/stats/ledger.ts";
import { type Totals } from "../../src/stats/totals.ts";
import { type CounterStore } from "../../src/store/store.ts";
import { NO_USAGE } from "../../src/values/usage.ts";

function event(overrides: Partial<CallEvent> = {}): CallEvent {
  return {
    seq: 7,
    time: "2025-01-02T03:04:05.678Z",
    kind: "HIT",
    model: "claude-sonnet-4-5",
    path: "/v1/messages",
    status: 200,
    bytes: 512,
    durationMs: 1.23,
    usage: { ...NO_USAGE, input_tokens: 25, output_tokens: 10, cache_read_input_tokens: 5 },
    dollars: 0.00042,
    snippet: "Hello",
    key: "0123456789ab",
    ...overrides,
  };
}

function totals(overrides: Partial<Totals> = {}): Totals {
  return {
    calls: 10,
    hits: 7,
    misses: 2,
    errors: 1,
    tokensSaved: 12_345,
    tokensSpent: 4_000,
    usdSaved: 1.23,
    usdSpent: 0.455,
    bypassed: 0,
    coalesced: 0,
    passed: 0,
    savedIn: 9_000,
    savedOut: 3_000,
    spentIn: 3_000,
    spentOut: 1_000,
    hitRate: 7 / 9,
    savingsPct: 73,
    byKind: { HIT: 7, MISS: 2, ERROR: 1 },
    models: {},
    ...overrides,
  };
}

function report(overrides: Partial<CallReport> = {}): CallReport {
  const { seq: _seq, ...rest } = event(overrides);
  return rest;
}

class MemoryCounters implements CounterStore {
  readonly counters = new Map<string, number>();
  addCounters(deltas: ReadonlyMap<string, number>): Promise<void> {
    for (const [name, v] of deltas) this.counters.set(name, (this.counters.get(name) ?? 0) + v);
    return Promise.resolve();
  }
  readCounters(): Promise<Map<string, number>> {
    return Promise.resolve(new Map(this.counters));
  }
}

Deno.test("callLine() writes kind, model, status, tokens, dollars, duration and running savings", () => {
  assert.equal(
    callLine(event(), totals()),
    "HIT claude-sonnet-4-5 200 40tok $0.00042 1.2ms | saved $1.23 (73% of spend) · 12.3k tok",
  );
});

Deno.test("callLine() counts cache writes, shows the path off /v1/messages and '-' for no model", () => {
  const write = {
    ...NO_USAGE,
    "cache_creation_input_tokens": 100,
    "ephemeral_5m_input_tokens": 100,
  };
  assert.equal(
    callLine(
      event({ kind: "MISS", usage: { ...write, input_tokens: 3, output_tokens: 2 }, dollars: 0.5 }),
      totals(),
    ),
    "MISS claude-sonnet-4-5 200 105tok $0.50 1.2ms | saved $1.23 (73% of spend) · 12.3k tok",
  );
  assert.equal(
    callLine(
      event({
        kind: "PASS",
        model: null,
        path: "/v1/models",
        usage: NO_USAGE,
        dollars: 0,
        durationMs: 2500,
      }),
      totals({ usdSaved: 0, savingsPct: 0, tokensSaved: 0 }),
    ),
    "PASS - /v1/models 200 0tok $0 2.50s | saved $0 (0% of spend) · 0 tok",
  );
  assert.match(
    callLine(event({ kind: "ERROR", status: 529, path: "/v1/messages/count_tokens" }), totals()),
    /^ERROR claude-sonnet-4-5 \/v1\/messages\/count_tokens 529 /,
  );
});

Deno.test("callLine() rounds dollars, percent and token totals for reading", () => {
  const saved = (t: Partial<Totals>) => callLine(event(), totals(t)).split(" | ")[1];
  assert.equal(
    saved({ usdSaved: 0.004, savingsPct: 0.4 }),
    "saved $0.004 (<1% of spend) · 12.3k tok",
  );
  assert.equal(
    saved({ usdSaved: 1234.5, savingsPct: 99.6 }),
    "saved $1,234.50 (>99% of spend) · 12.3k tok",
  );
  assert.equal(
    saved({ savingsPct: 100, tokensSaved: 950 }),
    "saved $1.23 (100% of spend) · 950 tok",
  );
  assert.equal(saved({ tokensSaved: 4_500_000 }), "saved $1.23 (73% of spend) · 4.5M tok");
  assert.equal(saved({ tokensSaved: 2_000_000_000 }), "saved $1.23 (73% of spend) · 2B tok");
  const dollars = (d: number) => callLine(event({ dollars: d }), totals()).split(" ")[4];
  assert.deepEqual(
    [0, 0.0000001, 0.00042, 0.05, 0.123, 12].map(dollars),
    ["$0", "<$0.000001", "$0.00042", "$0.05", "$0.12", "$12.00"],
  );
});

Deno.test("callFields() holds the event, its tokens and the running totals, and serialises", () => {
  const fields = callFields(event(), totals());
  assert.equal(fields.time, undefined, "the log line carries its own time");
  assert.deepEqual(
    [fields.seq, fields.kind, fields.model, fields.path, fields.status, fields.bytes],
    [7, "HIT", "claude-sonnet-4-5", "/v1/messages", 200, 512],
  );
  assert.deepEqual([fields.durationMs, fields.dollars, fields.tokens], [1.23, 0.00042, 40]);
  assert.deepEqual([fields.snippet, fields.key], ["Hello", "0123456789ab"]);
  assert.deepEqual(fields.usage, event().usage);
  assert.deepEqual(fields.totals, {
    calls: 10,
    hits: 7,
    misses: 2,
    errors: 1,
    bypassed: 0,
    hitRate: 7 / 9,
    tokensSaved: 12_345,
    tokensSpent: 4_000,
    usdSaved: 1.23,
    usdSpent: 0.455,
    savingsPct: 73,
  });
  assert.deepEqual(JSON.parse(JSON.stringify(fields)), fields);
});

Deno.test("logCalls() writes one info line per call, totals including the call, until unsubscribed", async () => {
  const bus = new EventBus();
  const ledger = await Ledger.open(new MemoryCounters());
  bus.subscribe(ledger.record);
  const lines: string[] = [];
  const stop = logCalls(
    bus,
    createLogger("info", (line) => lines.push(line)),
    () => ledger.session(),
  );
  bus.emit(report({ kind: "MISS", dollars: 0.01 }));
  bus.emit(report({ kind: "HIT", dollars: 0.03 }));
  stop();
  bus.emit(report());
  assert.equal(lines.length, 2);
  assert.match(
    lines[0]!,
    / INFO MISS claude-sonnet-4-5 200 40tok \$0.01 1.2ms \| saved \$0 \(0% of spend\) · 0 tok$/,
  );
  assert.match(lines[1]!, / INFO HIT .* \| saved \$0.03 \(75% of spend\) · 40 tok$/);
  await ledger.close();
});

Deno.test("logCalls() gives the JSON format the call's fields", () => {
  const bus = new EventBus();
  const lines: string[] = [];
  const log = createLogger("info", { format: "json", write: (line) => lines.push(line) });
  logCalls(bus, log, () => totals());
  bus.emit(report({ snippet: "sk-ant-api03-leakedkey123 said hi" }));
  const record = JSON.parse(lines[0]!);
  assert.equal(record.level, "info");
  assert.equal(record.msg, callLine({ ...event(), seq: 1 }, totals()));
  assert.deepEqual([record.seq, record.kind, record.tokens, record.totals.usdSaved], [
    1,
    "HIT",
    40,
    1.23,
  ]);
  assert.equal(record.snippet, "sk-ant-…[redacted] said hi");
});

Deno.test("logCalls() reads no totals when info is off", () => {
  const bus = new EventBus();
  const lines: string[] = [];
  let reads = 0;
  logCalls(bus, createLogger("error", (line) => lines.push(line)), () => (reads++, totals()));
  bus.emit(report());
  assert.deepEqual([lines.length, reads], [0, 0]);
});
