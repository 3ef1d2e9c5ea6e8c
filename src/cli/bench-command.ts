import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Kafka, logLevel, Partitioners, type Message, type Producer } from 'kafkajs';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { MongoClient } from 'mongodb';
import { Agent } from 'undici';
import type { Config } from '../config/config.js';
import { parseDuration } from '../domain/duration.js';
import { newSigningSecret } from '../domain/ids.js';
import { EVENT_TYPES } from '../domain/event-types.js';
import { EventService } from '../gen/humiris/webhooks/v1/event_service_pb.js';
import { signatureHeader, verifySignatureHeader } from '../domain/signing.js';
import { ApiKeyStore } from '../store/api-key-store.js';
import { DeliveryStore } from '../store/delivery-store.js';
import { resolveServers } from './servers.js';

/*
 * `humiris-webhooks bench` (and `npm run bench`): end-to-end figures of the service as users run
 * it (a separate `serve` process of the same build), on the local Kafka broker and MongoDB wire
 * server, against a receiver on 127.0.0.1 that verifies every signature. Ratios are taken
 * against what the same machine does in the same run without the service in between.
 */

export const BENCH_USAGE = `Usage: humiris-webhooks bench [options]

Runs eight scenarios against the service (a separate "serve" process) on the local stack and
prints one table; the JSON goes to bench/results/<timestamp>.json.

  --quick                   everyday check, under 2 minutes on the local stack (smaller counts and
                            shorter runs; targets are judged on full runs)
  --scenarios <list>        which of 1-6 and 8 to run (default all; 7, resources, is always reported)
  --concurrency <n>         in-flight sends of the service (WEBHOOKS_MAX_IN_FLIGHT) and of the raw loop [500]
  --body-bytes <n>          approximate delivery body size [512]
  --raw-seconds <n>         scenario 1, raw POST loop duration [15 | quick 3]
  --kafka-records <n>       scenario 1, records through kafkajs [100000 | quick 10000]
  --webhooks <n>            scenarios 2 and 5, webhooks [100]
  --workspaces <n>          ... spread over this many workspaces [4]
  --event-types <n>         ... each webhook subscribes to one of this many types (fan-out = webhooks/workspaces/types) [5]
  --deliveries <n>          scenarios 2 and 5, at most this many deliveries... [100000 | quick 10000]
  --throughput-seconds <n>  ...or for at most this long [60 | quick 10]
  --warmup-deliveries <n>   warm-up before scenarios 2 and 5 [3000 | quick 1000]
  --latency-rate <n>        scenario 3, events/s [1000 | quick 300]
  --latency-seconds <n>     scenario 3, duration [30 | quick 8]
  --fanout <n>              scenario 4, webhooks of one workspace [1000 | quick 100]
  --fanout-runs <n>         scenario 4, measured events [3 | quick 1]
  --hanging-percent <n>     scenario 5, webhooks whose endpoint never answers [10]
  --hanging-webhooks <n>    scenario 5, hanging webhooks of one workspace beside another workspace [100]
  --request-timeout <dur>   WEBHOOKS_REQUEST_TIMEOUT of the service [10s | quick 3s]
  --retry-schedule <list>   scenario 6, WEBHOOKS_RETRY_SCHEDULE [1s,2s]
  --retry-events <n>        scenario 6, deliveries that fail first [200 | quick 40]
  --register <n>            scenario 8, webhooks registered one by one through the API [1000 | quick 200]
  --publish-events <n>      scenario 8, events published through REST and again through gRPC [20000 | quick 2000]
  --publish-concurrency <n> scenario 8, concurrent publish callers [50]
  --api-latency-seconds <n> scenario 8, duration at each of 50 and 200 events/s through the API [20 | quick 5]
  --idle-seconds <n>        scenario 8, idle CPU window, no traffic, after the other figures [30 | quick 10]
  --profile                 run the service under node --cpu-prof (profiles under .data/bench/)
  --keep                    keep the run's topics and databases
  --out <file>              JSON path [bench/results/<timestamp>.json]
`;

// ---------------------------------------------------------------------------------------------
// Shared bits
// ---------------------------------------------------------------------------------------------

/** Epoch milliseconds with sub-millisecond precision, comparable across threads. */
const now = (): number => performance.timeOrigin + performance.now();

/** Padding that brings a delivered body (about 190 bytes without it) to about `bodyBytes`. */
const padding = (bodyBytes: number): string => 'x'.repeat(Math.max(0, bodyBytes - 190));

/** One request as the receiver saw it: [eventId, webhookId, deliveryId, attempt, at, signatureOk, status, finishedAt, sentAt]. */
type Receipt = [string, string, string, number, number, 0 | 1, number, number, number];

interface ReceiverStats {
  raw: number;
  rawBadSignatures: number;
  hanging: number;
}

type ToReceiver =
  | { type: 'secret'; webhookId: string; secret: string }
  | { type: 'release-hanging' }
  | { type: 'stop' };

type FromReceiver = { type: 'listening'; port: number } | { type: 'receipts'; items: Receipt[]; stats: ReceiverStats };

const RAW_WEBHOOK_ID = 'whk_bench_raw';

// ---------------------------------------------------------------------------------------------
// Worker threads: the receiver and the raw POST loop each get an event loop of their own
// ---------------------------------------------------------------------------------------------

/**
 * Answers 200 (or, by path, never: `/hang`, or 500 for the first attempts: `/flaky?fail=n`),
 * verifies each signature with the webhook's secret and reports every request in small batches.
 */
