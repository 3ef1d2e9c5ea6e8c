import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka, Producer } from 'kafkajs';
import type { MongoClient } from 'mongodb';
import { EVENT_TYPES } from '../src/domain/event-types.js';
import { ApiKeyStore } from '../src/store/api-key-store.js';
import type { Tally } from './ledger.js';
import type { BenchOptions } from './options.js';
import { Api, EventProducer, planEvents, type EventRoute, type Hook } from './producers.js';
import { now } from './receipts.js';
import type { BenchReceiver } from './receiver.js';
import type { Report } from './report.js';
import { spawnService, type ServiceProcess } from './service-process.js';

/** What every scenario shares: the options, the servers, the receiver, the report and the run's figures so far. */
export interface BenchRun {
  opts: BenchOptions;
  runId: string;
  /** Service logs and profiles. */
  runDir: string;
  say(line: string): void;
  kafkaBrokers: string[];
  mongodbUri: string;
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  mongo: MongoClient;
  receiver: BenchReceiver;
  report: Report;
  /** Tallies whose expected deliveries the run's accounting counts. */
  accounted: Array<{ scenario: string; tally: Tally }>;
  /** Run at the end, newest first (and when interrupted). */
  cleanup: Array<() => Promise<unknown>>;
  services: ServiceProcess[];
  /** Scenario 7's figures, gathered by 2 and 3. */
  resources: { throughputCpuSecondsPer1000?: number; throughputPeakRssMB?: number; latencyCpuSecondsPer1000?: number; peakRssMB?: number };
  /** Highest peak RSS of the services of scenarios 2-5. */
  peakRss: number;
  /** Scenario 1's raw POST loop and scenario 2's deliveries/s, for the ratios; NaN when they did not run. */
  rawRps: number;
  scenario2Rate: number;
}

export const account = (run: BenchRun, scenario: string, tally: Tally): void => void run.accounted.push({ scenario, tally });

/** Scenario 2 and 5's topology: webhooks per workspace, and deliveries per event. */
export function topologyOf(opts: BenchOptions) {
  const types = EVENT_TYPES.slice(0, opts.eventTypes);
  const perWorkspace = opts.webhooks / opts.workspaces;
  return { types, perWorkspace, fanPerEvent: perWorkspace / opts.eventTypes };
}

export type ServiceContext = Awaited<ReturnType<typeof openService>>;

