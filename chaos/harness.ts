/*
 * Building blocks for the fault scenarios, shared by the CI tests (test/reliability/) and the
 * larger `npm run chaos` run: a private Kafka + MongoDB stack that may be stopped and started
 * without disturbing anyone else, service processes spawned from the built dist, a receiver
 * that keeps the ledger, and a producer of numbered events.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { loadConfig } from '../src/config/config.js';
import { stackDown, stackUp, type StackDirs, type StackInfo } from '../src/stack/stack.js';
import { ApiKeyStore } from '../src/store/api-key-store.js';
import { DeliveryStore } from '../src/store/delivery-store.js';
import { killLeftoverServices, spawnService as spawnServiceProcess, type ServiceEnv, type ServiceProcess } from '../bench/service-process.js';

const uniqueName = (label: string) => `c${Date.now().toString(36)}${randomBytes(3).toString('hex')}_${label}`;

// ---------------------------------------------------------------------------------------------
// A private stack: Kafka and MongoDB of our own, on free ports, reusing the installed jars/binary.

export interface UnsettledDelivery {
  id: string;
  status: string;
  nextAttemptAt: Date | null;
}

export interface PrivateStack {
  info: StackInfo;
  dirs: StackDirs;
  stop(server: 'kafka' | 'mongo'): Promise<void>;
  /** Starts what is stopped again (same ports, same data) and waits until it answers. */
  start(): Promise<void>;
  down(): Promise<void>;
}

