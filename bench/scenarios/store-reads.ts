import { MongoClient } from 'mongodb';
import { newDeliveryId } from '../../src/domain/ids.js';
import { matchedDelivery, outcomeOf } from '../../src/pipeline/delivery-state.js';
import type { DeliveryOutcome, DeliveryRecord, HourCounts } from '../../src/pipeline/ports.js';
import { DeliveryStore } from '../../src/store/delivery-store.js';

/**
 * Reads at scale: fills a delivery store to `fill` deliveries (with one outcome each) through the
 * store's own writes, spread evenly over `days` days to `webhooks` webhooks of one workspace, as
 * the service would have stored them, then times the reads the API and the dashboard make.
 */
export interface StoreReadsOptions {
  mongoUri: string;
  /** Dropped afterwards unless `keep`. */
  database?: string;
  fill: number;
  webhooks?: number;
  /** How long the filled deliveries span, ending now (the retained week). */
  days?: number;
  /** One delivery in this many ends failed. */
  failedEvery?: number;
  /** Timed runs per read (the median is reported). */
  repeats?: number;
  keep?: boolean;
  /** A read still running after this long is reported as this long, marked missed, and not repeated. */
  timeoutMs?: number;
  say?: (line: string) => void;
}

export interface StoreReadsRow {
  metric: string;
  value: number;
  target?: string;
  ok?: boolean;
}

const WORKSPACE = 'ws_store_reads';
/** Events stored per round: enough for the store's batched inserts to fill their batches. */
const EVENTS_PER_ROUND = 100;
const DAY_MS = 86_400_000;

