import net, { type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { EVENT_TYPES } from '../../src/domain/event-types.js';
import { Tally } from '../ledger.js';
import { planEvents } from '../producers.js';
import { now } from '../receipts.js';
import { distribution, fmt } from '../report.js';
import { account, openService, saturate, type BenchRun, type ServiceContext } from '../run-context.js';

/** Scenario 5: healthy deliveries beside webhooks that never answer, and a hanging tenant beside another workspace. */
export async function isolation(run: BenchRun): Promise<void> {
  const { opts, runId } = run;
  const { row, results } = run.report;
  const ctx = await openService(run, 'isolation');
  const every = opts.hangingPercent > 0 ? Math.round(100 / opts.hangingPercent) : 0;
  const pick = await ctx.makeTopology('iso', every);
  await sleep(1_100);
  run.say(`5. isolation: as 2, every ${every}th webhook never answers (request timeout ${opts.requestTimeout})`);
  const warm = new Tally('5 warm-up');
  const hangingBefore = run.receiver.ledger.stats.hanging;
  await saturate(run, ctx.events, `${runId}_isow`, pick, warm, opts.warmupDeliveries * 0.9, 60);
  account(run, '5 warm-up', warm);
  const tally = new Tally('5 isolation');
  const { seconds, rate } = await saturate(run, ctx.events, `${runId}_iso`, pick, tally, opts.deliveries * 0.9, opts.throughputSeconds);
  account(run, '5 isolation', tally);
  const ratio = rate / run.scenario2Rate;
  run.receiver.releaseHanging();
  await ctx.close();
  // A service of its own: the tasks deferred above would come back in the middle of it.
  const tenantCtx = await openService(run, 'hanging-tenant');
  const tenant = await hangingTenant(run, tenantCtx);
  run.receiver.releaseHanging();
  await tenantCtx.close();
  results.isolation = {
    hangingPercent: opts.hangingPercent,
    expectedHealthy: tally.expected,
    received: tally.received,
    missing: tally.missing,
    duplicates: tally.duplicates,
    seconds,
    healthyDeliveriesPerSecond: rate,
    ratioToThroughput: ratio,
    hangingRequestsSeen: run.receiver.ledger.stats.hanging - hangingBefore,
    latencyUnderLoadMs: distribution(tally.latencies),
    hangingTenant: tenant,
  };
  row('5 isolation', `healthy deliveries/s (${opts.hangingPercent}% hang)`, fmt(rate), '');
  row('5 isolation', 'ratio to scenario 2', fmt(ratio, 2), '≥ 0.9', Number.isFinite(run.scenario2Rate) ? ratio >= 0.9 : undefined);
  row(
    '5 isolation',
    `other workspace p99 ms: alone / beside ${fmt(opts.hangingWebhooks)} hanging webhooks`,
    `${fmt(tenant.baseline.p99, 1)} / ${fmt(tenant.during.p99, 1)}`,
    '≤ 2× alone (or 250)',
    tenant.during.p99 <= tenant.allowedP99Ms,
  );
}

/**
 * Scenario 5, hanging tenant: one workspace's webhooks all hang (a server of their own that
 * reads each request and never answers, so the receiver times the other workspace undisturbed)
 * while it gets a burst of events and more after it; another workspace's steady deliveries are
 * timed alone first, then beside it.
 */
async function hangingTenant(run: BenchRun, ctx: ServiceContext) {
  const { opts, runId } = run;
  const sockets = new Set<net.Socket>();
  // Connections carrying a request: a pooled connection without one is not a send.
  const live = new Set<net.Socket>();
  const hangServer = net.createServer((socket) => {
    sockets.add(socket);
    socket.resume();
    socket.once('data', () => live.add(socket));
    socket.on('error', () => {});
    socket.on('end', () => live.delete(socket));
    socket.on('close', () => {
      live.delete(socket);
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve) => hangServer.listen(0, '127.0.0.1', resolve));
  run.cleanup.push(async () => {
    for (const socket of sockets) socket.destroy();
    hangServer.close();
  });
  const hangUrl = `http://127.0.0.1:${(hangServer.address() as AddressInfo).port}/hang`;
  let hangingConnectionsPeak = 0;
  const sampler = setInterval(() => (hangingConnectionsPeak = Math.max(hangingConnectionsPeak, live.size)), 10);
  const a = await ctx.newWorkspace(`hang-${runId}`);
  const type = EVENT_TYPES[EVENT_TYPES.length - 1]!;
  await ctx.api.createHooks(a.key, Array.from({ length: opts.hangingWebhooks }, (_, i) => ({ type, url: `${hangUrl}/${i}`, hanging: true })));
  const b = await ctx.hookPerType('steady');
  await sleep(1_100);
  const rate = Math.max(10, Math.round(opts.latencyRate / 10));
  const seconds = Math.max(3, Math.round(opts.latencySeconds / 2));
  const steady = async (label: string, tally: Tally, forSeconds = seconds) => {
    const total = rate * forSeconds;
    const planned = planEvents(`${runId}_${label}`, total, b.pick);
    const t0 = now();
    for (let sent = 0; sent < total; await sleep(20)) {
      const due = Math.min(total, Math.floor(((now() - t0) / 1000) * rate) + 1);
      if (due > sent) await ctx.events.send(planned.slice(sent, due), tally);
      sent = Math.max(sent, due);
    }
  };
  // The hanging workspace's events expect no receipt: they are never answered.
  const burst = (n: number) => ctx.events.send(planEvents(`${runId}_hang`, n, () => ({ workspace: a.workspace, type, expect: [] })), new Tally('5 hanging'));
  run.say(`5. hanging tenant: ${opts.hangingWebhooks} hanging webhooks in one workspace; another workspace at ${rate} events/s for ${seconds} s alone, then beside it`);
  // Not timed: a service just started (and the producer's first records to its topics) would set
  // the baseline the check doubles; full runs without this had it at 15–727 ms.
  const warm = new Tally('5 other workspace warm-up');
  await steady('warm', warm, 3);
  await warm.settle(20_000, 60_000);
  account(run, '5 other workspace warm-up', warm);
  const alone = new Tally('5 other workspace alone');
  await steady('alone', alone);
  await alone.settle(20_000, 60_000);
  account(run, '5 other workspace alone', alone);
  const beside = new Tally('5 other workspace beside hanging');
  // More sends than the process has slots at once (all of them would hang), then one event a
  // second while the other is timed: enough to hold every slot, not a load test of the store.
  const burstEvents = Math.max(1, Math.ceil((1.2 * opts.concurrency) / opts.hangingWebhooks));
  await burst(burstEvents);
  const more = (async () => {
    for (let s = 1; s < seconds; s++) {
      await sleep(1_000);
      await burst(1);
    }
  })();
  await steady('beside', beside);
  await more;
  await beside.settle(20_000, 60_000);
  account(run, '5 other workspace beside hanging', beside);
  clearInterval(sampler);
  for (const socket of sockets) socket.destroy();
  hangServer.close();
  const baseline = distribution(alone.latencies);
  const during = distribution(beside.latencies);
  return {
    hangingWebhooks: opts.hangingWebhooks,
    otherRatePerSecond: rate,
    seconds,
    baseline,
    during,
    allowedP99Ms: Math.max(2 * baseline.p99, 250),
    hangingRequestsPeak: hangingConnectionsPeak,
  };
}