function receiverWorker(): void {
  const port = parentPort!;
  const secrets = new Map<string, string>();
  const hanging = new Set<http.ServerResponse>();
  let items: Receipt[] = [];
  const stats: ReceiverStats = { raw: 0, rawBadSignatures: 0, hanging: 0 };
  let statsDirty = false;

  const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = now();
      const body = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
      const url = req.url ?? '/';
      const webhookId = String(req.headers['x-humiris-webhook'] ?? '');
      const secret = secrets.get(webhookId);
      const signatureOk = secret !== undefined && verifySignatureHeader(String(req.headers['x-humiris-signature'] ?? ''), body, secret);
      let event: { id?: string; data?: { sent_at?: number } } = {};
      try {
        event = JSON.parse(body);
      } catch {
        // counted as a bad signature below when it is not even JSON
      }
      if (webhookId === RAW_WEBHOOK_ID) {
        stats.raw++;
        if (!signatureOk || !event.id) stats.rawBadSignatures++;
        statsDirty = true;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }).end('ok');
        return;
      }
      const attempt = Number(req.headers['x-humiris-attempt'] ?? 0);
      const base = [String(event.id ?? ''), webhookId, String(req.headers['x-humiris-delivery'] ?? ''), attempt, at, signatureOk ? 1 : 0] as const;
      const sentAt = Number(event.data?.sent_at ?? 0);
      if (url.startsWith('/hang')) {
        stats.hanging++;
        statsDirty = true;
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      let status = 200;
      if (url.startsWith('/flaky')) {
        const fail = Number(/[?&]fail=(\d+)/.exec(url)?.[1] ?? 0);
        if (attempt <= fail) status = 500;
        res.on('finish', () => items.push([...base, status, now(), sentAt]));
      }
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': '2' }).end(status === 200 ? 'ok' : 'no');
      if (!url.startsWith('/flaky')) items.push([...base, status, at, sentAt]);
    });
  });

  const flush = setInterval(() => {
    if (items.length === 0 && !statsDirty) return;
    const batch = items;
    items = [];
    statsDirty = false;
    port.postMessage({ type: 'receipts', items: batch, stats: { ...stats } } satisfies FromReceiver);
  }, 20);

  port.on('message', (message: ToReceiver) => {
    if (message.type === 'secret') secrets.set(message.webhookId, message.secret);
    else if (message.type === 'release-hanging') for (const res of hanging) res.destroy();
    else if (message.type === 'stop') {
      clearInterval(flush);
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close(() => port.close());
    }
  });
  server.listen(0, '127.0.0.1', () => {
    port.postMessage({ type: 'listening', port: (server.address() as AddressInfo).port } satisfies FromReceiver);
  });
}

interface RawLoopInput {
  url: string;
  concurrency: number;
  warmupMs: number;
  measureMs: number;
  body: string;
  secret: string;
  userAgent: string;
}

interface RawLoopResult {
  requests: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
}

/** Keep-alive POSTs through one undici pool, as the service's sender does, signed the same way. */
async function rawLoopWorker(input: RawLoopInput): Promise<void> {
  const target = new URL(input.url);
  const agent = new Agent({ pipelining: 1, connections: null, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const started = now();
  const measureFrom = started + input.warmupMs;
  const end = measureFrom + input.measureMs;
  let requests = 0;
  let errors = 0;
  let seq = 0;
  const loop = async () => {
    for (;;) {
      const t = now();
      if (t >= end) return;
      const timestamp = Math.floor(Date.now() / 1000);
      const deliveryId = `dlv_raw_${seq++}`;
      try {
        const response = await agent.request({
          origin: target.origin,
          path: target.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': input.userAgent,
            'x-humiris-signature': signatureHeader(input.body, [input.secret], timestamp),
            'x-humiris-event': 'email.received',
            'x-humiris-delivery': deliveryId,
            'x-humiris-webhook': RAW_WEBHOOK_ID,
            'x-humiris-attempt': '1',
          },
          body: input.body,
        });
        for await (const _chunk of response.body) {
          // read the (tiny) body as the sender does
        }
        const done = now();
        if (done >= measureFrom && done < end) {
          if (response.statusCode === 200) requests++;
          else errors++;
        }
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: input.concurrency }, loop));
  await agent.close();
  const seconds = input.measureMs / 1000;
  parentPort!.postMessage({ requests, errors, seconds, requestsPerSecond: requests / seconds } satisfies RawLoopResult);
}

if (!isMainThread && workerData && typeof workerData === 'object') {
  const role = (workerData as { benchRole?: string }).benchRole;
  if (role === 'receiver') receiverWorker();
  else if (role === 'raw-loop') void rawLoopWorker((workerData as { input: RawLoopInput }).input);
}

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

interface BenchOptions {
  quick: boolean;
  scenarios: Set<number>;
  concurrency: number;
  bodyBytes: number;
  rawSeconds: number;
  kafkaRecords: number;
  webhooks: number;
  workspaces: number;
  eventTypes: number;
  deliveries: number;
  throughputSeconds: number;
  warmupDeliveries: number;
  latencyRate: number;
  latencySeconds: number;
  fanout: number;
  fanoutRuns: number;
  hangingPercent: number;
  hangingWebhooks: number;
  requestTimeout: string;
  retrySchedule: string;
  retryEvents: number;
  register: number;
  publishEvents: number;
  publishConcurrency: number;
  apiLatencySeconds: number;
  idleSeconds: number;
  profile: boolean;
  keep: boolean;
  out?: string;
}

function parseOptions(args: string[]): BenchOptions | 'help' {
  const number = { type: 'string' } as const;
  const { values } = parseArgs({
    args,
    options: {
      help: { type: 'boolean', short: 'h' },
      quick: { type: 'boolean' },
      scenarios: { type: 'string' },
      concurrency: number,
      'body-bytes': number,
      'raw-seconds': number,
      'kafka-records': number,
      webhooks: number,
      workspaces: number,
      'event-types': number,
      deliveries: number,
      'throughput-seconds': number,
      'warmup-deliveries': number,
      'latency-rate': number,
      'latency-seconds': number,
      fanout: number,
      'fanout-runs': number,
      'hanging-percent': number,
      'hanging-webhooks': number,
      'request-timeout': { type: 'string' },
      'retry-schedule': { type: 'string' },
      'retry-events': number,
      register: number,
      'publish-events': number,
      'publish-concurrency': number,
      'api-latency-seconds': number,
      'idle-seconds': number,
      profile: { type: 'boolean' },
      keep: { type: 'boolean' },
      out: { type: 'string' },
    },
  });
  if (values.help) return 'help';
  const quick = values.quick ?? false;
  const int = (name: keyof typeof values, full: number, short = full, min = 1): number => {
    const raw = values[name];
    if (raw === undefined) return quick ? short : full;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new BenchUsageError(`--${name} expects a whole number ≥ ${min}, got "${String(raw)}"`);
    return n;
  };
  const scenarios = new Set(
    (values.scenarios ?? '1,2,3,4,5,6,8').split(',').map((s) => {
      const n = Number(s.trim());
      if (!Number.isInteger(n) || n < 1 || n > 8) throw new BenchUsageError(`--scenarios expects numbers 1-8, got "${s}"`);
      return n;
    }),
  );
  const options: BenchOptions = {
    quick,
    scenarios,
    concurrency: int('concurrency', 500),
    bodyBytes: int('body-bytes', 512, 512, 200),
    rawSeconds: int('raw-seconds', 15, 3),
    kafkaRecords: int('kafka-records', 100_000, 10_000),
    webhooks: int('webhooks', 100),
    workspaces: int('workspaces', 4),
    eventTypes: int('event-types', 5),
    deliveries: int('deliveries', 100_000, 10_000),
    throughputSeconds: int('throughput-seconds', 60, 10),
    warmupDeliveries: int('warmup-deliveries', 3_000, 1_000),
    latencyRate: int('latency-rate', 1_000, 300),
    latencySeconds: int('latency-seconds', 30, 8),
    fanout: int('fanout', 1_000, 100),
    fanoutRuns: int('fanout-runs', 3, 1),
    hangingPercent: int('hanging-percent', 10, 10, 0),
    hangingWebhooks: int('hanging-webhooks', 100),
    requestTimeout: values['request-timeout'] ?? (quick ? '3s' : '10s'),
    retrySchedule: values['retry-schedule'] ?? '1s,2s',
    retryEvents: int('retry-events', 200, 40),
    register: int('register', 1_000, 200),
    publishEvents: int('publish-events', 20_000, 2_000),
    publishConcurrency: int('publish-concurrency', 50),
    apiLatencySeconds: int('api-latency-seconds', 20, 5),
    idleSeconds: int('idle-seconds', 30, 10),
    profile: values.profile ?? false,
    keep: values.keep ?? false,
    out: values.out,
  };
  if (options.eventTypes > EVENT_TYPES.length - 1) throw new BenchUsageError(`--event-types is at most ${EVENT_TYPES.length - 1}`);
  if (options.webhooks % (options.workspaces * options.eventTypes) !== 0) {
    throw new BenchUsageError('--webhooks must be a multiple of --workspaces × --event-types');
  }
  if (options.hangingPercent > 50) throw new BenchUsageError('--hanging-percent is at most 50');
  return options;
}

class BenchUsageError extends Error {}

// ---------------------------------------------------------------------------------------------
// The service under test: a separate `serve` process, measured through /proc
// ---------------------------------------------------------------------------------------------

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'humiris-webhooks.js');
const VERSION: string = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
const CLOCK_TICKS = 100; // USER_HZ on Linux