/** A fresh service process and database per scenario, so each starts equal; removed at the end unless --keep. */
export async function openService(run: BenchRun, label: string, env: Record<string, string> = {}, profile = run.opts.profile) {
  const { opts, runId, runDir } = run;
  const name = `${runId}-${label}`;
  const prefix = `bench-${name}`;
  const database = `bench_${name.replace(/[^A-Za-z0-9_-]/g, '_')}`.slice(0, 63);
  const logFile = path.join(runDir, `service-${name}.log`);
  const service = await spawnService(
    name,
    {
      KAFKA_BROKERS: run.kafkaBrokers.join(','),
      MONGODB_URI: run.mongodbUri,
      MONGODB_DATABASE: database,
      WEBHOOKS_TOPIC_PREFIX: prefix,
      WEBHOOKS_RATE_LIMIT_PER_MINUTE: '0',
      WEBHOOKS_MAX_IN_FLIGHT: String(opts.concurrency),
      WEBHOOKS_REQUEST_TIMEOUT: opts.requestTimeout,
      ...env,
    },
    { logFile, workers: opts.workers, nodeArgs: profile ? ['--cpu-prof', '--cpu-prof-dir', path.join(runDir, `profile-${name}`)] : [] },
  );
  run.services.push(service);
  run.cleanup.push(async () => {
    if (opts.keep) return;
    const topics = (await run.admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    if (topics.length) await run.admin.deleteTopics({ topics }).catch(() => {});
    await run.mongo.db(database).dropDatabase().catch(() => {});
  });
  run.say(`service "${label}" pid ${service.pid} at ${service.baseUrl} (log ${logFile})`);
  const keys = new ApiKeyStore(run.mongo.db(database));
  await keys.init();
  const api = new Api(service.baseUrl, run.receiver);
  const events = new EventProducer(run.producer, prefix, run.receiver.ledger, opts.bodyBytes);
  const { types, perWorkspace } = topologyOf(opts);

  /** A workspace of this run, with an API key. */
  const newWorkspace = async (name: string) => {
    const workspace = `bench-${name}`.toLowerCase();
    return { workspace, key: (await keys.create(workspace, 'bench')).key };
  };

  /** `webhooks` spread over workspaces, each on one of `types`; `hangingEvery` marks every n-th as never answering. */
  const makeTopology = async (topologyLabel: string, hangingEvery: number): Promise<EventRoute> => {
    const byWorkspaceType = new Map<string, Hook[]>();
    const workspaces: string[] = [];
    for (let w = 0; w < opts.workspaces; w++) {
      const { workspace, key } = await newWorkspace(`${topologyLabel}-${runId}-${w}`);
      workspaces.push(workspace);
      const specs = Array.from({ length: perWorkspace }, (_, i) => {
        const hanging = hangingEvery > 0 && (w * perWorkspace + i) % hangingEvery === hangingEvery - 1;
        return { type: types[i % types.length]!, hanging, path: hanging ? '/hang' : '/hook' };
      });
      for (const hook of await api.createHooks(key, specs)) {
        const k = `${workspace}|${hook.type}`;
        byWorkspaceType.set(k, [...(byWorkspaceType.get(k) ?? []), hook]);
      }
    }
    return (i: number) => {
      const workspace = workspaces[i % workspaces.length]!;
      const type = types[Math.floor(i / workspaces.length) % types.length]!;
      const hooks = byWorkspaceType.get(`${workspace}|${type}`) ?? [];
      return { workspace, type, expect: hooks.filter((h) => !h.hanging) };
    };
  };

  /** A workspace with one webhook on each of the first ten event types (at `path`); event i goes to the i-th. */
  const hookPerType = async (label: string, path?: string) => {
    const { workspace, key } = await newWorkspace(`${label}-${runId}`);
    const hookTypes = EVENT_TYPES.slice(0, 10);
    const hooks = await api.createHooks(key, hookTypes.map((type) => ({ type, path })));
    const pick: EventRoute = (i) => ({ workspace, type: hookTypes[i % hookTypes.length]!, expect: [hooks[i % hooks.length]!] });
    return { hooks, pick };
  };
  const close = async () => {
    await service.stop(40_000);
    run.peakRss = Math.max(run.peakRss, service.peakRssBytes());
  };
  return { service, database, api, events, newWorkspace, makeTopology, hookPerType, close };
}

/**
 * Produces as fast as the producer goes while at most `backlog` deliveries are outstanding, until
 * `deliveries` were produced or `seconds` passed; then waits for the rest. A closed loop keeps the
 * pipeline saturated without piling up more work than the run can account for.
 */
export async function saturate(run: BenchRun, events: EventProducer, label: string, pick: EventRoute, tally: Tally, deliveries: number, seconds: number) {
  const backlog = 2 * run.opts.concurrency;
  const { fanPerEvent } = topologyOf(run.opts);
  const chunkEvents = Math.max(1, Math.floor(500 / fanPerEvent));
  const t0 = now();
  const stopAt = t0 + seconds * 1000;
  let produced = 0;
  // One lane for small runs, so they stop near `deliveries` instead of a lane's chunk past it.
  const lanes = Array.from({ length: deliveries < 5_000 ? 1 : 4 }, async () => {
    while (tally.expected < deliveries && now() < stopAt) {
      if (tally.expected - tally.received >= backlog) {
        await sleep(2);
        continue;
      }
      const remaining = Math.ceil((deliveries - tally.expected) / fanPerEvent);
      const batch = planEvents(label, Math.max(1, Math.min(chunkEvents, remaining)), (i) => pick(produced + i));
      produced += batch.length;
      await events.send(batch, tally);
    }
  });
  await Promise.all(lanes);
  const producedAt = now();
  await tally.settle(20_000, 90_000);
  const untilLastReceipt = (tally.lastAt - t0) / 1000;
  return {
    producedSeconds: (producedAt - t0) / 1000,
    seconds: untilLastReceipt,
    rate: tally.received > 0 ? tally.received / untilLastReceipt : 0,
  };
}
