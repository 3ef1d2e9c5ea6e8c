import { setTimeout as sleep } from 'node:timers/promises';
import type { MongoClient } from 'mongodb';
import { DeliveryStore } from '../../src/store/delivery-store.js';
import { Tally } from '../ledger.js';
import { distribution, fmt } from '../report.js';
import { account, openService, saturate, topologyOf, type BenchRun } from '../run-context.js';

/** Scenario 2: signed, recorded deliveries/s from Kafka, the pipeline saturated. */
export async function throughput(run: BenchRun): Promise<void> {
  const { opts, runId } = run;
  const { row, results } = run.report;
  const ctx = await openService(run, 'throughput');
  const { fanPerEvent } = topologyOf(opts);
  const pick = await ctx.makeTopology('tp', 0);
  await sleep(1_100); // subscription changes apply within 1 s
  run.say(`2. throughput: ${opts.webhooks} webhooks in ${opts.workspaces} workspaces, fan-out ${fanPerEvent}; warm-up ${opts.warmupDeliveries} deliveries`);
  const warm = new Tally('2 warm-up');
  await saturate(run, ctx.events, `${runId}_tpw`, pick, warm, opts.warmupDeliveries, 60);
  account(run, '2 warm-up', warm);
  run.say(`   warm-up: ${warm.received}/${warm.expected}; measuring up to ${opts.deliveries} deliveries or ${opts.throughputSeconds} s`);
  const tally = new Tally('2 throughput');
  const cpu0 = (await ctx.service.sample()).cpuSeconds;
  const { producedSeconds, seconds, rate } = await saturate(run, ctx.events, `${runId}_tp`, pick, tally, opts.deliveries, opts.throughputSeconds);
  const cpu1 = (await ctx.service.sample()).cpuSeconds;
  run.scenario2Rate = rate;
  account(run, '2 throughput', tally);
  const lat = distribution(tally.latencies);
  // Recorded: the service wrote the outcome of each of these deliveries to MongoDB.
  const recorded = await countRecorded(run.mongo, ctx.database, `evt_bench_${runId}_tp_`, tally.received);
  const cpuPer1000 = ((cpu1 - cpu0) / tally.received) * 1000;
  run.resources.throughputCpuSecondsPer1000 = cpuPer1000;
  run.resources.throughputPeakRssMB = ctx.service.peakRssBytes() / 1024 / 1024;
  await ctx.close();
  results.throughput = {
    webhooks: opts.webhooks,
    workspaces: opts.workspaces,
    fanOutPerEvent: fanPerEvent,
    ...tally.counts(),
    recordedSucceeded: recorded,
    produceSeconds: producedSeconds,
    seconds,
    deliveriesPerSecond: run.scenario2Rate,
    ratioToRawPostLoop: run.scenario2Rate / run.rawRps,
    latencyUnderLoadMs: lat,
    serviceCpuSeconds: cpu1 - cpu0,
  };
  row('2 throughput', 'deliveries/s (signed, recorded)', fmt(run.scenario2Rate), '≥ 5,000', run.scenario2Rate >= 5000);
  row('2 throughput', 'ratio to raw POST loop', fmt(run.scenario2Rate / run.rawRps, 3), '≥ 0.5', Number.isFinite(run.rawRps) ? run.scenario2Rate / run.rawRps >= 0.5 : undefined);
  row('2 throughput', `deliveries in ${fmt(seconds, 1)} s / recorded in MongoDB`, `${fmt(tally.received)} / ${fmt(recorded)}`, '');
}

/**
 * Deliveries of this run's events the service recorded as succeeded. Waits while the count still
 * grows (the last outcome writes may be queued), and gives up after 15 s without progress.
 */
async function countRecorded(mongo: MongoClient, database: string, prefix: string, want: number): Promise<number> {
  const store = new DeliveryStore(mongo.db(database));
  let count = 0;
  let deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const now = (await store.settlement(prefix)).byStatus.succeeded;
    if (now > count) deadline = Date.now() + 15_000;
    count = now;
    if (count >= want) break;
    await sleep(500);
  }
  return count;
}
