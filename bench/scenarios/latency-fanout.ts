import { setTimeout as sleep } from 'node:timers/promises';
import { EVENT_TYPES } from '../../src/domain/event-types.js';
import { Tally } from '../ledger.js';
import { planEvents } from '../producers.js';
import { now } from '../receipts.js';
import { distribution, fmt } from '../report.js';
import { account, openService, type BenchRun } from '../run-context.js';

/** Scenarios 3 (latency at a steady rate from Kafka) and 4 (one event to many webhooks), on one service. */
export async function latencyAndFanout(run: BenchRun): Promise<void> {
  const { opts, runId } = run;
  const { row, results } = run.report;
  const ctx = await openService(run, 'latency-fanout');
  const { events } = ctx;
  if (opts.scenarios.has(3)) {
    const { pick } = await ctx.hookPerType('lat');
    await sleep(1_100);
    const steady = async (seconds: number, tally: Tally) => {
      const total = Math.round(opts.latencyRate * seconds);
      const planned = planEvents(`${runId}_lat`, total, pick);
      const t0 = now();
      let sent = 0;
      const pending = new Set<Promise<unknown>>();
      let late = 0;
      while (sent < total) {
        const due = Math.min(total, Math.floor(((now() - t0) / 1000) * opts.latencyRate) + 1);
        if (due > sent) {
          const batch = planned.slice(sent, due);
          sent = due;
          const p = events.send(batch, tally);
          pending.add(p);
          void p.finally(() => pending.delete(p));
          if (pending.size > 50) {
            late++;
            await Promise.race(pending);
          }
        }
        await sleep(2);
      }
      await Promise.all(pending);
      return { producedSeconds: (now() - t0) / 1000, producerBackpressure: late };
    };
    run.say(`3. latency: ${opts.latencyRate} events/s for ${opts.latencySeconds} s after a 3 s warm-up`);
    const warm = new Tally('3 warm-up');
    await steady(3, warm);
    await warm.settle(20_000, 60_000);
    account(run, '3 warm-up', warm);
    const tally = new Tally('3 latency');
    const cpu0 = (await ctx.service.sample()).cpuSeconds;
    const produced = await steady(opts.latencySeconds, tally);
    await tally.settle(20_000, 60_000);
    const cpu1 = (await ctx.service.sample()).cpuSeconds;
    account(run, '3 latency', tally);
    const lat = distribution(tally.latencies);
    run.resources.latencyCpuSecondsPer1000 = ((cpu1 - cpu0) / tally.received) * 1000;
    results.latency = {
      ratePerSecond: opts.latencyRate,
      seconds: opts.latencySeconds,
      achievedRate: tally.expected / produced.producedSeconds,
      ...tally.counts(),
      latencyMs: lat,
      ...produced,
    };
    row('3 latency', `p50 / p95 ms at ${fmt(opts.latencyRate)} ev/s`, `${fmt(lat.p50, 1)} / ${fmt(lat.p95, 1)}`, '');
    row('3 latency', 'p99 ms', fmt(lat.p99, 1), '≤ 50', lat.p99 <= 50);
    row('3 latency', 'max ms', fmt(lat.max, 1), '');
  }

  if (opts.scenarios.has(4)) {
    const { workspace, key } = await ctx.newWorkspace(`fan-${runId}`);
    const type = EVENT_TYPES[EVENT_TYPES.length - 1]!;
    run.say(`4. fan-out: creating ${opts.fanout} webhooks in one workspace`);
    const tCreate = now();
    const hooks = await ctx.api.createHooks(key, Array.from({ length: opts.fanout }, () => ({ type })));
    run.say(`   created in ${fmt((now() - tCreate) / 1000, 1)} s`);
    await sleep(1_100);
    const pick = () => ({ workspace, type, expect: hooks });
    const warm = new Tally('4 warm-up');
    await events.send(planEvents(`${runId}_fan`, 1, pick), warm);
    await warm.settle(20_000, 60_000);
    account(run, '4 warm-up', warm);
    const runs: Array<{ ms: number; received: number; firstMs: number }> = [];
    for (let r = 0; r < opts.fanoutRuns; r++) {
      await sleep(1_000);
      const tally = new Tally(`4 fan-out ${r + 1}`);
      const sentAt = await events.send(planEvents(`${runId}_fan`, 1, pick), tally);
      await tally.settle(20_000, 60_000);
      account(run, `4 fan-out ${r + 1}`, tally);
      // A run that lost receipts has no time until the last one.
      const complete = tally.received === tally.expected;
      runs.push({ ms: complete ? tally.lastAt - sentAt : NaN, firstMs: tally.received > 0 ? tally.firstAt - sentAt : NaN, received: tally.received });
    }
    const worst = runs.some((r) => !Number.isFinite(r.ms)) ? NaN : Math.max(...runs.map((r) => r.ms));
    const median = distribution(runs.map((r) => r.ms)).p50;
    results.fanout = { webhooks: opts.fanout, runs, worstMs: worst, medianMs: median };
    row('4 fan-out', `1 event → ${fmt(opts.fanout)} webhooks, last receipt ms (median of ${runs.length})`, fmt(median), '');
    row('4 fan-out', 'worst run ms (n/a if a run lost receipts)', fmt(worst), '≤ 1,000', Number.isFinite(worst) && worst <= 1000);
  }
  await ctx.close();
}