export async function runStoreReads(options: StoreReadsOptions): Promise<StoreReadsRow[]> {
  const { mongoUri, fill, webhooks = 10, days = 7, failedEvery = 10, repeats = 3, timeoutMs = 120_000, say = () => {} } = options;
  const database = options.database ?? `store_reads_${Date.now().toString(36)}`;
  const client = new MongoClient(mongoUri, { maxPoolSize: 20 });
  await client.connect();
  const rows: StoreReadsRow[] = [];
  let opened: DeliveryStore | undefined;
  try {
    const db = client.db(database);
    const store = (opened = new DeliveryStore(db));
    await store.ensureIndexes();
    const webhookIds = Array.from({ length: webhooks }, (_, i) => `whk_storereads${String(i).padStart(4, '0')}`);
    const now = Date.now();
    const start = now - days * DAY_MS;
    const events = Math.ceil(fill / webhooks);
    const step = (days * DAY_MS) / events;

    // --- fill, through the store's own batched writes ---
    const filled = Date.now();
    const sample: DeliveryRecord[] = [];
    for (let first = 0; first < events; first += EVENTS_PER_ROUND) {
      const round: Array<Promise<unknown>> = [];
      const outcomes: DeliveryOutcome[] = [];
      for (let e = first; e < Math.min(events, first + EVENTS_PER_ROUND); e++) {
        const createdAt = new Date(Math.floor(start + e * step));
        const eventId = `evt_storereads${e}`;
        const payload = JSON.stringify({ id: eventId, type: 'message.received', created_at: createdAt.toISOString(), agent: null, data: { n: e, text: 'a message of typical length for a webhook body' } });
        const records = webhookIds.map((webhookId) => delivery(webhookId, eventId, createdAt, payload));
        round.push(store.insertPending(records, `bench:0:${e}`, 'digest'));
        records.forEach((d, i) => outcomes.push(outcome(d, (e + i) % failedEvery === 0)));
        if (e === Math.floor(events / 2)) sample.push(records[0]!);
      }
      await Promise.all(round);
      await store.recordOutcomes(outcomes);
      if ((first / EVENTS_PER_ROUND) % 100 === 0) say(`   filled ${Math.min(events, first + EVENTS_PER_ROUND) * webhooks} of ${events * webhooks} deliveries`);
    }
    // The hourly counts the fill noted, written as the service writes them (within a second).
    await store.flushCounts();
    const fillSeconds = (Date.now() - filled) / 1000;
    rows.push({ metric: 'deliveries stored (with one outcome each)', value: events * webhooks });
    rows.push({ metric: 'fill: deliveries and outcomes stored per second', value: (events * webhooks * 2) / fillSeconds });

    // --- reads ---
    const webhookId = webhookIds[Math.floor(webhooks / 2)]!;
    const time = async (metric: string, read: () => Promise<unknown>, targetMs?: number) => {
      const ms: number[] = [];
      for (let i = 0; i < repeats; i++) {
        const t0 = performance.now();
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([read().then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs)))]);
        clearTimeout(timer);
        ms.push(performance.now() - t0);
        if (timedOut) break;
      }
      const value = ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)]!;
      const row: StoreReadsRow = { metric, value };
      if (targetMs !== undefined) Object.assign(row, { target: `≤ ${targetMs} ms`, ok: value <= targetMs });
      rows.push(row);
      say(`   ${metric}: ${value.toFixed(0)} ms`);
    };
    const page = await store.list(WORKSPACE, webhookId, {}, 50, '');
    const newest = page.items[0]!;
    await time('deliveries page: newest 50 of one webhook, with status (ms)', () => store.list(WORKSPACE, webhookId, {}, 50, ''), 300);
    await time('next deliveries page, by its cursor (ms)', () => store.list(WORKSPACE, webhookId, {}, 50, page.nextCursor), 300);
    await time('one delivery with attempts, newest (ms)', () => store.get(WORKSPACE, webhookId, newest.id), 100);
    await time(`one delivery with attempts, ${days / 2} days old (ms)`, () => store.get(WORKSPACE, sample[0]!.webhookId, sample[0]!.id), 100);
    let failedFound = 0;
    await time("status filter 'failed': newest 50 of one webhook (ms)", async () => (failedFound = (await store.list(WORKSPACE, webhookId, { status: 'failed' }, 50, '')).items.length), 500);
    rows.push({ metric: "status filter 'failed': deliveries on that first page", value: failedFound });
    let charted = 0;
    await time('dashboard 24 h chart: GetDeliveryCounts, 24 hours (ms)', async () => (charted = countedIn(await store.countsByHour(WORKSPACE, webhookId, 24))), 500);
    rows.push({ metric: 'dashboard 24 h chart: deliveries counted', value: charted });

    // After the reads, which they would crowd. --- writes in the current hour, as the matcher and dispatcher batch them (100 webhooks, as bench scenario 2) ---
    const writers = Array.from({ length: 100 }, (_, i) => `whk_storewrites${String(i).padStart(4, '0')}`);
    const wrote = Date.now();
    let written = 0;
    for (let round = 0; round < 40; round++) {
      const createdAt = new Date();
      const records = Array.from({ length: 5 }, (_, e) => writers.map((w) => delivery(w, `evt_storewrites${round}_${e}`, createdAt, '{"n":1}')));
      await Promise.all(records.map((group, e) => store.insertPending(group, `bench:1:${round}_${e}`, 'digest')));
      await store.recordOutcomes(records.flat().map((d) => outcome(d, false)));
      written += records.flat().length * 2;
    }
    // Their hourly counts too: written beside the inserts, not waited for by them, but on the same server.
    await store.flushCounts();
    rows.push({ metric: 'writes: deliveries and outcomes stored per second in the current hour (100 webhooks)', value: written / ((Date.now() - wrote) / 1000) });

    return rows;
  } finally {
    await opened?.close().catch(() => {});
    if (!options.keep) await client.db(database).dropDatabase().catch(() => {});
    await client.close();
  }
}

/** Deliveries in the hours the dashboard's chart shows (web/src/components/delivery-chart.tsx). */
const countedIn = (hours: HourCounts[]): number => hours.reduce((sum, h) => sum + h.succeeded + h.retrying + h.pending + h.failed, 0);

function delivery(webhookId: string, eventId: string, createdAt: Date, payload: string): DeliveryRecord {
  return matchedDelivery({ id: newDeliveryId(createdAt.getTime()), workspace: WORKSPACE, webhookId, eventId, eventType: 'message.received', agent: null, payload, createdAt });
}

function outcome(d: DeliveryRecord, failed: boolean): DeliveryOutcome {
  const status = failed ? 500 : 200;
  const attempt = { number: 1, startedAt: d.createdAt, durationMs: 40, responseStatus: status, responseBodyExcerpt: failed ? 'internal error' : 'ok', error: failed ? `HTTP ${status}` : '', manual: false };
  return { ...outcomeOf({ ...d, deliveryId: d.id, attempt: 1 }, failed ? 'failed' : 'succeeded', new Date(d.createdAt.getTime() + 40)), attempt };
}
