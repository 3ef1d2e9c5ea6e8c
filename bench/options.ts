import { parseArgs } from 'node:util';
import { MAX_BATCH_EVENTS } from '../src/api/event-service.js';
import { EVENT_TYPES } from '../src/domain/event-types.js';

export const BENCH_USAGE = `Usage: humiris-webhooks bench [options]

Runs eight scenarios against the service (a separate "serve" process) on the local stack and
prints one table; the JSON goes to bench/results/<timestamp>.json.

  --quick                   everyday check, under 2 minutes on the local stack (smaller counts and
                            shorter runs; targets are judged on full runs)
  --scenarios <list>        which of 1-6 and 8 to run (default all; 7, resources, is always reported;
                            an empty list with --fill: store reads alone)
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
  --publish-batch <n>       scenario 8, events per PublishEvents call (the batch RPC) [100]
  --api-latency-seconds <n> scenario 8, duration at each of 50 and 200 events/s through the API [20 | quick 5]
  --idle-seconds <n>        scenario 8, idle CPU window, no traffic, after the other figures [30 | quick 10]
  --fill <n>                store reads with <n> stored deliveries (bench/scenarios/store-reads.ts); only when given
  --workers <n>             the service as \`serve --workers <n>\` (CPU and RSS of all its processes) [1]
  --profile                 run the service under node --cpu-prof (profiles under .data/bench/)
  --keep                    keep the run's topics and databases
  --out <file>              JSON path [bench/results/<timestamp>.json]
`;

export interface BenchOptions {
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
  publishBatch: number;
  apiLatencySeconds: number;
  idleSeconds: number;
  /** Stored deliveries for the store-reads scenario; absent: it does not run. */
  fill?: number;
  /** Service processes of \`serve --workers\`. */
  workers: number;
  profile: boolean;
  keep: boolean;
  out?: string;
}

export function parseOptions(args: string[]): BenchOptions | 'help' {
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
      'publish-batch': number,
      fill: number,
      'api-latency-seconds': number,
      'idle-seconds': number,
      workers: number,
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
    (values.scenarios ?? '1,2,3,4,5,6,8').split(',').filter((s) => s.trim() !== '').map((s) => {
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
    publishBatch: int('publish-batch', 100),
    apiLatencySeconds: int('api-latency-seconds', 20, 5),
    idleSeconds: int('idle-seconds', 30, 10),
    fill: values.fill === undefined ? undefined : int('fill', 0),
    workers: int('workers', 1),
    profile: values.profile ?? false,
    keep: values.keep ?? false,
    out: values.out,
  };
  if (options.eventTypes > EVENT_TYPES.length - 1) throw new BenchUsageError(`--event-types is at most ${EVENT_TYPES.length - 1}`);
  if (options.webhooks % (options.workspaces * options.eventTypes) !== 0) {
    throw new BenchUsageError('--webhooks must be a multiple of --workspaces × --event-types');
  }
  if (options.publishBatch > MAX_BATCH_EVENTS) throw new BenchUsageError(`--publish-batch is at most ${MAX_BATCH_EVENTS}`);
  if (options.hangingPercent > 50) throw new BenchUsageError('--hanging-percent is at most 50');
  return options;
}

export class BenchUsageError extends Error {}
