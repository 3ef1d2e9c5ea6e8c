import { setTimeout as sleep } from 'node:timers/promises';
import { EVENT_TYPES } from '../../src/domain/event-types.js';
import { Tally } from '../ledger.js';
import { postJson } from '../api-client.js';
import { apiPublishers, nextEventSeq, publishLoop, type PublishCall } from '../producers.js';
import { now, padding } from '../receipts.js';
import { distribution, fmt } from '../report.js';
import { account, openService, type BenchRun } from '../run-context.js';

/**
 * Events published at each latency rate before the timed ones, not timed but accounted: the first
 * seconds at a new rate also time the JIT and the heap settling to it (p99 at 200 events/s about a
 * third higher without them, in back-to-back runs here).
 */
const LATENCY_WARM_UP_SECONDS = 5;

/** Creates timed apart, before the timed registration. */
const REGISTRATION_WARM_UP = 100;

/** Scenario 8: registration, publish, latency through the API, idle CPU and peak RSS (its own service). */
export async function api(run: BenchRun): Promise<void> {
  const { opts, runId } = run;
  const { row, results } = run.report;
  const ctx = await openService(run, 'api', {}, false);
  const { service } = ctx;
  const api8: Record<string, unknown> = {};
  const type = EVENT_TYPES[EVENT_TYPES.length - 1]!;

  // (c) Registration one call after another, as a script that sets up a tenant would, on a warm
  // service as the other scenarios: the first creates after start share the process with its
  // consumers joining their groups and with code not yet optimised.
  {
    const warmUp = Math.min(REGISTRATION_WARM_UP, opts.register);
    const { key: warmKey } = await ctx.newWorkspace(`regwarm-${runId}`);
    const w0 = now();
    await ctx.api.createHooks(warmKey, Array.from({ length: warmUp }, () => ({ type })), 1);
    const warmMs = (now() - w0) / warmUp;
    const { key } = await ctx.newWorkspace(`reg-${runId}`);
    run.say(`8. registration: ${opts.register} webhooks one by one through POST /v1/webhooks (after ${warmUp} in another workspace: ${fmt(warmMs, 1)} ms each)`);
    const t0 = now();
    await ctx.api.createHooks(key, Array.from({ length: opts.register }, () => ({ type })), 1);
    const seconds = (now() - t0) / 1000;
    api8.registration = { webhooks: opts.register, seconds, msPerWebhook: (seconds * 1000) / opts.register, warmUp: { webhooks: warmUp, msPerWebhook: warmMs } };
    row('8 api', `registering ${fmt(opts.register)} webhooks one by one (s)`, fmt(seconds, 2), opts.register === 1000 ? '≤ 1.5' : '', opts.register === 1000 ? seconds <= 1.5 : undefined);
    // The goal (1,000 in 1.5 s) per call, so a --quick run is judged too.
    row('8 api', '... ms per webhook', fmt((seconds * 1000) / opts.register, 1), '≤ 1.5', (seconds * 1000) / opts.register <= 1.5);
    row('8 api', `... the first ${fmt(warmUp)} after start (warm-up, another workspace), ms per webhook`, fmt(warmMs, 1), '');
  }

  // (a) Publish at N concurrent callers, REST, gRPC and the batch RPC, to a workspace without webhooks: the accept path alone.
  {
    const { key } = await ctx.newWorkspace(`pub-${runId}`);
    const publishers = apiPublishers(service.baseUrl, key, type, opts.bodyBytes);
    const measure = (label: string, call: PublishCall, perCall: number) => {
      run.say(`8. publish through ${label}: ${opts.publishEvents} events at ${opts.publishConcurrency} concurrent callers`);
      return publishLoop(call, opts.publishEvents, opts.publishConcurrency, perCall);
    };
    const rest = await measure('POST /v1/events', publishers.rest, 1);
    const grpc = await measure('gRPC PublishEvent', publishers.grpc, 1);
    const batchLabel = `gRPC PublishEvents (${opts.publishBatch} a call)`;
    const batch = await measure(batchLabel, publishers.grpcBatch(opts.publishBatch), opts.publishBatch);
    publishers.close();
    api8.publish = { concurrency: opts.publishConcurrency, rest, grpc, batch: { eventsPerCall: opts.publishBatch, ...batch } };
    for (const [label, r] of [['POST /v1/events', rest], ['gRPC PublishEvent', grpc], [batchLabel, batch]] as const) {
      row('8 api', `${label}, ${opts.publishConcurrency} callers (events/s)`, fmt(r.eventsPerSecond), '≥ 2,000', r.errors === 0 && r.eventsPerSecond >= 2000);
      row('8 api', `... call p50 / p99 ms, errors`, `${fmt(r.callMs.p50, 1)} / ${fmt(r.callMs.p99, 1)}, ${fmt(r.errors)}`, '0 errors', r.errors === 0);
    }
  }

  // (b) Latency from the publish call to receipt at a steady rate through the API.
  {
    const { workspace, key } = await ctx.newWorkspace(`apilat-${runId}`);
    const [hook] = await ctx.api.createHooks(key, [{ type: EVENT_TYPES[0]! }]);
    await sleep(1_100);
    const pad = padding(opts.bodyBytes);
    const steady = async (rate: number, seconds: number, tally: Tally) => {
      const total = Math.round(rate * seconds);
      const pending = new Set<Promise<unknown>>();
      let errors = 0;
      const t0 = now();
      for (let sent = 0; sent < total; await sleep(1)) {
        const due = Math.min(total, Math.floor(((now() - t0) / 1000) * rate) + 1);
        for (; sent < due; sent++) {
          const id = `evt_bench_${runId}_apilat_${nextEventSeq()}`;
          run.receiver.ledger.expect(id, hook!.id, tally);
          const body = JSON.stringify({ id, type: EVENT_TYPES[0], agent: `agent-${sent % 16}`, data: { sent_at: now(), note: pad } });
          const p = postJson(`${service.baseUrl}/v1/events`, key, body).then(
            (r) => {
              if (!r.ok) errors++;
            },
            () => errors++,
          );
          pending.add(p);
          void p.finally(() => pending.delete(p));
        }
      }
      await Promise.all(pending);
      return { errors, producedSeconds: (now() - t0) / 1000 };
    };
    const latency: Record<string, unknown> = { workspace };
    for (const [rate, p99Goal] of [
      [50, 8],
      [200, 10],
    ] as const) {
      run.say(`8. latency through POST /v1/events: ${rate} events/s for ${opts.apiLatencySeconds} s, after ${LATENCY_WARM_UP_SECONDS} s at that rate`);
      // Straight on from the warm-up, so the timed events meet the steady state of this rate.
      const warm = new Tally(`8 api latency warm-up ${rate}/s`);
      await steady(rate, LATENCY_WARM_UP_SECONDS, warm);
      const tally = new Tally(`8 api latency ${rate}/s`);
      const produced = await steady(rate, opts.apiLatencySeconds, tally);
      await warm.settle(20_000, 60_000);
      account(run, `8 api latency warm-up ${rate}/s`, warm);
      await tally.settle(20_000, 60_000);
      account(run, `8 api latency ${rate}/s`, tally);
      const lat = distribution(tally.latencies);
      latency[`at${rate}`] = { ratePerSecond: rate, seconds: opts.apiLatencySeconds, ...tally.counts(), ...produced, latencyMs: lat };
      row('8 api', `publish call → receipt at ${rate} ev/s, p50 / p99 ms`, `${fmt(lat.p50, 1)} / ${fmt(lat.p99, 1)}`, `p99 ≤ ${p99Goal}`, lat.p99 <= p99Goal);
    }
    api8.latency = latency;
  }

  // (d) Idle CPU: no traffic at all once the figures above settled; (e) the process's peak RSS.
  {
    await sleep(2_000);
    run.say(`8. idle CPU: ${opts.idleSeconds} s without traffic`);
    const s0 = await service.sample();
    const t0 = now();
    await sleep(opts.idleSeconds * 1000);
    const s1 = await service.sample();
    const cores = (s1.cpuSeconds - s0.cpuSeconds) / ((now() - t0) / 1000);
    const peakMB = Math.max(service.peakRssBytes(), s1.peakRssBytes) / 1024 / 1024;
    api8.idle = { seconds: opts.idleSeconds, cpuSeconds: s1.cpuSeconds - s0.cpuSeconds, cores, rssMBAtRest: s1.rssBytes / 1024 / 1024 };
    api8.peakRssMB = peakMB;
    row('8 api', `idle CPU over ${fmt(opts.idleSeconds)} s (cores)`, fmt(cores, 3), '≤ 0.02', cores <= 0.02);
    row('8 api', 'RSS at rest MB', fmt(s1.rssBytes / 1024 / 1024), '');
    row('8 api', 'peak RSS MB of this service process (VmHWM)', fmt(peakMB), '≤ 120', peakMB <= 120);
  }
  await ctx.close();
  results.api = api8;
}