export async function startPrivateStack(): Promise<PrivateStack> {
  const dirs = {
    dataDir: mkdtempSync(path.join(os.tmpdir(), 'humiris-private-stack-')),
    cacheDir: loadConfig({ ...process.env }).stack.cacheDir,
  };
  const info = await stackUp(dirs);
  return {
    info,
    dirs,
    async stop(server) {
      await stackDown(dirs, [server]);
    },
    async start() {
      const again = await stackUp(dirs);
      if (again.kafkaBrokers.join() !== info.kafkaBrokers.join() || again.mongodbUri !== info.mongodbUri) {
        throw new Error(`the private stack came back on other ports: ${JSON.stringify(again)}`);
      }
    },
    async down() {
      killLeftoverServices();
      await stackDown(dirs);
      rmSync(dirs.dataDir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Service processes: `node bin/humiris-webhooks.js serve` from the built dist (bench/service-process.ts).

export { killLeftoverServices, type ServiceEnv, type ServiceProcess } from '../bench/service-process.js';

/** Spawns the service (3 partitions per event topic) and resolves once it logged `service started`. */
export function spawnService(name: string, env: ServiceEnv, startTimeoutMs = 90_000, workers = 1): Promise<ServiceProcess> {
  return spawnServiceProcess(name, { WEBHOOKS_EVENT_PARTITIONS: '3', ...env }, { startTimeoutMs, workers });
}

/** SIGTERM, then SIGKILL if it lingers; resolves when gone. */
export function stopService(service: ServiceProcess, graceMs = 20_000): Promise<void> {
  return service.stop(graceMs);
}

// ---------------------------------------------------------------------------------------------
// The receiver keeps the ledger: which events arrived (answered 2xx), how often, under which delivery id.

export interface ReceivedDelivery {
  eventId: string;
  deliveryId: string;
  /** X-Humiris-Webhook: which of several webhooks on this receiver it was sent for. */
  webhookId: string;
  attempt: number;
  status: number;
  /** Body length. */
  bytes: number;
  at: number;
}

export interface LedgerReceiver {
  url: string;
  requests: ReceivedDelivery[];
  /** Delay before answering (simulates a slow receiver, keeps work in flight). */
  delayMs: number;
  /** Status answered while up. */
  status: number;
  /** Distinct event ids answered 2xx. */
  deliveredCount(): number;
  /** Distinct (event, webhook) pairs answered 2xx: a fan-out's deliveries. */
  deliveredPairs(): number;
  /** Stops accepting connections (senders see connection refused) until up() is called. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startLedgerReceiver(): Promise<LedgerReceiver> {
  const delivered = new Set<string>();
  const deliveredPairs = new Set<string>();
  const stopListening = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  const receiver: LedgerReceiver = {
    url: '',
    requests: [],
    delayMs: 0,
    status: 200,
    deliveredCount: () => delivered.size,
    deliveredPairs: () => deliveredPairs.size,
    down: stopListening,
    up: async () => {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    },
    close: stopListening,
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      if (receiver.delayMs > 0) await sleep(receiver.delayMs);
      let eventId = '';
      const body = Buffer.concat(chunks);
      try {
        eventId = JSON.parse(body.toString('utf8')).id;
      } catch {
        eventId = `(unreadable body: ${JSON.stringify(body.subarray(0, 40).toString('utf8'))})`;
      }
      const status = receiver.status;
      const webhookId = String(req.headers['x-humiris-webhook']);
      receiver.requests.push({
        eventId,
        deliveryId: String(req.headers['x-humiris-delivery']),
        webhookId,
        attempt: Number(req.headers['x-humiris-attempt']),
        status,
        bytes: body.length,
        at: Date.now(),
      });
      if (status >= 200 && status < 300) {
        delivered.add(eventId);
        deliveredPairs.add(pairKey(eventId, webhookId));
      }
      res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${port}/hook`;
  return receiver;
}

export interface Ledger {
  produced: number;
  delivered: number;
  /** Successful requests beyond the first for the same event. */
  duplicates: number;
  missing: number;
  /** Events that arrived under more than one X-Humiris-Delivery id (must be 0). */
  duplicatesWithOtherDeliveryId: number;
  /** Arrived without having been produced (must be 0). */
  unexpected: number;
}

export function ledgerOf(producedIds: readonly string[], requests: readonly ReceivedDelivery[]): Ledger {
  const produced = new Set(producedIds);
  const byEvent = new Map<string, { ok: number; deliveryIds: Set<string> }>();
  for (const r of requests) {
    const entry = byEvent.get(r.eventId) ?? { ok: 0, deliveryIds: new Set<string>() };
    entry.deliveryIds.add(r.deliveryId);
    if (r.status >= 200 && r.status < 300) entry.ok += 1;
    byEvent.set(r.eventId, entry);
  }
  let delivered = 0;
  let duplicates = 0;
  let duplicatesWithOtherDeliveryId = 0;
  let unexpected = 0;
  for (const [eventId, entry] of byEvent) {
    if (!produced.has(eventId)) {
      unexpected += 1;
      continue;
    }
    if (entry.ok > 0) delivered += 1;
    if (entry.ok > 1) duplicates += entry.ok - 1;
    if (entry.deliveryIds.size > 1) duplicatesWithOtherDeliveryId += 1;
  }
  return { produced: produced.size, delivered, duplicates, missing: produced.size - delivered, duplicatesWithOtherDeliveryId, unexpected };
}

/** One delivery of a fan-out: an event at one webhook. */
export const pairKey = (eventId: string, webhookId: string): string => `${eventId} @ ${webhookId}`;

/** The ledger of a fan-out: every produced event at every one of `webhookIds`, counted per pair. */
export function fanOutLedgerOf(producedIds: readonly string[], webhookIds: readonly string[], requests: readonly ReceivedDelivery[]): Ledger {
  const pairs = producedIds.flatMap((eventId) => webhookIds.map((webhookId) => pairKey(eventId, webhookId)));
  return ledgerOf(pairs, requests.map((r) => ({ ...r, eventId: pairKey(r.eventId, r.webhookId) })));
}

export function formatLedger(name: string, ledger: Ledger, extra = ''): string {
  const { produced, delivered, duplicates, missing } = ledger;
  return `${name.padEnd(24)} produced ${String(produced).padStart(6)}  delivered ${String(delivered).padStart(6)}  duplicates ${String(duplicates).padStart(5)}  missing ${String(missing).padStart(5)}${extra ? `  ${extra}` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// A run: one workspace, one webhook on `*`, numbered events produced with kafkajs.

const TYPES = ['email.received', 'sms.sent', 'card.capture', 'wallet.transfer.in', 'call.ended'] as const;

export interface Run {
  prefix: string;
  database: string;
  env: ServiceEnv;
  key: string;
  workspace: string;
  kafka: Kafka;
  producer: Producer;
  mongo: MongoClient;
  producedIds: string[];
  /** For a fan-out, the webhooks every produced event must reach (push their ids): deliveries are then counted per (event, webhook) pair. Empty: each event once. */
  readonly fanOut: string[];
  /** When each produced event was handed to Kafka (epoch ms). */
  producedAt: Map<string, number>;
  /** Produces `count` more events (ids continue the numbering, `data` is `{ n }` unless given), in batches. */
  produce(count: number, dataOf?: (i: number) => unknown): Promise<void>;
  /** Another workspace of this run, with a key of its own. */
  newWorkspace(label: string): Promise<{ workspace: string; key: string }>;
  /** True once every produced event arrived; false after `timeoutMs` without any arriving. */
  waitDelivered(receiver: LedgerReceiver, timeoutMs: number, say?: (line: string) => void): Promise<boolean>;
  /** Deliveries not yet `succeeded`, once none has settled for timeoutMs (of `produce`'s events only, when asked). */
  unsettledDeliveries(timeoutMs: number, onlyProduced?: boolean): Promise<UnsettledDelivery[]>;
  close(): Promise<void>;
}

const workspaceOf = (name: string) => name.toLowerCase().replace(/_/g, '-').slice(0, 60);

export async function openRun(label: string, stack: StackInfo, extraEnv: Record<string, string> = {}): Promise<Run> {
  const name = uniqueName(label);
  const env: ServiceEnv = {
    KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    MONGODB_URI: stack.mongodbUri,
    MONGODB_DATABASE: name,
    WEBHOOKS_TOPIC_PREFIX: name,
    ...extraEnv,
  };
  const mongo = await MongoClient.connect(stack.mongodbUri, { serverSelectionTimeoutMS: 30_000 });
  const keys = new ApiKeyStore(mongo.db(name));
  await keys.init();
  const workspace = workspaceOf(name);
  const { key } = await keys.create(workspace, 'chaos');
  const kafka = new Kafka({ brokers: stack.kafkaBrokers, clientId: name, logLevel: logLevel.NOTHING, retry: { retries: 30, maxRetryTime: 2_000 } });
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const producedIds: string[] = [];
  const producedAt = new Map<string, number>();
  const fanOut: string[] = [];

  return {
    prefix: name,
    database: name,
    env,
    key,
    workspace,
    kafka,
    producer,
    mongo,
    producedIds,
    fanOut,
    producedAt,
    async newWorkspace(label) {
      const workspace = `${label}-${workspaceOf(name)}`.slice(0, 60);
      return { workspace, key: (await keys.create(workspace, 'chaos')).key };
    },
    async produce(count, dataOf = (i: number): unknown => ({ n: i })) {
      const start = producedIds.length;
      for (let from = start; from < start + count; ) {
        const byTopic = new Map<string, Array<{ key: string; value: string }>>();
        // Up to 500 events, cut once past 512 KiB: no partition's share of a large-bodied batch
        // reaches the topics' 2 MiB limit.
        let i = from;
        for (let bytes = 0; i < start + count && i - from < 500 && bytes < 512 * 1024; i++) {
          const id = `evt_${name}_${i}`;
          const type = TYPES[i % TYPES.length]!;
          const topic = `${name}.events.${type}`;
          const list = byTopic.get(topic) ?? [];
          const value = JSON.stringify({ id, type, workspace, agent: `agent-${i % 7}`, data: dataOf(i) });
          bytes += value.length;
          list.push({ key: `agent-${i % 7}`, value });
          byTopic.set(topic, list);
          producedIds.push(id);
        }
        const at = Date.now();
        for (let j = from; j < i; j++) producedAt.set(producedIds[j]!, at);
        await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
        from = i;
      }
    },
    async waitDelivered(receiver, timeoutMs, say) {
      // Waits while deliveries keep arriving: a slow store is not a lost event. Gives up once
      // nothing has arrived for `timeoutMs`.
      let deadline = Date.now() + timeoutMs;
      let reported = Date.now();
      // A fan-out counts (event, webhook) pairs.
      const arrived = () => (fanOut.length ? receiver.deliveredPairs() : receiver.deliveredCount());
      const expected = () => producedIds.length * Math.max(1, fanOut.length);
      let seen = arrived();
      while (Date.now() < deadline) {
        if (arrived() >= expected()) return true;
        if (arrived() > seen) {
          seen = arrived();
          deadline = Date.now() + timeoutMs;
        }
        if (say && Date.now() - reported > 5_000) {
          reported = Date.now();
          say(`  … ${arrived()} of ${expected()} delivered (${receiver.requests.length} requests)`);
        }
        await sleep(200);
      }
      return arrived() >= expected();
    },
    async unsettledDeliveries(timeoutMs, onlyProduced = false) {
      const store = new DeliveryStore(mongo.db(name));
      // Like waitDelivered: keeps waiting while records keep settling, so a slow store's backlog of
      // outcome writes is told apart from a record that never settles.
      let deadline = Date.now() + timeoutMs;
      let fewest = Infinity;
      const expected = producedIds.length * Math.max(1, fanOut.length);
      for (;;) {
        const { total, unsettled } = await store.settlement(onlyProduced ? `evt_${name}_` : '');
        const open: UnsettledDelivery[] = unsettled;
        if (open.length < fewest) {
          fewest = open.length;
          deadline = Date.now() + timeoutMs;
        }
        if ((open.length === 0 && total >= expected) || Date.now() > deadline) {
          if (total < expected) open.push({ id: `(${expected - total} deliveries never stored)`, status: 'missing', nextAttemptAt: null });
          return open;
        }
        await sleep(250);
      }
    },
    async close() {
      await producer.disconnect().catch(() => {});
      const admin = kafka.admin();
      await admin.connect().catch(() => {});
      const topics = (await admin.listTopics().catch(() => [] as string[])).filter((t) => t.startsWith(name));
      if (topics.length) await admin.deleteTopics({ topics }).catch(() => {});
      await admin.disconnect().catch(() => {});
      await mongo.db(name).dropDatabase().catch(() => {});
      await mongo.close();
    },
  };
}

/** Creates the run's webhook (`*`, or `events` in the workspace of `key`) through the REST API of `service`. */
export async function createWebhook(
  service: ServiceProcess,
  run: Run,
  url: string,
  { key = run.key, events = ['*'] }: { key?: string; events?: string[] } = {},
): Promise<{ id: string; signing_secret: string }> {
  const res = await fetch(`${service.baseUrl}/v1/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url, events }),
  });
  const body = (await res.json()) as any;
  if (!res.ok) throw new Error(`create webhook: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** A receiver that accepts connections and never answers (real sockets that hang); counts them. */
export interface HangingServer {
  url: string;
  /** Connections open at most at once, and in all. */
  peak: number;
  accepted: number;
  close(): Promise<void>;
}

export async function startHangingServer(): Promise<HangingServer> {
  const sockets = new Set<net.Socket>();
  const stats = { peak: 0, accepted: 0 };
  // A request in it: from its first bytes until the sender closes its side (a pooled connection
  // that carries no request is not a send), sampled between loop turns.
  const live = new Set<net.Socket>();
  const sampler = setInterval(() => (stats.peak = Math.max(stats.peak, live.size)), 10);
  sampler.unref();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    stats.accepted++;
    // Reads and drops the request (so a sender's close is seen), never answers.
    socket.resume();
    socket.on('error', () => {});
    socket.once('data', () => live.add(socket));
    socket.on('end', () => live.delete(socket));
    socket.on('close', () => {
      live.delete(socket);
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get peak() {
      return stats.peak;
    },
    get accepted() {
      return stats.accepted;
    },
    async close() {
      clearInterval(sampler);
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** When each event's first 2xx arrived, by event id (the receiver's clock). */
export function firstArrivals(requests: readonly ReceivedDelivery[]): Map<string, number> {
  const firstOk = new Map<string, number>();
  for (const r of requests) if (r.status < 300 && !firstOk.has(r.eventId)) firstOk.set(r.eventId, r.at);
  return firstOk;
}

/** Milliseconds from produce to the first 2xx of each of `ids` that arrived. */
export function latenciesOf(ids: readonly string[], producedAt: ReadonlyMap<string, number>, requests: readonly ReceivedDelivery[]): number[] {
  const firstOk = firstArrivals(requests);
  return ids.flatMap((id) => {
    const at = firstOk.get(id);
    const sent = producedAt.get(id);
    return at === undefined || sent === undefined ? [] : [at - sent];
  });
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]! : NaN;
}

/** Creates one `*` webhook per url, `concurrency` requests at a time (the REST API takes tens of ms each). */
export async function createWebhooks(service: ServiceProcess, run: Run, urls: readonly string[], concurrency = 20): Promise<string[]> {
  const ids: string[] = new Array(urls.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < urls.length; i = next++) ids[i] = (await createWebhook(service, run, urls[i]!)).id;
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, urls.length) }, worker));
  return ids;
}

/** PATCH /v1/webhooks/{id} with `{ status }` through the REST API of `service`. */
export async function setWebhookStatus(service: ServiceProcess, run: Run, id: string, status: 'active' | 'disabled'): Promise<void> {
  const res = await fetch(`${service.baseUrl}/v1/webhooks/${id}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${run.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ status }),
  });
  if (!res.ok) throw new Error(`set webhook ${id} ${status}: ${res.status} ${await res.text()}`);
}

/** A GET of the service's REST API with the run's key, as JSON. */
export async function apiGet(service: ServiceProcess, run: Run, path: string): Promise<any> {
  const res = await fetch(`${service.baseUrl}${path}`, { headers: { authorization: `Bearer ${run.key}` } });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Every delivery of a webhook as the API lists them, all pages. */
export async function listDeliveries(service: ServiceProcess, run: Run, webhookId: string): Promise<any[]> {
  const all: any[] = [];
  let cursor = '';
  do {
    const page = await apiGet(service, run, `/v1/webhooks/${webhookId}/deliveries?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    all.push(...(page.data ?? []));
    cursor = page.next_cursor ?? '';
  } while (cursor);
  return all;
}

/** Records in the run's dead-letter topic (`<prefix>.webhooks.dlq`), from its partitions' offsets. */
export async function deadLetterCount(run: Run): Promise<number> {
  const admin = run.kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(`${run.prefix}.webhooks.dlq`);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}
