/*
 * The fault scenarios, one implementation for two sizes: the CI tests in
 * test/reliability/faults.test.ts and the larger `npm run chaos`. Each runs two service
 * processes sharing the consumer groups on a private stack, injects one fault, and returns
 * the ledger of what the receiver got.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { topicNames } from '../src/bus/topics.js';
import { loadConfig, shutdownDeadlineMs } from '../src/config/config.js';
import { DeliveryStore } from '../src/store/delivery-store.js';
import { consumerGroups, storyOf } from './diagnosis.js';
import {
  createWebhook,
  createWebhooks,
  deadLetterCount,
  fanOutLedgerOf,
  firstArrivals,
  formatLedger,
  latenciesOf,
  ledgerOf,
  openRun,
  pairKey,
  percentile,
  spawnService,
  startHangingServer,
  startLedgerReceiver,
  setWebhookStatus,
  apiGet,
  listDeliveries,
  stopService,
  type Ledger,
  type LedgerReceiver,
  type PrivateStack,
  type Run,
  type ServiceProcess,
} from './harness.js';

export interface Sizes {
  kill9: number;
  kafkaOutage: number;
  mongoOutage: number;
  receiverOutage: number;
  sigterm: number;
  /** The other workspace's events, half alone and half beside the hanging one. */
  hangingTenant: number;
  /** Webhooks of the one workspace, and events of ~20 KB each (plus one of ~1 MiB), in the large fan-out. */
  fanOutWebhooks: number;
  fanOutEvents: number;
  /** Events waiting for a retry while their webhook is disabled. */
  disable: number;
  /** How long Kafka / MongoDB / the receiver stay down. */
  outageMs: number;
  /** A Kafka outage longer than the producers' connect retries (about a minute): the consumers keep trying. */
  longOutageMs: number;
  receiverOutageMs: number;
}

export const CI_SIZES: Sizes = {
  kill9: 600,
  kafkaOutage: 200,
  mongoOutage: 200,
  receiverOutage: 150,
  sigterm: 300,
  hangingTenant: 200,
  fanOutWebhooks: 100,
  fanOutEvents: 5,
  disable: 100,
  outageMs: 10_000,
  longOutageMs: 70_000,
  receiverOutageMs: 4_000,
};

export const CHAOS_SIZES: Sizes = {
  kill9: 10_000,
  kafkaOutage: 4_000,
  mongoOutage: 4_000,
  receiverOutage: 2_000,
  sigterm: 4_000,
  hangingTenant: 1_000,
  fanOutWebhooks: 2_000,
  fanOutEvents: 20,
  disable: 2_000,
  outageMs: 10_000,
  longOutageMs: 70_000,
  receiverOutageMs: 5_000,
};

