import type { Logger } from '../log/logger.js';
import type { SweepResult } from './delivery-store.js';

export interface RetentionOptions {
  retentionMs: number;
  logger: Logger;
  /** Told of each sweep (metrics). */
  onSweep?: (result: SweepResult, at: Date) => void;
}

/** What the sweeper drives: the delivery store's hours. */
export interface Sweepable {
  sweep(now?: number): Promise<SweepResult>;
  /** Creates the next hour's collections ahead of its first write. */
  prepareHour(at: number): Promise<void>;
}

/**
 * The background sweep of records older than the retention period, for servers without TTL
 * indexes (FerretDB) and for the hour collections themselves everywhere: one sweep at a time,
 * every minute (sooner for a retention shorter than two minutes), each bounded (delivery-store.ts).
 */
export function startRetention(store: Sweepable, { retentionMs, logger, onSweep }: RetentionOptions): { stop(): Promise<void> } {
  const everyMs = Math.max(1_000, Math.min(60_000, Math.floor(retentionMs / 2)));
  let running: Promise<void> | undefined;
  let stopped = false;
  const sweep = async () => {
    try {
      const now = Date.now();
      const result = await store.sweep(now);
      onSweep?.(result, new Date(now));
      if (result.partitions > 0) logger.info({ ...result, retentionMs }, 'removed delivery records past their retention');
      // The next hour's collections exist before its first delivery, so no write waits for them.
      await store.prepareHour(now + 3_600_000);
    } catch (error) {
      logger.warn({ err: error }, 'retention sweep failed; trying again at the next one');
    }
  };
  const timer = setInterval(() => {
    if (!stopped && !running) running = sweep().finally(() => (running = undefined));
  }, everyMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
