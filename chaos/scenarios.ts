/*
 * The fault scenarios, one implementation for two sizes: the CI tests in
 * test/reliability/faults.test.ts and the larger `npm run chaos`. Each runs two service
 * processes sharing the consumer groups on a private stack, injects one fault, and returns
 * the ledger of what the receiver got.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createWebhook,
  formatLedger,
  ledgerOf,
  openRun,
  spawnService,
  startLedgerReceiver,
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
  /** How long Kafka / MongoDB / the receiver stay down. */
  outageMs: number;
  receiverOutageMs: number;
}

export const CI_SIZES: Sizes = {
  kill9: 600,
  kafkaOutage: 200,
  mongoOutage: 200,
  receiverOutage: 150,
  sigterm: 300,
  outageMs: 10_000,
  receiverOutageMs: 4_000,
};

export const CHAOS_SIZES: Sizes = {
  kill9: 10_000,
  kafkaOutage: 4_000,
  mongoOutage: 4_000,
  receiverOutage: 2_000,
  sigterm: 4_000,
  outageMs: 10_000,
  receiverOutageMs: 5_000,
};

/** Short, so retries happen within the run; 6 attempts span 11 s. */
export const RETRY_SCHEDULE = '1s,1s,2s,2s,5s';
export const REQUEST_TIMEOUT_MS = 2_000;

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
): Promise<ScenarioResult> {
  const started = Date.now();
  const run = await openRun(name.replace(/[^a-z0-9]/gi, '').slice(0, 12), stack.info, {
    WEBHOOKS_RETRY_SCHEDULE: RETRY_SCHEDULE,
    WEBHOOKS_REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_MS}ms`,
  });
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
    const complete = await run.waitDelivered(receiver, DELIVERY_TIMEOUT_MS, say);
    facts.allArrived = complete;
    const unsettled = await run.unsettledDeliveries(complete ? 15_000 : 1_000);
    if (unsettled.length) facts.unsettledSample = JSON.stringify(unsettled.slice(0, 3));
    const ledger = ledgerOf(run.producedIds, receiver.requests);
    if (ledger.missing > 0) {
      // What the store says of the first few missing events, to tell where they stopped.
      const arrived = new Set(receiver.requests.filter((r) => r.status < 300).map((r) => r.eventId));
      const missing = run.producedIds.filter((id) => !arrived.has(id)).slice(0, 3);
      const docs = await run.mongo.db(run.database).collection('deliveries').find({ eventId: { $in: missing } }, { projection: { payload: 0 } }).toArray();
      facts.missingSample = JSON.stringify({ missing, docs });
    }
    facts.seconds = Math.round((Date.now() - started) / 1000);
    say(formatLedger(name, ledger, `unsettled ${unsettled.length}`));
    return { name, ledger, unsettled: unsettled.length, facts, logs: tails(services) };
  } finally {
    await Promise.all(services.map((s) => stopService(s)));
    // CHAOS_LOG_DIR=dir keeps each service's whole output for a closer look.
    const logDir = process.env.CHAOS_LOG_DIR;
    if (logDir) for (const s of services) writeFileSync(path.join(logDir, `${s.name.replace(/\W+/g, '-')}.log`), s.output());
    await receiver.close();
    await run.close();
  }
}

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
  return scenario('kafka outage', stack, say, async ({ stack, run, receiver, facts }) => {
    const half = Math.floor(events / 2);
    await run.produce(half);
    await until(() => receiver.deliveredCount() >= half * 0.2, 60_000);
    facts.deliveredAtStop = receiver.deliveredCount();
    await stack.stop('kafka');
    await sleep(outageMs);
    facts.deliveredDuringOutage = receiver.deliveredCount() - Number(facts.deliveredAtStop);
    await stack.start();
    await run.produce(events - half);
  });
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
    await run.waitDelivered(receiver, DELIVERY_TIMEOUT_MS);
    // One delivery that needed a retry, as the API shows it.
    const outcomes = run.mongo.db(run.database).collection<{ deliveryId: string; number: number; status: string }>('delivery_outcomes');
    const retried = await outcomes.findOne({ number: { $gt: 1 }, status: 'succeeded' });
    facts.retriedDeliveries = (await outcomes.distinct('deliveryId', { number: { $gt: 1 } })).length;
    if (retried) {
      const res = await fetch(`${a.baseUrl}/v1/webhooks/${webhook.id}/deliveries/${retried.deliveryId}`, {
        headers: { authorization: `Bearer ${run.key}` },
      });
      const delivery = (await res.json()) as any;
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