interface ProcSample {
  rssBytes: number;
  peakRssBytes: number;
  cpuSeconds: number;
}

async function readProc(pid: number): Promise<ProcSample | undefined> {
  try {
    const [status, stat] = await Promise.all([readFile(`/proc/${pid}/status`, 'utf8'), readFile(`/proc/${pid}/stat`, 'utf8')]);
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS;
    return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM'), cpuSeconds };
  } catch {
    return undefined;
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface RunningService {
  pid: number;
  baseUrl: string;
  prefix: string;
  database: string;
  logFile: string;
  /** Peak RSS seen by sampling and the kernel's high-water mark. */
  peakRssBytes(): number;
  sample(): Promise<ProcSample>;
  stop(): Promise<void>;
  /** Last resort when the benchmark itself is interrupted. */
  kill(): void;
}

async function startServiceProcess(options: {
  name: string;
  kafkaBrokers: string[];
  mongodbUri: string;
  runDir: string;
  env: Record<string, string>;
  profile: boolean;
}): Promise<RunningService> {
  const { name, runDir } = options;
  const port = await freePort();
  const prefix = `bench-${name}`;
  const database = `bench_${name.replace(/[^A-Za-z0-9_-]/g, '_')}`.slice(0, 63);
  const logFile = path.join(runDir, `service-${name}.log`);
  const profileDir = path.join(runDir, `profile-${name}`);
  const nodeArgs = options.profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const log = createWriteStream(logFile);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, BIN, 'serve'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? os.homedir(),
      KAFKA_BROKERS: options.kafkaBrokers.join(','),
      MONGODB_URI: options.mongodbUri,
      MONGODB_DATABASE: database,
      WEBHOOKS_TOPIC_PREFIX: prefix,
      PORT: String(port),
      WEBHOOKS_ALLOW_PRIVATE_URLS: 'true',
      WEBHOOKS_RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: 'warn',
      ...options.env,
    },
  });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = code ?? (signal ? 128 : 1);
      resolve();
    }),
  );
  const pid = child.pid!;
  let peak = 0;
  const sampler = setInterval(() => {
    void readProc(pid).then((s) => {
      if (s) peak = Math.max(peak, s.rssBytes, s.peakRssBytes);
    });
  }, 250);

  const baseUrl = `http://127.0.0.1:${port}`;
  /** Once stopped, stopping again (the command's final cleanup) is the same promise. */
  let stopping: Promise<void> | undefined;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exited !== undefined) {
      clearInterval(sampler);
      const tail = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-30).join('\n');
      throw new Error(`the service exited with ${exited} before it was ready (log ${logFile}):\n${tail}`);
    }
    const ready = await fetch(`${baseUrl}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      clearInterval(sampler);
      throw new Error(`the service did not become ready in 90 s (log ${logFile})`);
    }
    await sleep(200);
  }

  return {
    pid,
    baseUrl,
    prefix,
    database,
    logFile,
    peakRssBytes: () => peak,
    kill: () => void child.kill('SIGKILL'),
    async sample() {
      const s = await readProc(pid);
      if (!s) throw new Error('the service process is gone');
      peak = Math.max(peak, s.rssBytes, s.peakRssBytes);
      return s;
    },
    stop() {
      stopping ??= (async () => {
        const last = await readProc(pid);
        if (last) peak = Math.max(peak, last.peakRssBytes);
        clearInterval(sampler);
        if (exited === undefined) {
          child.kill('SIGTERM');
          const timedOut = await Promise.race([exit.then(() => false), sleep(40_000, undefined, { ref: false }).then(() => true)]);
          if (timedOut) {
            child.kill('SIGKILL');
            await exit;
          }
        }
        log.end();
      })();
      return stopping;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Accounting: every expected (event, webhook) pair is received once, or reported missing
// ---------------------------------------------------------------------------------------------

/** Successful receipts of any scenario: a tally waiting behind another's backlog still sees progress. */
let receiptsSeen = 0;

class Tally {
  expected = 0;
  received = 0;
  /** Latencies (ms): event produced → receiver got the successful attempt. */
  latencies: number[] = [];
  firstAt = Infinity;
  lastAt = 0;
  duplicates = 0;
  private waiters: Array<() => void> = [];

  constructor(readonly label: string) {}

  get missing(): number {
    return this.expected - this.received;
  }

  /** The figures every scenario reports, in the order its JSON shows them. */
  counts() {
    return { expected: this.expected, received: this.received, missing: this.missing, duplicates: this.duplicates };
  }

  onReceived(at: number, sentAt: number): void {
    this.received++;
    if (sentAt > 0) this.latencies.push(at - sentAt);
    if (at < this.firstAt) this.firstAt = at;
    if (at > this.lastAt) this.lastAt = at;
    if (this.received >= this.expected) for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves once all expected arrived, or when nothing new arrived for `idleMs`. */
  async settle(idleMs: number, maxMs = 30 * 60_000): Promise<void> {
    const start = Date.now();
    let lastCount = -1;
    let lastChange = Date.now();
    let lastReport = Date.now();
    while (this.received < this.expected) {
      if (receiptsSeen !== lastCount) {
        lastCount = receiptsSeen;
        lastChange = Date.now();
      }
      if (Date.now() - lastChange > idleMs || Date.now() - start > maxMs) {
        process.stderr.write(`[bench]    ${this.label}: gave up waiting at ${this.received}/${this.expected}\n`);
        return;
      }
      if (Date.now() - lastReport > 5_000) {
        lastReport = Date.now();
        process.stderr.write(`[bench]    ${this.label}: ${this.received}/${this.expected}\n`);
      }
      await Promise.race([new Promise<void>((resolve) => this.waiters.push(resolve)), sleep(250, undefined, { ref: false })]);
    }
  }
}

interface PairState {
  tally: Tally;
  deliveryId?: string;
}

/** Routes the receiver's reports to the scenario that expects them. */
class Ledger {
  private readonly pairs = new Map<string, PairState>();
  private readonly seenDeliveries = new Set<string>();
  unexpected = 0;
  badSignatures = 0;
  /** Every request (any status), for scenarios that look at attempts. */
  onAttempt?: (receipt: Receipt) => void;
  stats: ReceiverStats = { raw: 0, rawBadSignatures: 0, hanging: 0 };

  expect(eventId: string, webhookId: string, tally: Tally): void {
    this.pairs.set(`${eventId}|${webhookId}`, { tally });
    tally.expected++;
  }

  take(items: Receipt[]): void {
    for (const receipt of items) {
      const [eventId, webhookId, deliveryId, , at, signatureOk, status, , sentAt] = receipt;
      this.onAttempt?.(receipt);
      const pair = this.pairs.get(`${eventId}|${webhookId}`);
      if (!signatureOk) this.badSignatures++;
      if (status !== 200) continue;
      receiptsSeen++;
      if (!pair) {
        this.unexpected++;
        continue;
      }
      if (this.seenDeliveries.has(deliveryId) || pair.deliveryId !== undefined) {
        // The same delivery again (at least once), or a second delivery for one pair.
        pair.tally.duplicates++;
        continue;
      }
      this.seenDeliveries.add(deliveryId);
      pair.deliveryId = deliveryId;
      pair.tally.onReceived(at, sentAt);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Events, webhooks, producing
// ---------------------------------------------------------------------------------------------

interface Hook {
  id: string;
  type: string;
  hanging: boolean;
}

class Api {
  constructor(
    private readonly baseUrl: string,
    private readonly receiver: Worker,
    private readonly receiverUrl: string,
  ) {}

  /** `url` instead of `path` sends a webhook elsewhere than the receiver. */
  async createHooks(key: string, specs: Array<{ type: string; path?: string; url?: string; hanging?: boolean }>, concurrency = 8): Promise<Hook[]> {
    const hooks: Hook[] = new Array(specs.length);
    let next = 0;
    const worker = async (end: number) => {
      while (next < end) {
        const index = next++;
        const spec = specs[index]!;
        const response = await fetch(`${this.baseUrl}/v1/webhooks`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ url: spec.url ?? `${this.receiverUrl}${spec.path ?? '/hook'}`, events: [spec.type], agent: null, description: 'bench' }),
        });
        const json = (await response.json()) as { id?: string; signing_secret?: string };
        if (!response.ok || !json.id || !json.signing_secret) {
          throw new Error(`creating a webhook failed: ${response.status} ${JSON.stringify(json)}`);
        }
        this.receiver.postMessage({ type: 'secret', webhookId: json.id, secret: json.signing_secret } satisfies ToReceiver);
        hooks[index] = { id: json.id, type: spec.type, hanging: spec.hanging ?? false };
      }
    };
    // The first webhook of a workspace alone: concurrent first creates race on the workspace's version counter.
    await worker(Math.min(1, specs.length));
    await Promise.all(Array.from({ length: concurrency }, () => worker(specs.length)));
    return hooks;
  }
}

/** Where event `i` of a run goes: its workspace, its type and the webhooks that must receive it. */
type EventRoute = (i: number) => { workspace: string; type: string; expect: Hook[] };

interface PlannedEvent {
  id: string;
  type: string;
  workspace: string;
  agent: string;
  /** Webhooks that must receive it. */
  expect: Hook[];
}

function envelope(event: PlannedEvent, sentAt: number, pad: string): string {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    workspace: event.workspace,
    agent: event.agent,
    created_at: new Date(sentAt).toISOString(),
    data: { sent_at: sentAt, note: pad },
  });
}

class EventProducer {
  private readonly pad: string;
  constructor(
    private readonly producer: Producer,
    private readonly prefix: string,
    private readonly ledger: Ledger,
    bodyBytes: number,
  ) {
    // The delivered body is the envelope minus `workspace`.
    this.pad = padding(bodyBytes);
  }

  /** Registers the expected receipts and produces the events in one request (stamped now). */
  async send(events: PlannedEvent[], tally: Tally): Promise<number> {
    const sentAt = now();
    const byTopic = new Map<string, Message[]>();
    for (const event of events) {
      for (const hook of event.expect) this.ledger.expect(event.id, hook.id, tally);
      const topic = `${this.prefix}.events.${event.type}`;
      const list = byTopic.get(topic) ?? [];
      list.push({ key: event.agent, value: envelope(event, sentAt, this.pad) });
      byTopic.set(topic, list);
    }
    await this.producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    return sentAt;
  }
}

let eventSeq = 0;
function planEvents(run: string, count: number, pick: EventRoute): PlannedEvent[] {
  return Array.from({ length: count }, (_, i) => ({ id: `evt_bench_${run}_${eventSeq++}`, agent: `agent-${i % 16}`, ...pick(i) }));
}

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function distribution(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    min: sorted.length ? sorted[0]! : NaN,
  };
}

const round = (n: number, digits = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : null);

interface Row {
  scenario: string;
  metric: string;
  value: string;
  target: string;
  verdict: '' | 'ok' | 'MISS';
}

function printTable(rows: Row[]): string {
  const headers = ['scenario', 'metric', 'value', 'target', ''];
  const cells = rows.map((r) => [r.scenario, r.metric, r.value, r.target, r.verdict]);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The command
// ---------------------------------------------------------------------------------------------

export async function benchCommand(config: Config, args: string[]): Promise<number> {
  let options: BenchOptions | 'help';
  try {
    options = parseOptions(args);
  } catch (error) {
    if (error instanceof BenchUsageError || (error instanceof TypeError && 'code' in error)) {
      process.stderr.write(`${(error as Error).message}\n${BENCH_USAGE}`);
      return 2;
    }
    throw error;
  }
  if (options === 'help') {
    process.stdout.write(BENCH_USAGE);
    return 0;
  }
  const opts = options;
  const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const runDir = path.join(config.stack.dataDir, 'bench', stamp);
  await mkdir(runDir, { recursive: true });

  // --- servers ---
  const { config: servers, stack } = await resolveServers(config, say);
  const { kafkaBrokers, mongodbUri } = servers;
  const stackVersions = stack
    ? { kafka: stack.kafkaVersion, mongo: stack.mongoVersion }
    : { kafka: 'given by KAFKA_BROKERS', mongo: 'given by MONGODB_URI' };
  say(`stack: ${stackVersions.kafka} at ${kafkaBrokers.join(',')}, ${stackVersions.mongo} at ${mongodbUri}`);

  const kafka = new Kafka({ clientId: `bench-${runId}`, brokers: kafkaBrokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const mongo = await MongoClient.connect(mongodbUri);

  // --- receiver ---
  const receiver = new Worker(new URL(import.meta.url), { workerData: { benchRole: 'receiver' } });
  const ledger = new Ledger();
  const receiverPort = await new Promise<number>((resolve, reject) => {
    receiver.once('error', reject);
    receiver.on('message', (message: FromReceiver) => {
      if (message.type === 'listening') resolve(message.port);
      else {
        ledger.stats = message.stats;
        ledger.take(message.items);
      }
    });
  });
  const receiverUrl = `http://127.0.0.1:${receiverPort}`;
  say(`receiver on ${receiverUrl} (worker thread)`);

  const results: Record<string, unknown> = {};
  const rows: Row[] = [];
  const services: RunningService[] = [];
  const row = (scenario: string, metric: string, value: string, target = '', pass?: boolean) =>
    rows.push({ scenario, metric, value, target, verdict: pass === undefined ? '' : pass ? 'ok' : 'MISS' });
  const fmt = (n: number | null | undefined, digits = 0) =>
    n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const accounted: Array<{ scenario: string; tally: Tally }> = [];
  const account = (scenario: string, tally: Tally) => accounted.push({ scenario, tally });

  const cleanup: Array<() => Promise<unknown>> = [];
  // Interrupted: never leave a service process behind.
  const interrupted = () => {
    for (const service of services) service.kill();
    say('interrupted: removing this run\'s topics and databases');
    void Promise.race([Promise.allSettled(cleanup.map((fn) => fn())), sleep(15_000)]).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    // ============ 1. baseline ============
    let rawRps = NaN;
    if (opts.scenarios.has(1)) {
      say(`1. raw POST loop: ${opts.concurrency} concurrent, ${opts.rawSeconds} s after 2 s warm-up`);
      const secret = newSigningSecret();
      receiver.postMessage({ type: 'secret', webhookId: RAW_WEBHOOK_ID, secret } satisfies ToReceiver);
      const body = JSON.stringify({
        id: 'evt_bench_raw_00000000',
        type: 'email.received',
        created_at: new Date().toISOString(),
        agent: 'agent-1',
        data: { sent_at: now(), note: padding(opts.bodyBytes) },
      });
      const before = ledger.stats.raw;
      const raw = await new Promise<RawLoopResult>((resolve, reject) => {
        const worker = new Worker(new URL(import.meta.url), {
          workerData: {
            benchRole: 'raw-loop',
            input: {
              url: `${receiverUrl}/raw`,
              concurrency: opts.concurrency,
              warmupMs: 2_000,
              measureMs: opts.rawSeconds * 1000,
              body,
              secret,
              userAgent: `Humiris-Webhooks/${VERSION}`,
            } satisfies RawLoopInput,
          },
        });
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      await sleep(200);
      rawRps = raw.requestsPerSecond;
      results.baseline_http = { ...raw, bodyBytes: body.length, concurrency: opts.concurrency, receiverCounted: ledger.stats.raw - before, badSignatures: ledger.stats.rawBadSignatures };
      row('1 baseline', 'raw undici POST loop (req/s)', fmt(rawRps), '', undefined);
      if (ledger.stats.rawBadSignatures > 0) row('1 baseline', 'raw loop bad signatures', fmt(ledger.stats.rawBadSignatures), '0', false);

      say(`1. kafkajs produce→consume: ${opts.kafkaRecords} records of ${opts.bodyBytes} bytes`);
      const topic = `bench-${runId}-kafka-baseline`;
      await admin.createTopics({ topics: [{ topic, numPartitions: 6, replicationFactor: 1 }], waitForLeaders: true });
      cleanup.push(() => admin.deleteTopics({ topics: [topic] }));
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

    // ============ the service: a fresh process and database per scenario, so each starts equal ============
    const cleanupService = (service: RunningService) => async () => {
      if (opts.keep) return;
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${service.prefix}.`));
      if (topics.length) await admin.deleteTopics({ topics }).catch(() => {});
      await mongo.db(service.database).dropDatabase().catch(() => {});
    };
    const types = EVENT_TYPES.slice(0, opts.eventTypes);
    const perWorkspace = opts.webhooks / opts.workspaces;
    const fanPerEvent = perWorkspace / opts.eventTypes;
    const resources: {
      throughputCpuSecondsPer1000?: number;
      throughputPeakRssMB?: number;
      latencyCpuSecondsPer1000?: number;
      peakRssMB?: number;
    } = {};
    let peakRss = 0;

    const openService = async (label: string, env: Record<string, string> = {}, profile = opts.profile) => {
      const service = await startServiceProcess({
        name: `${runId}-${label}`,
        kafkaBrokers,
        mongodbUri,
        runDir,
        profile,
        env: { WEBHOOKS_MAX_IN_FLIGHT: String(opts.concurrency), WEBHOOKS_REQUEST_TIMEOUT: opts.requestTimeout, ...env },
      });
      services.push(service);
      cleanup.push(cleanupService(service));
      say(`service "${label}" pid ${service.pid} at ${service.baseUrl} (log ${service.logFile})`);
      const keys = new ApiKeyStore(mongo.db(service.database));
      await keys.init();
      const api = new Api(service.baseUrl, receiver, receiverUrl);
      const events = new EventProducer(producer, service.prefix, ledger, opts.bodyBytes);

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
        await service.stop();
        peakRss = Math.max(peakRss, service.peakRssBytes());
      };
      return { service, api, events, newWorkspace, makeTopology, hookPerType, close };
    };

    /**
     * Produces as fast as the producer goes while at most `backlog` deliveries are outstanding, until
     * `deliveries` were produced or `seconds` passed; then waits for the rest. A closed loop keeps the
     * pipeline saturated without piling up more work than the run can account for.
     */
    const saturate = async (
      events: EventProducer,
      label: string,
      pick: EventRoute,
      tally: Tally,
      deliveries: number,
      seconds: number,
    ) => {
      const backlog = 2 * opts.concurrency;
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
    };

    /**
     * Scenario 5, hanging tenant: one workspace's webhooks all hang (a server of their own that
     * reads each request and never answers, so the receiver times the other workspace undisturbed)
     * while it gets a burst of events and more after it; another workspace's steady deliveries are
     * timed alone first, then beside it.
     */
    const hangingTenant = async (ctx: Awaited<ReturnType<typeof openService>>) => {
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
      cleanup.push(async () => {
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
      const steady = async (label: string, tally: Tally) => {
        const total = rate * seconds;
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
      say(`5. hanging tenant: ${opts.hangingWebhooks} hanging webhooks in one workspace; another workspace at ${rate} events/s for ${seconds} s alone, then beside it`);
      const alone = new Tally('5 other workspace alone');
      await steady('alone', alone);
      await alone.settle(20_000, 60_000);
      account('5 other workspace alone', alone);
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
      account('5 other workspace beside hanging', beside);
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
    };

    let scenario2Rate = NaN;

    // ============ 2. throughput ============
    if (opts.scenarios.has(2)) {
      const ctx = await openService('throughput');
      const pick = await ctx.makeTopology('tp', 0);
      await sleep(1_100); // subscription changes apply within 1 s
      say(`2. throughput: ${opts.webhooks} webhooks in ${opts.workspaces} workspaces, fan-out ${fanPerEvent}; warm-up ${opts.warmupDeliveries} deliveries`);
      const warm = new Tally('2 warm-up');
      await saturate(ctx.events, `${runId}_tpw`, pick, warm, opts.warmupDeliveries, 60);
      account('2 warm-up', warm);
      say(`   warm-up: ${warm.received}/${warm.expected}; measuring up to ${opts.deliveries} deliveries or ${opts.throughputSeconds} s`);
      const tally = new Tally('2 throughput');
      const cpu0 = (await ctx.service.sample()).cpuSeconds;
      const { producedSeconds, seconds, rate } = await saturate(ctx.events, `${runId}_tp`, pick, tally, opts.deliveries, opts.throughputSeconds);
      const cpu1 = (await ctx.service.sample()).cpuSeconds;
      scenario2Rate = rate;
      account('2 throughput', tally);
      const lat = distribution(tally.latencies);
      // Recorded: the service wrote the outcome of each of these deliveries to MongoDB.
      const recorded = await countRecorded(mongo, ctx.service.database, `evt_bench_${runId}_tp_`, tally.received);
      const cpuPer1000 = ((cpu1 - cpu0) / tally.received) * 1000;
      resources.throughputCpuSecondsPer1000 = cpuPer1000;
      resources.throughputPeakRssMB = ctx.service.peakRssBytes() / 1024 / 1024;
      await ctx.close();
      results.throughput = {
        webhooks: opts.webhooks,
        workspaces: opts.workspaces,
        fanOutPerEvent: fanPerEvent,
        ...tally.counts(),
        recordedSucceeded: recorded,
        produceSeconds: producedSeconds,
        seconds,
        deliveriesPerSecond: scenario2Rate,
        ratioToRawPostLoop: scenario2Rate / rawRps,
        latencyUnderLoadMs: lat,
        serviceCpuSeconds: cpu1 - cpu0,
      };
      row('2 throughput', 'deliveries/s (signed, recorded)', fmt(scenario2Rate), '≥ 5,000', scenario2Rate >= 5000);
      row('2 throughput', 'ratio to raw POST loop', fmt(scenario2Rate / rawRps, 3), '≥ 0.5', Number.isFinite(rawRps) ? scenario2Rate / rawRps >= 0.5 : undefined);
      row('2 throughput', `deliveries in ${fmt(seconds, 1)} s / recorded in MongoDB`, `${fmt(tally.received)} / ${fmt(recorded)}`, '');
    }

    // ============ 3. latency, 4. fan-out (one service) ============
    if (opts.scenarios.has(3) || opts.scenarios.has(4)) {
      const ctx = await openService('latency-fanout');
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
        say(`3. latency: ${opts.latencyRate} events/s for ${opts.latencySeconds} s after a 3 s warm-up`);
        const warm = new Tally('3 warm-up');
        await steady(3, warm);
        await warm.settle(20_000, 60_000);
        account('3 warm-up', warm);
        const tally = new Tally('3 latency');
        const cpu0 = (await ctx.service.sample()).cpuSeconds;
        const produced = await steady(opts.latencySeconds, tally);
        await tally.settle(20_000, 60_000);
        const cpu1 = (await ctx.service.sample()).cpuSeconds;
        account('3 latency', tally);
        const lat = distribution(tally.latencies);
        resources.latencyCpuSecondsPer1000 = ((cpu1 - cpu0) / tally.received) * 1000;
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
        say(`4. fan-out: creating ${opts.fanout} webhooks in one workspace`);
        const tCreate = now();
        const hooks = await ctx.api.createHooks(key, Array.from({ length: opts.fanout }, () => ({ type })));
        say(`   created in ${fmt((now() - tCreate) / 1000, 1)} s`);
        await sleep(1_100);
        const pick = () => ({ workspace, type, expect: hooks });
        const warm = new Tally('4 warm-up');
        await events.send(planEvents(`${runId}_fan`, 1, pick), warm);
        await warm.settle(20_000, 60_000);
        account('4 warm-up', warm);
        const runs: Array<{ ms: number; received: number; firstMs: number }> = [];
        for (let r = 0; r < opts.fanoutRuns; r++) {
          await sleep(1_000);
          const tally = new Tally(`4 fan-out ${r + 1}`);
          const sentAt = await events.send(planEvents(`${runId}_fan`, 1, pick), tally);
          await tally.settle(20_000, 60_000);
          account(`4 fan-out ${r + 1}`, tally);
          // A run that lost receipts has no time until the last one.
          const complete = tally.received === tally.expected;
          runs.push({ ms: complete ? tally.lastAt - sentAt : NaN, firstMs: tally.received > 0 ? tally.firstAt - sentAt : NaN, received: tally.received });
        }
        const worst = runs.some((r) => !Number.isFinite(r.ms)) ? NaN : Math.max(...runs.map((r) => r.ms));
        const median = distribution(runs.map((r) => r.ms)).p50;
        results.fanout = { webhooks: opts.fanout, runs, worstMs: worst, medianMs: median };
        row('4 fan-out', `1 event → ${fmt(opts.fanout)} webhooks, last receipt ms (median of ${runs.length})`, fmt(median), '');
        row('4 fan-out', 'worst run ms (n/a: receipts missing)', fmt(worst), '≤ 1,000', Number.isFinite(worst) && worst <= 1000);
      }
      await ctx.close();
    }

    // ============ 5. isolation ============
    if (opts.scenarios.has(5)) {
      const ctx = await openService('isolation');
      const every = opts.hangingPercent > 0 ? Math.round(100 / opts.hangingPercent) : 0;
      const pick = await ctx.makeTopology('iso', every);
      await sleep(1_100);
      say(`5. isolation: as 2, every ${every}th webhook never answers (request timeout ${opts.requestTimeout})`);
      const warm = new Tally('5 warm-up');
      const hangingBefore = ledger.stats.hanging;
      await saturate(ctx.events, `${runId}_isow`, pick, warm, opts.warmupDeliveries * 0.9, 60);
      account('5 warm-up', warm);
      const tally = new Tally('5 isolation');
      const { seconds, rate } = await saturate(ctx.events, `${runId}_iso`, pick, tally, opts.deliveries * 0.9, opts.throughputSeconds);
      account('5 isolation', tally);
      const ratio = rate / scenario2Rate;
      receiver.postMessage({ type: 'release-hanging' } satisfies ToReceiver);
      await ctx.close();
      // A service of its own: the tasks deferred above would come back in the middle of it.
      const tenantCtx = await openService('hanging-tenant');
      const tenant = await hangingTenant(tenantCtx);
      receiver.postMessage({ type: 'release-hanging' } satisfies ToReceiver);
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
        hangingRequestsSeen: ledger.stats.hanging - hangingBefore,
        latencyUnderLoadMs: distribution(tally.latencies),
        hangingTenant: tenant,
      };
      row('5 isolation', `healthy deliveries/s (${opts.hangingPercent}% hang)`, fmt(rate), '');
      row('5 isolation', 'ratio to scenario 2', fmt(ratio, 2), '≥ 0.9', Number.isFinite(scenario2Rate) ? ratio >= 0.9 : undefined);
      row(
        '5 isolation',
        `other workspace p99 ms: alone / beside ${fmt(opts.hangingWebhooks)} hanging webhooks`,
        `${fmt(tenant.baseline.p99, 1)} / ${fmt(tenant.during.p99, 1)}`,
        '≤ 2× alone (or 250)',
        tenant.during.p99 <= tenant.allowedP99Ms,
      );
    }

    // ============ 7. resources ============
    {
      const peakRssMB = peakRss / 1024 / 1024;
      resources.peakRssMB = peakRssMB;
      results.resources = resources;
      // No service of 2-5 ran: no figure rather than 0.
      if (peakRss > 0) row('7 resources', 'peak RSS MB (service processes of 2-5)', fmt(peakRssMB), '≤ 300', peakRssMB <= 300);
      row('7 resources', 'CPU s per 1,000 deliveries (scenario 2)', fmt(resources.throughputCpuSecondsPer1000, 3), '');
      if (resources.latencyCpuSecondsPer1000 !== undefined) {
        row('7 resources', 'CPU s per 1,000 deliveries (scenario 3)', fmt(resources.latencyCpuSecondsPer1000, 3), '');
      }
    }

    // ============ 6. retry timing (its own service) ============
    if (opts.scenarios.has(6)) {
      const schedule = opts.retrySchedule.split(',').map((s) => s.trim());
      const delays = schedule.map((label) => parseDuration(label));
      const fail = Math.min(delays.length, 2);
      const ctx = await openService('retry', { WEBHOOKS_RETRY_SCHEDULE: opts.retrySchedule }, false);
      const { hooks, pick } = await ctx.hookPerType('retry', `/flaky?fail=${fail}`);
      await sleep(1_100);
      say(`6. retry timing: schedule ${opts.retrySchedule}, each delivery fails ${fail} time(s) first; ${opts.retryEvents} deliveries`);

      const attempts = new Map<string, Array<{ attempt: number; at: number; finishedAt: number; status: number }>>();
      const hookIds = new Set(hooks.map((h) => h.id));
      ledger.onAttempt = ([, webhookId, deliveryId, attempt, at, , status, finishedAt]) => {
        if (!hookIds.has(webhookId)) return;
        const list = attempts.get(deliveryId) ?? [];
        list.push({ attempt, at, finishedAt, status });
        attempts.set(deliveryId, list);
      };
      const warm = new Tally('6 warm-up');
      await ctx.events.send(planEvents(runId, 10, pick), warm);
      await warm.settle(30_000, 60_000);
      account('6 warm-up', warm);
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
      account('6 retry', tally);
      ledger.onAttempt = undefined;
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

    // ============ 8. API: registration, publish, latency through the API, idle CPU, peak RSS (its own service) ============
    if (opts.scenarios.has(8)) {
      const ctx = await openService('api', {}, false);
      const { service } = ctx;
      const api8: Record<string, unknown> = {};
      const type = EVENT_TYPES[EVENT_TYPES.length - 1]!;

      // (c) Registration one call after another, as a script that sets up a tenant would.
      {
        const { key } = await ctx.newWorkspace(`reg-${runId}`);
        say(`8. registration: ${opts.register} webhooks one by one through POST /v1/webhooks`);
        const t0 = now();
        await ctx.api.createHooks(key, Array.from({ length: opts.register }, () => ({ type })), 1);
        const seconds = (now() - t0) / 1000;
        api8.registration = { webhooks: opts.register, seconds, msPerWebhook: (seconds * 1000) / opts.register };
        row('8 api', `registering ${fmt(opts.register)} webhooks one by one (s)`, fmt(seconds, 2), opts.register === 1000 ? '≤ 1.5' : '', opts.register === 1000 ? seconds <= 1.5 : undefined);
        // The goal (1,000 in 1.5 s) per call, so a --quick run is judged too.
        row('8 api', '... ms per webhook', fmt((seconds * 1000) / opts.register, 1), '≤ 1.5', (seconds * 1000) / opts.register <= 1.5);
      }

      // (a) Publish at N concurrent callers, REST then gRPC, to a workspace without webhooks: the accept path alone.
      {
        const { key } = await ctx.newWorkspace(`pub-${runId}`);
        const pad = padding(opts.bodyBytes);
        const publishLoop = async (label: string, call: () => Promise<void>) => {
          const count = opts.publishEvents;
          const warm = Math.min(500, Math.ceil(count / 10));
          const callMs: number[] = [];
          let errors = 0;
          let firstError = '';
          const run = async (n: number, measure: boolean) => {
            let left = n;
            await Promise.all(
              Array.from({ length: opts.publishConcurrency }, async () => {
                while (left > 0) {
                  left--;
                  const t = now();
                  try {
                    await call();
                    if (measure) callMs.push(now() - t);
                  } catch (error) {
                    errors++;
                    firstError ||= (error as Error).message;
                  }
                }
              }),
            );
          };
          say(`8. publish through ${label}: ${count} events at ${opts.publishConcurrency} concurrent callers`);
          await run(warm, false);
          const t0 = now();
          await run(count, true);
          const seconds = (now() - t0) / 1000;
          const accepted = callMs.length;
          return { events: count, accepted, errors, firstError: firstError || undefined, seconds, eventsPerSecond: accepted / seconds, callMs: distribution(callMs) };
        };
        const body = () => JSON.stringify({ type, agent: 'agent-1', data: { sent_at: now(), note: pad } });
        const rest = await publishLoop('POST /v1/events', async () => {
          const response = await fetch(`${service.baseUrl}/v1/events`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: body(),
          });
          const text = await response.text();
          if (!response.ok) throw new Error(`${response.status} ${text.slice(0, 200)}`);
        });
        const grpc = createClient(
          EventService,
          createGrpcTransport({
            baseUrl: service.baseUrl,
            interceptors: [(next) => async (req) => (req.header.set('authorization', `Bearer ${key}`), next(req))],
          }),
        );
        const rpc = await publishLoop('gRPC PublishEvent', async () => {
          await grpc.publishEvent({ event: { type, agent: 'agent-1', data: { sent_at: now(), note: pad } } });
        });
        api8.publish = { concurrency: opts.publishConcurrency, rest, grpc: rpc };
        for (const [label, r] of [['POST /v1/events', rest], ['gRPC PublishEvent', rpc]] as const) {
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
              const id = `evt_bench_${runId}_apilat_${eventSeq++}`;
              ledger.expect(id, hook!.id, tally);
              const p = fetch(`${service.baseUrl}/v1/events`, {
                method: 'POST',
                headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
                body: JSON.stringify({ id, type: EVENT_TYPES[0], agent: `agent-${sent % 16}`, data: { sent_at: now(), note: pad } }),
              }).then(
                async (r) => {
                  await r.arrayBuffer();
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
        const warm = new Tally('8 api latency warm-up');
        await steady(50, 2, warm);
        await warm.settle(20_000, 60_000);
        account('8 api latency warm-up', warm);
        const latency: Record<string, unknown> = { workspace };
        for (const [rate, p99Goal] of [
          [50, 8],
          [200, 10],
        ] as const) {
          say(`8. latency through POST /v1/events: ${rate} events/s for ${opts.apiLatencySeconds} s`);
          const tally = new Tally(`8 api latency ${rate}/s`);
          const produced = await steady(rate, opts.apiLatencySeconds, tally);
          await tally.settle(20_000, 60_000);
          account(`8 api latency ${rate}/s`, tally);
          const lat = distribution(tally.latencies);
          latency[`at${rate}`] = { ratePerSecond: rate, seconds: opts.apiLatencySeconds, ...tally.counts(), ...produced, latencyMs: lat };
          row('8 api', `publish call → receipt at ${rate} ev/s, p50 / p99 ms`, `${fmt(lat.p50, 1)} / ${fmt(lat.p99, 1)}`, `p99 ≤ ${p99Goal}`, lat.p99 <= p99Goal);
        }
        api8.latency = latency;
      }

      // (d) Idle CPU: no traffic at all once the figures above settled; (e) the process's peak RSS.
      {
        await sleep(2_000);
        say(`8. idle CPU: ${opts.idleSeconds} s without traffic`);
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

    // ============ accounting ============
    let missing = 0;
    let duplicates = 0;
    for (const { tally } of accounted) {
      missing += Math.max(0, tally.missing);
      duplicates += tally.duplicates;
    }
    const bad = ledger.badSignatures + ledger.stats.rawBadSignatures;
    results.accounting = {
      scenarios: accounted.map(({ scenario, tally }) => ({ scenario, ...tally.counts() })),
      missing,
      duplicates,
      badSignatures: bad,
      unexpected: ledger.unexpected,
    };
    const expectedTotal = accounted.reduce((s, a) => s + a.tally.expected, 0);
    row('all', 'deliveries expected / received', `${fmt(expectedTotal)} / ${fmt(expectedTotal - missing)}`, '');
    row('all', 'missing', fmt(missing), '0', missing === 0);
    row('all', 'bad signatures', fmt(bad), '0', bad === 0);
    row('all', 'duplicates (redelivered, deduped on X-Humiris-Delivery)', fmt(duplicates), '');

    const table = printTable(rows);
    process.stdout.write(`\n${table}\n`);
    const finished = new Date();
    const report = {
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      seconds: (finished.getTime() - started.getTime()) / 1000,
      mode: opts.quick ? 'quick' : 'full',
      machine: {
        cores: os.cpus().length,
        cpu: os.cpus()[0]?.model ?? 'unknown',
        memoryGB: round(os.totalmem() / 1024 ** 3),
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
      },
      stack: stackVersions,
      options: { ...opts, scenarios: [...opts.scenarios] },
      results,
      table: rows,
      logs: runDir,
    };
    const out = opts.out ?? path.join(ROOT, 'bench', 'results', `${stamp}.json`);
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`\nJSON: ${path.relative(process.cwd(), out) || out}\nservice logs${opts.profile ? ' and CPU profiles' : ''}: ${runDir}\n`);
    return missing === 0 && bad === 0 ? 0 : 1;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    const cleaning = performance.now();
    await Promise.all(services.map((service) => service.stop().catch(() => {})));
    for (const fn of cleanup.reverse()) await fn().catch(() => {});
    say(`cleaned up in ${((performance.now() - cleaning) / 1000).toFixed(1)} s`);
    receiver.postMessage({ type: 'stop' } satisfies ToReceiver);
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
    await mongo.close().catch(() => {});
    await receiver.terminate().catch(() => {});
  }
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
