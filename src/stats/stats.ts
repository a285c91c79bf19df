/**
 * Everything that watches calls, wired to one event bus: the ledger, the
 * metrics, the monitor and the call log each subscribe to the same events.
 *
 * @module
 */
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { EventBus } from "./events.ts";
import { History } from "./history.ts";
import { Ledger } from "./ledger.ts";
import type { CounterStore, HistoryStore } from "../store/store.ts";
import { Metrics } from "./metrics.ts";
import { logCalls } from "./call_log.ts";
import { Monitor } from "./monitor.ts";
import { PriceBook } from "./prices.ts";

/** The event bus and its readers. */
export interface Stats {
  readonly events: EventBus;
  readonly ledger: Ledger;
  /** Per-minute and per-hour figures for the dashboard's charts. */
  readonly history: History;
  readonly metrics: Metrics;
  readonly monitor: Monitor;
  readonly prices: PriceBook;
  /** When this process started, ms since the epoch. */
  readonly startedAt: number;
  /** Ends monitor streams and writes the ledger's pending counters and history. */
  close(): Promise<void>;
}

/**
 * Opens the ledger on `store` and subscribes every reader to a new bus.
 *
 * @param store where all-time counters and the history live
 * @param config the prices to use
 * @param log where failures of a reader are reported
 * @returns the wired stats
 */
export async function openStats(
  store: CounterStore & HistoryStore,
  config: Config,
  log: Logger,
): Promise<Stats> {
  const startedAt = Date.now();
  const events = new EventBus((e) => log.error(`A stats reader failed: ${(e as Error).message}`));
  const ledger = await Ledger.open(store);
  const history = new History(store);
  const metrics = new Metrics();
  const monitor = new Monitor(new Date(startedAt).toISOString());
  const prices = new PriceBook(config.prices, (message) => log.info(message));
  events.subscribe(ledger.record); // first, so the log line's totals include its call
  events.subscribe(history.record);
  events.subscribe(metrics.record);
  events.subscribe(monitor.publish);
  logCalls(events, log, () => ledger.summary());
  return {
    events,
    ledger,
    history,
    metrics,
    monitor,
    prices,
    startedAt,
    async close() {
      monitor.close();
      try {
        await ledger.close();
      } catch (e) {
        log.error(`Cannot save the ledger's last counters: ${(e as Error).message}`);
      }
      try {
        await history.close();
      } catch (e) {
        log.error(`Cannot save the last minute of history: ${(e as Error).message}`);
      }
    },
  };
}