/** Short, so retries happen within the run; 6 attempts span 11 s. */
export const RETRY_SCHEDULE = '1s,1s,2s,2s,5s';
export const REQUEST_TIMEOUT_MS = 2_000;
/** `serve` exits by then after a signal, whatever it waits for. */
export const SHUTDOWN_DEADLINE_MS = shutdownDeadlineMs(REQUEST_TIMEOUT_MS);
/** The long Kafka outage's third service is sent SIGTERM this long before the broker is back. */
const STOP_BEFORE_BACK_MS = 4_000;
/** What every scenario's services run with. */
const SERVICE_ENV = { WEBHOOKS_RETRY_SCHEDULE: RETRY_SCHEDULE, WEBHOOKS_REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_MS}ms` };

export interface ScenarioResult {
  name: string;
  ledger: Ledger;
  /** Deliveries not `succeeded` once everything arrived (stuck pending/retrying): must be 0. */
  unsettled: number;
  /** Scenario-specific observations (timings, error texts). */
  facts: Record<string, string | number | boolean>;
  /** The last lines of each service's output, to explain a failure. */
  logs: string;
}

export type Say = (line: string) => void;

interface Context {
  stack: PrivateStack;
  run: Run;
  receiver: LedgerReceiver;
  a: ServiceProcess;
  b: ServiceProcess;
  webhook: { id: string; signing_secret: string };
  facts: ScenarioResult['facts'];
  say: Say;
}

const DELIVERY_TIMEOUT_MS = Number(process.env.CHAOS_DELIVERY_TIMEOUT_MS ?? 120_000);

async function scenario(
  name: string,
  stack: PrivateStack,
  say: Say,
  body: (ctx: Context) => Promise<void>,
  { onlyProducedSettle = false, env = {} }: { onlyProducedSettle?: boolean; env?: Record<string, string> } = {},
): Promise<ScenarioResult> {
  const started = Date.now();
  const run = await openRun(name.replace(/[^a-z0-9]/gi, '').slice(0, 12), stack.info, { ...SERVICE_ENV, ...env });
  const receiver = await startLedgerReceiver();
  const services: ServiceProcess[] = [];
  const facts: ScenarioResult['facts'] = {};
  try {
    const a = await spawnService(`${name}-a`, run.env);
    services.push(a);
    const b = await spawnService(`${name}-b`, run.env);
    services.push(b);
    const webhook = await createWebhook(a, run, receiver.url);
    await sleep(1_000); // subscription changes apply within 1 s on every instance
    say(`${name}: services up in ${Date.now() - started} ms`);
    await body({ stack, run, receiver, a, b, webhook, facts, say });
    // A body that waited for its deliveries itself (to time them) is not waited for again.
    const complete = typeof facts.allArrived === 'boolean' ? facts.allArrived : await run.waitDelivered(receiver, DELIVERY_TIMEOUT_MS, say);
    facts.allArrived = complete;
    const unsettled = await run.unsettledDeliveries(complete ? 15_000 : 1_000, onlyProducedSettle);
    if (unsettled.length) facts.unsettledSample = JSON.stringify(unsettled.slice(0, 3));
    const ledger = run.fanOut.length ? fanOutLedgerOf(run.producedIds, run.fanOut, receiver.requests) : ledgerOf(run.producedIds, receiver.requests);
    if (ledger.missing > 0 && run.fanOut.length) {
      // Which webhooks lack which events, for the first few.
      const arrived = new Set(receiver.requests.filter((r) => r.status < 300).map((r) => pairKey(r.eventId, r.webhookId)));
      const missing = run.producedIds.flatMap((e) => run.fanOut.filter((w) => !arrived.has(pairKey(e, w))).map((w) => ({ e, w }))).slice(0, 3);
      const docs = await run.mongo.db(run.database).collection('deliveries').find({ $or: missing.map(({ e, w }) => ({ eventId: e, webhookId: w })) }, { projection: { payload: 0 } }).toArray();
      facts.missingSample = JSON.stringify({ missing, docs });
    } else if (ledger.missing > 0) {
      // What the store says of the first few missing events, to tell where they stopped.
      const arrived = new Set(receiver.requests.filter((r) => r.status < 300).map((r) => r.eventId));
      const missing = run.producedIds.filter((id) => !arrived.has(id)).slice(0, 3);
      const docs = await run.mongo.db(run.database).collection('deliveries').find({ eventId: { $in: missing } }, { projection: { payload: 0 } }).toArray();
      facts.missingSample = JSON.stringify({ missing, docs });
    }
    facts.seconds = Math.round((Date.now() - started) / 1000);
    say(formatLedger(name, ledger, `unsettled ${unsettled.length}`));
    const failed = ledger.missing > 0 || unsettled.length > 0;
    // Where the work stopped: tasks never produced, or produced and never read.
    if (failed) {
      const config = loadConfig(run.env);
      const groups = await consumerGroups(run.kafka, topicNames(config.topicPrefix, config.retrySchedule), run.prefix).catch((error: Error) => `unknown: ${error.message}`);
      facts.consumerGroups = JSON.stringify(groups);
    }
    return { name, ledger, unsettled: unsettled.length, facts, logs: failed ? stories(services) : tails(services) };
  } finally {
    await Promise.all(services.map((s) => stopService(s)));
    // CHAOS_LOG_DIR=dir keeps each service's whole output for a closer look.
    const logDir = process.env.CHAOS_LOG_DIR;
    if (logDir) for (const s of services) writeFileSync(path.join(logDir, `${s.name.replace(/\W+/g, '-')}.log`), s.output());
    await receiver.close();
    await run.close();
  }
}

/** Like `until`, for a check that reads the store: polled every 500 ms. */
async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await sleep(500);
  }
  return true;
}

const stories = (services: ServiceProcess[]) => services.map((s) => storyOf(s.name, s.output())).join('\n');

const tails = (services: ServiceProcess[]) =>
  services.map((s) => `--- ${s.name} ---\n${s.output().trimEnd().split('\n').slice(-15).join('\n')}`).join('\n');

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** kill -9 of one of the two processes while deliveries flow. */
export function kill9(stack: PrivateStack, events: number, say: Say = () => {}): Promise<ScenarioResult> {
  return scenario('kill -9', stack, say, async ({ run, receiver, a, facts }) => {
    receiver.delayMs = 5; // keep some sends in flight
    await run.produce(events);
    await until(() => receiver.deliveredCount() >= events * 0.25, 60_000);
    facts.deliveredAtKill = receiver.deliveredCount();
    say(`kill -9: killing ${a.name} at ${facts.deliveredAtKill} delivered`);
    a.kill('SIGKILL');
    const { signal } = await a.exited;
    facts.killedBy = String(signal);
  });
}

/** The Kafka broker stopped for outageMs mid-run, then started again. */
export function kafkaOutage(stack: PrivateStack, events: number, outageMs: number, say: Say = () => {}): Promise<ScenarioResult> {
  // Past the producers' connect retries (about a minute), which the consumers outlast: another path.
  const long = outageMs > 60_000;
  const name = long ? 'long kafka outage' : 'kafka outage';
  return scenario(name, stack, say, async ({ stack, run, receiver, facts }) => {
    const half = Math.floor(events / 2);
    await run.produce(half);
    await until(() => receiver.deliveredCount() >= half * 0.2, 60_000);
    facts.deliveredAtStop = receiver.deliveredCount();
    // A third service, on topics and groups of its own, is stopped near the end of a long outage,
    // while Kafka is still away: it must exit within its shutdown deadline, not wait for the broker.
    const away = long ? await openRun('stopaway', stack.info, SERVICE_ENV) : undefined;
    const c = away ? await spawnService(`${name}-c`, away.env) : undefined;
    await stack.stop('kafka');
    await sleep(outageMs - (c ? STOP_BEFORE_BACK_MS : 0));
    if (c) await stopWhileAway(c, facts, (line) => say(`${name}: ${line}`));
    facts.deliveredDuringOutage = receiver.deliveredCount() - Number(facts.deliveredAtStop);
    await stack.start();
    const back = Date.now();
    try {
      await run.produce(events - half);
      // How long the pipeline takes to catch up once the broker answers again.
      facts.allArrived = await run.waitDelivered(receiver, DELIVERY_TIMEOUT_MS);
      if (facts.allArrived) {
        // When the last event first arrived, from the receiver's clock, not the wait's polling.
        facts.caughtUpMs = Math.max(...firstArrivals(receiver.requests).values()) - back;
        say(`${name}: every event delivered ${facts.caughtUpMs} ms after the broker answered again`);
      }
    } finally {
      // Its topics are deleted with the broker back: while away, the admin would wait out its tries.
      await away?.close();
    }
  });
}

/**
 * SIGTERM to `service` while Kafka is away: how long it took to exit (`stoppedWhileAwayMs`, -1 if
 * not within 10 s past its deadline, then it is killed), and at least STOP_BEFORE_BACK_MS passes.
 */
async function stopWhileAway(service: ServiceProcess, facts: ScenarioResult['facts'], say: Say): Promise<void> {
  const signalled = Date.now();
  try {
    service.kill('SIGTERM');
    const exited = await Promise.race([service.exited, sleep(SHUTDOWN_DEADLINE_MS + 10_000).then(() => undefined)]);
    facts.stoppedWhileAwayMs = exited ? exited.at - signalled : -1;
    facts.stoppedWhileAwayCode = exited ? (exited.code ?? -1) : -1;
    say(`a service stopped while Kafka was away ${exited ? `exited in ${facts.stoppedWhileAwayMs} ms (code ${facts.stoppedWhileAwayCode})` : 'did not exit'}`);
    await sleep(Math.max(0, signalled + STOP_BEFORE_BACK_MS - Date.now()));
  } finally {
    await stopService(service);
  }
}

/** MongoDB stopped for outageMs mid-run: the API answers 503 meanwhile, the pipeline waits and resumes. */
export function mongoOutage(stack: PrivateStack, events: number, outageMs: number, say: Say = () => {}): Promise<ScenarioResult> {
  return scenario('mongodb outage', stack, say, async ({ stack, run, receiver, a, b, facts }) => {
    const half = Math.floor(events / 2);
    await run.produce(half);
    await until(() => receiver.deliveredCount() >= half * 0.2, 60_000);
    const stoppedAt = Date.now();
    await stack.stop('mongo');
    // The API of both instances answers while the database is away, instead of hanging.
    const answers = await Promise.all(
      [a, b].map(async (service) => {
        const t = Date.now();
        const res = await fetch(`${service.baseUrl}/v1/webhooks`, {
          headers: { authorization: `Bearer ${run.key}` },
          signal: AbortSignal.timeout(outageMs),
        }).catch((error: Error) => ({ status: -1, json: async () => ({ error: { code: error.message } }) }));
        const body = (await res.json()) as any;
        return { status: res.status, code: String(body?.error?.code), ms: Date.now() - t };
      }),
    );
    facts.apiStatusDuringOutage = answers.map((x) => x.status).join(',');
    facts.apiCodeDuringOutage = answers.map((x) => x.code).join(',');
    facts.apiAnswerMs = Math.max(...answers.map((x) => x.ms));
    // Events keep arriving while the database is away.
    await run.produce(Math.floor((events - half) / 2));
    await sleep(Math.max(0, outageMs - (Date.now() - stoppedAt)));
    await stack.start();
    await run.produce(events - run.producedIds.length);
  });
}

/** The receiver refuses connections for a while, then comes back: later retries succeed. */
export function receiverOutage(stack: PrivateStack, events: number, outageMs: number, say: Say = () => {}): Promise<ScenarioResult> {
  return scenario('receiver outage', stack, say, async ({ run, receiver, a, webhook, facts }) => {
    await receiver.down();
    await run.produce(events);
    await sleep(outageMs);
    await receiver.up();
    facts.allArrived = await run.waitDelivered(receiver, DELIVERY_TIMEOUT_MS);
    // The deliveries that needed a retry, as the API lists them: a receipt comes before its outcome
    // is stored (outcome writes are batched), so wait until one shows succeeded.
    const retried = async () => (await listDeliveries(a, run, webhook.id)).filter((d) => d.attempt_count > 1 && d.status === 'succeeded');
    let ids: string[] = [];
    for (const deadline = Date.now() + 20_000; ids.length === 0 && Date.now() < deadline; await sleep(250)) ids = (await retried()).map((d) => d.id);
    facts.retriedDeliveries = ids.length;
    if (ids[0] !== undefined) {
      const delivery = await apiGet(a, run, `/v1/webhooks/${webhook.id}/deliveries/${ids[0]}`);
      facts.firstAttemptError = String(delivery.attempts?.[0]?.error);
      facts.firstAttemptStatus = Number(delivery.attempts?.[0]?.response_status);
      facts.lastAttemptStatus = Number(delivery.attempts?.at(-1)?.response_status);
      facts.retriedStatus = String(delivery.status);
    }
  });
}

/** SIGTERM to one process under load: in-flight sends finish or are handed back, it exits in time. */
export function sigterm(stack: PrivateStack, events: number, say: Say = () => {}): Promise<ScenarioResult> {
  return scenario('sigterm', stack, say, async ({ run, receiver, a, facts }) => {
    receiver.delayMs = 300; // every send stays in flight a while
    await run.produce(events);
    await until(() => receiver.deliveredCount() >= events * 0.2, 60_000);
    const signalled = Date.now();
    a.kill('SIGTERM');
    const { code, signal, at } = await a.exited;
    facts.exitCode = code ?? -1;
    facts.exitSignal = String(signal);
    facts.exitMs = at - signalled;
    facts.stoppedLog = a.output().includes('"msg":"stopped"');
  });
}

/**
 * Another workspace's 100 webhooks all hang (sockets that accept and never answer) while it gets a
 * burst of events and more after it: the run's workspace is timed alone, then beside it.
 */
export function hangingTenant(stack: PrivateStack, events: number, say: Say = () => {}): Promise<ScenarioResult> {
  return scenario(
    'hanging tenant',
    stack,
    say,
    async ({ run, receiver, a, facts }) => {
      const hang = await startHangingServer();
      try {
        const other = await run.newWorkspace('hanging');
        const urls = Array.from({ length: 100 }, (_, i) => `${hang.url}/hook-${i}`);
        for (let i = 0; i < urls.length; i += 10) {
          await Promise.all(urls.slice(i, i + 10).map((url) => createWebhook(a, run, url, { key: other.key, events: ['agent.created'] })));
        }
        await sleep(1_000);
        // The run's events, one every 20 ms.
        const steady = async (count: number) => {
          const from = run.producedIds.length;
          for (let i = 0; i < count; i++) {
            await run.produce(1);
            await sleep(20);
          }
          return run.producedIds.slice(from);
        };
        let hangingEvents = 0;
        const burst = async (n: number) => {
          const messages = Array.from({ length: n }, () => {
            const id = `evt_hang_${run.prefix}_${hangingEvents++}`;
            return { key: other.workspace, value: JSON.stringify({ id, type: 'agent.created', workspace: other.workspace, data: {} }) };
          });
          await run.producer.send({ topic: `${run.prefix}.events.agent.created`, acks: -1, messages });
        };

        const alone = await steady(Math.floor(events / 2));
        await run.waitDelivered(receiver, 30_000);
        // Ten events to 100 hanging webhooks: 1,000 sends, twice the send slots of a process; two more a second.
        await burst(10);
        const more = (async () => {
          for (let i = 0; i < 3; i++) {
            await sleep(1_000);
            await burst(2);
          }
        })();
        const beside = await steady(events - alone.length);
        await more;
        await run.waitDelivered(receiver, 60_000);
        const p99 = (ids: string[]) => Math.round(percentile(latenciesOf(ids, run.producedAt, receiver.requests), 99));
        facts.otherP99AloneMs = p99(alone);
        facts.otherP99BesideMs = p99(beside);
        facts.hangingWebhooks = urls.length;
        facts.hangingEvents = hangingEvents;
        facts.hangingConnectionsPeak = hang.peak;
        say(`hanging tenant: other workspace p99 ${facts.otherP99AloneMs} ms alone, ${facts.otherP99BesideMs} ms beside ${urls.length} hanging webhooks`);
      } finally {
        await hang.close();
      }
    },
    // Only the run's own events must settle: the hanging workspace's never do. The default schedule,
    // so the hanging workspace's tasks wait 30 s between tries as they would in production.
    { onlyProducedSettle: true, env: { WEBHOOKS_RETRY_SCHEDULE: '30s,5m,30m,2h,24h' } },
  );
}

/** Just under the 1 MiB event limit once the envelope (id, type, workspace, agent) is added. */
const LARGEST_TEXT = 1024 * 1024 - 512;

/**
 * One workspace with `webhooks` webhooks on `*`, all on the ledger receiver under distinct query
 * strings, then `events` events of ~20 KB and one of ~1 MiB: every event must reach every webhook,
 * counted per (event, webhook) pair.
 */
export function largeFanOut(stack: PrivateStack, webhooks: number, events: number, say: Say = () => {}): Promise<ScenarioResult> {
  return scenario(
    'large fan-out',
    stack,
    say,
    async ({ run, receiver, a, webhook, facts }) => {
      const creating = Date.now();
      const urls = Array.from({ length: webhooks - 1 }, (_, i) => `${receiver.url}?w=${i + 1}`);
      run.fanOut.push(webhook.id, ...(await createWebhooks(a, run, urls, 20)));
      facts.webhooks = run.fanOut.length;
      facts.createSeconds = Math.round((Date.now() - creating) / 100) / 10;
      say(`large fan-out: ${run.fanOut.length} webhooks created in ${facts.createSeconds} s`);
      await sleep(2_000); // subscription changes apply within 1 s on every instance

      const producing = Date.now();
      const text = 'x'.repeat(20_000);
      await run.produce(events, (n) => ({ n, text }));
      await run.produce(1, (n) => ({ n, text: 'y'.repeat(LARGEST_TEXT) }));
      facts.events = run.producedIds.length;
      facts.expectedDeliveries = run.producedIds.length * run.fanOut.length;
      await run.waitDelivered(receiver, DELIVERY_TIMEOUT_MS, say);

      const ok = receiver.requests.filter((r) => r.status < 300);
      const bytes = ok.map((r) => r.bytes).sort((x, y) => x - y);
      facts.bodyBytes = bytes[Math.floor(bytes.length / 2)] ?? 0;
      facts.largestBodyBytes = bytes.at(-1) ?? 0;
      const last = Math.max(...ok.map((r) => r.at));
      facts.secondsToLastReceipt = Math.round((last - producing) / 100) / 10;
      facts.deliveriesPerSecond = Math.round(receiver.deliveredPairs() / ((last - producing) / 1000));
      // Duplicates: a later attempt after a send timed out, or the same attempt again after a rebalance.
      facts.sentAgainAsLaterAttempt = ok.filter((r) => r.attempt > 1).length;
      const unreadable = receiver.requests.filter((r) => typeof r.eventId !== 'string' || r.eventId.startsWith('(unreadable'));
      facts.unreadableBodies = unreadable.length;
      if (unreadable.length) facts.unreadableSample = JSON.stringify(unreadable.slice(0, 3));
    },
    // Thousands of creates in a minute with one key; the default request timeout, as 1 MiB bodies
    // to thousands of webhooks on two shared cores take seconds to send.
    { env: { WEBHOOKS_RATE_LIMIT_PER_MINUTE: '1000000', WEBHOOKS_REQUEST_TIMEOUT: '10s' } },
  );
}

/**
 * Its own schedule: every retry 2 s apart, so each waiting delivery comes due several times while
 * its webhook is disabled (and a paused one is re-checked every 2 s); 31 attempts span 60 s, so
 * none runs out while thousands of first attempts are made on a busy machine.
 */
export const DISABLE_RETRY_SCHEDULE = Array.from({ length: 30 }, () => '2s').join(',');
/** How long the webhook stays disabled: four retry delays, well within the 60 s a pause may last. */
const DISABLED_MS = 8_000;
/** A status change reaches every instance within 1 s (sends already under way may finish meanwhile). */
const CHANGE_APPLIES_MS = 1_000;

/**
 * The receiver answers 500, so every delivery waits for a retry; the webhook is disabled past the
 * retry delays (nothing may be sent meanwhile), then the receiver answers 200 and the webhook is
 * enabled: every event arrives, as the attempt it was paused at, and nothing is dead-lettered.
 */
export function disableDuringRetries(stack: PrivateStack, events: number, say: Say = () => {}): Promise<ScenarioResult> {
  return scenario(
    'disable during retries',
    stack,
    say,
    async ({ run, receiver, a, webhook, facts }) => {
      receiver.status = 500;
      await run.produce(events);
      // Disabled once every event's first attempt failed and the store shows it waiting for a retry.
      const failedOnce = () => new Set(receiver.requests.map((r) => r.eventId)).size;
      await waitUntil(() => failedOnce() >= events, DELIVERY_TIMEOUT_MS);
      const store = new DeliveryStore(run.mongo.db(run.database));
      const retrying = async () => (await store.settlement()).byStatus.retrying;
      await waitUntil(async () => (await retrying()) >= events, 15_000);
      facts.retryingAtDisable = await retrying();

      const disabling = Date.now();
      await setWebhookStatus(a, run, webhook.id, 'disabled');
      const applied = Date.now() + CHANGE_APPLIES_MS;
      say(`disable during retries: ${facts.retryingAtDisable} of ${events} retrying, webhook disabled`);
      await sleep(DISABLED_MS);
      const enabling = Date.now();
      facts.sendsWhileDisabled = receiver.requests.filter((r) => r.at > applied && r.at < enabling).length;
      facts.sendsWhileChangeApplied = receiver.requests.filter((r) => r.at >= disabling && r.at <= applied).length;
      // How the API shows the waiting deliveries (first page).
      const res = await fetch(`${a.baseUrl}/v1/webhooks/${webhook.id}/deliveries?limit=100`, { headers: { authorization: `Bearer ${run.key}` } });
      const page = ((await res.json()) as { data: Array<{ status: string; last_error: string }> }).data;
      const paused = page.filter((d) => ['retrying', 'pending'].includes(d.status) && d.last_error === 'paused: webhook disabled');
      facts.shownPaused = `${paused.length} of ${page.length}`;

      receiver.status = 200;
      await setWebhookStatus(a, run, webhook.id, 'active');
      await run.waitDelivered(receiver, DELIVERY_TIMEOUT_MS, say);
      const ok = receiver.requests.filter((r) => r.status < 300);
      facts.secondsFromEnableToLastReceipt = Math.round((Math.max(...ok.map((r) => r.at)) - enabling) / 100) / 10;
      // Sent as the attempt it was paused at: each delivery's attempts, as the API shows them, are numbered 1..n, no gap.
      const deliveries = await listDeliveries(a, run, webhook.id);
      const numbers = await Promise.all(
        deliveries.map(async (d) => ((await apiGet(a, run, `/v1/webhooks/${webhook.id}/deliveries/${d.id}`)).attempts ?? []).map((t: { number: number }) => t.number)),
      );
      facts.deliveriesWithAttempts = numbers.filter((n) => n.length >= 2).length;
      facts.attemptNumberGaps = numbers.filter((n) => n.length === 0 || Math.max(...n) !== new Set(n).size).length;
      facts.dlqRecords = await deadLetterCount(run);
    },
    { env: { WEBHOOKS_RETRY_SCHEDULE: DISABLE_RETRY_SCHEDULE } },
  );
}
