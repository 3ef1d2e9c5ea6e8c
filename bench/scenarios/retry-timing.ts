import { setTimeout as sleep } from 'node:timers/promises';
import { parseDuration } from '../../src/domain/duration.js';
import { Tally } from '../ledger.js';
import { planEvents } from '../producers.js';
import { distribution, fmt } from '../report.js';
import { account, openService, type BenchRun } from '../run-context.js';

/** Scenario 6: each retry against its schedule, never early (its own service). */
export async function retryTiming(run: BenchRun): Promise<void> {
  const { opts, runId } = run;
  const { row, results } = run.report;
  const schedule = opts.retrySchedule.split(',').map((s) => s.trim());
  const delays = schedule.map((label) => parseDuration(label));
  const fail = Math.min(delays.length, 2);
  const ctx = await openService(run, 'retry', { WEBHOOKS_RETRY_SCHEDULE: opts.retrySchedule }, false);
  const { hooks, pick } = await ctx.hookPerType('retry', `/flaky?fail=${fail}`);
  await sleep(1_100);
  run.say(`6. retry timing: schedule ${opts.retrySchedule}, each delivery fails ${fail} time(s) first; ${opts.retryEvents} deliveries`);

  const attempts = new Map<string, Array<{ attempt: number; at: number; finishedAt: number; status: number }>>();
  const hookIds = new Set(hooks.map((h) => h.id));
  run.receiver.ledger.onAttempt = ([, webhookId, deliveryId, attempt, at, , status, finishedAt]) => {
    if (!hookIds.has(webhookId)) return;
    const list = attempts.get(deliveryId) ?? [];
    list.push({ attempt, at, finishedAt, status });
    attempts.set(deliveryId, list);
  };
  const warm = new Tally('6 warm-up');
  await ctx.events.send(planEvents(runId, 10, pick), warm);
  await warm.settle(30_000, 60_000);
  account(run, '6 warm-up', warm);
  attempts.clear();
  const tally = new Tally('6 retry');
  // Spread over about 2 s so due times interleave across partitions.
  const planned = planEvents(runId, opts.retryEvents, pick);
  const slice = Math.max(1, Math.ceil(planned.length / 20));
  for (let i = 0; i < planned.length; i += slice) {
    await ctx.events.send(planned.slice(i, i + slice), tally);
    await sleep(100);
  }
  await tally.settle(30_000, 120_000);
  account(run, '6 retry', tally);
  run.receiver.ledger.onAttempt = undefined;
  const lateness: number[] = [];
  let early = 0;
  let outOfOrder = 0;
  for (const list of attempts.values()) {
    list.sort((a, b) => a.attempt - b.attempt);
    for (let i = 1; i < list.length; i++) {
      const previous = list[i - 1]!;
      const current = list[i]!;
      if (current.attempt !== previous.attempt + 1) {
        outOfOrder++;
        continue;
      }
      const delay = delays[previous.attempt - 1] ?? NaN;
      const l = current.at - (previous.finishedAt + delay);
      lateness.push(l);
      if (l < 0) early++;
    }
  }
  const dist = distribution(lateness);
  await ctx.close();
  results.retry = {
    schedule: opts.retrySchedule,
    failFirst: fail,
    ...tally.counts(),
    retries: lateness.length,
    early,
    outOfOrder,
    latenessMs: dist,
    retryServicePeakRssMB: ctx.service.peakRssBytes() / 1024 / 1024,
  };
  row('6 retry timing', `retries measured (schedule ${opts.retrySchedule})`, fmt(lateness.length), '');
  row('6 retry timing', 'early retries (min lateness ms)', `${fmt(early)} (${fmt(dist.min, 1)})`, '0', early === 0);
  row('6 retry timing', 'lateness p50 / p99 ms', `${fmt(dist.p50, 1)} / ${fmt(dist.p99, 1)}`, 'p99 ≤ 1,000', dist.p99 <= 1000);
  row('6 retry timing', 'lateness max ms', fmt(dist.max, 1), '');
}
