import { setTimeout as sleep } from 'node:timers/promises';
import { createTopics } from '../../src/bus/topic-setup.js';
import { newSigningSecret } from '../../src/domain/ids.js';
import { runRawLoop } from '../producers.js';
import { now, padding, RAW_WEBHOOK_ID } from '../receipts.js';
import { fmt } from '../report.js';
import type { BenchRun } from '../run-context.js';
import { VERSION } from '../service-process.js';

/** Scenario 1: what this machine does without the service in between, a raw signed POST loop and kafkajs produce→consume. */
export async function baseline(run: BenchRun): Promise<void> {
  const { opts, runId, admin, kafka, producer } = run;
  const { row, results } = run.report;
  run.say(`1. raw POST loop: ${opts.concurrency} concurrent, ${opts.rawSeconds} s after 2 s warm-up`);
  const secret = newSigningSecret();
  run.receiver.secrets([[RAW_WEBHOOK_ID, secret]]);
  const body = JSON.stringify({
    id: 'evt_bench_raw_00000000',
    type: 'email.received',
    created_at: new Date().toISOString(),
    agent: 'agent-1',
    data: { sent_at: now(), note: padding(opts.bodyBytes) },
  });
  const before = run.receiver.ledger.stats.raw;
  const raw = await runRawLoop({
    url: `${run.receiver.url}/raw`,
    concurrency: opts.concurrency,
    warmupMs: 2_000,
    measureMs: opts.rawSeconds * 1000,
    body,
    secret,
    userAgent: `Humiris-Webhooks/${VERSION}`,
  });
  await sleep(200);
  run.rawRps = raw.requestsPerSecond;
  results.baseline_http = { ...raw, bodyBytes: body.length, concurrency: opts.concurrency, receiverCounted: run.receiver.ledger.stats.raw - before, badSignatures: run.receiver.ledger.stats.rawBadSignatures };
  row('1 baseline', 'raw undici POST loop (req/s)', fmt(run.rawRps), '', undefined);
  if (run.receiver.ledger.stats.rawBadSignatures > 0) row('1 baseline', 'raw loop bad signatures', fmt(run.receiver.ledger.stats.rawBadSignatures), '0', false);

  run.say(`1. kafkajs produce→consume: ${opts.kafkaRecords} records of ${opts.bodyBytes} bytes`);
  const topic = `bench-${runId}-kafka-baseline`;
  await createTopics(admin, [{ topic, numPartitions: 6, replicationFactor: 1 }]);
  run.cleanup.push(() => admin.deleteTopics({ topics: [topic] }));
  const consumer = kafka.consumer({ groupId: `bench-${runId}-kafka-baseline`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.subscribe({ topic, fromBeginning: true });
  let consumed = 0;
  let consumedAll!: () => void;
  const allConsumed = new Promise<void>((resolve) => (consumedAll = resolve));
  await consumer.run({
    partitionsConsumedConcurrently: 6,
    eachBatch: async ({ batch }) => {
      consumed += batch.messages.length;
      if (consumed >= opts.kafkaRecords) consumedAll();
    },
  });
  await joined;
  const value = Buffer.alloc(opts.bodyBytes, 'x');
  const t0 = now();
  let next = 0;
  const lane = async () => {
    while (next < opts.kafkaRecords) {
      const n = Math.min(500, opts.kafkaRecords - next);
      next += n;
      await producer.send({ topic, messages: Array.from({ length: n }, (_, i) => ({ key: `k${(next + i) % 64}`, value })) });
    }
  };
  await Promise.all(Array.from({ length: 4 }, lane));
  const producedAt = now();
  await Promise.race([allConsumed, sleep(120_000, undefined, { ref: false })]);
  const t1 = now();
  await consumer.disconnect();
  const kafkaRate = consumed / ((t1 - t0) / 1000);
  results.baseline_kafka = {
    records: opts.kafkaRecords,
    consumed,
    recordBytes: opts.bodyBytes,
    produceRecordsPerSecond: opts.kafkaRecords / ((producedAt - t0) / 1000),
    produceConsumeRecordsPerSecond: kafkaRate,
  };
  row('1 baseline', 'kafkajs produce→consume (records/s)', fmt(kafkaRate), '', undefined);
}
