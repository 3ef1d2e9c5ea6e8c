/*
 * `npm run bench` (and `humiris-webhooks bench`): end-to-end figures of the service as users run
 * it (a separate `serve` process of the same build), on the local Kafka broker and MongoDB wire
 * server, against a receiver on 127.0.0.1 that verifies every signature. Ratios are taken
 * against what the same machine does in the same run without the service in between.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { resolveServers } from '../src/cli/servers.js';
import { loadConfig } from '../src/config/config.js';
import { BENCH_USAGE, BenchUsageError, parseOptions, type BenchOptions } from './options.js';
import { startReceiver } from './receiver.js';
import { fmt, printTable, Report, round } from './report.js';
import type { BenchRun } from './run-context.js';
import { api } from './scenarios/api.js';
import { baseline } from './scenarios/baseline.js';
import { isolation } from './scenarios/isolation.js';
import { latencyAndFanout } from './scenarios/latency-fanout.js';
import { retryTiming } from './scenarios/retry-timing.js';
import { throughput } from './scenarios/throughput.js';
import { ROOT } from './service-process.js';

export { BENCH_USAGE };

/** The contract of bench/scenarios/store-reads.ts (`--fill`). */
type StoreReads = (options: {
  mongoUri: string;
  database?: string;
  fill: number;
  keep?: boolean;
  say?: (line: string) => void;
}) => Promise<Array<{ metric: string; value: number; target?: string; ok?: boolean }>>;

/** Runs the benchmark; resolves with the exit code. */
export async function benchMain(args: string[]): Promise<number> {
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
  const config = loadConfig();
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
  const receiver = await startReceiver();
  say(`receiver on ${receiver.url} (worker thread)`);

  const report = new Report();
  const { row, results } = report;
  const run: BenchRun = {
    opts,
    runId,
    runDir,
    say,
    kafkaBrokers,
    mongodbUri,
    kafka,
    admin,
    producer,
    mongo,
    receiver,
    report,
    accounted: [],
    cleanup: [],
    services: [],
    resources: {},
    peakRss: 0,
    rawRps: NaN,
    scenario2Rate: NaN,
  };
  // Interrupted: never leave a service process behind.
  const interrupted = () => {
    for (const service of run.services) service.kill('SIGKILL');
    say("interrupted: removing this run's topics and databases");
    void Promise.race([Promise.allSettled(run.cleanup.map((fn) => fn())), sleep(15_000)]).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    if (opts.scenarios.has(1)) await baseline(run);
    if (opts.scenarios.has(2)) await throughput(run);
    if (opts.scenarios.has(3) || opts.scenarios.has(4)) await latencyAndFanout(run);
    if (opts.scenarios.has(5)) await isolation(run);
    resources(run);
    if (opts.scenarios.has(6)) await retryTiming(run);
    if (opts.scenarios.has(8)) await api(run);
    if (opts.fill !== undefined) await storeReads(run, opts.fill);

    // ============ accounting ============
    let missing = 0;
    let duplicates = 0;
    for (const { tally } of run.accounted) {
      missing += Math.max(0, tally.missing);
      duplicates += tally.duplicates;
    }
    const { ledger } = receiver;
    const bad = ledger.badSignatures + ledger.stats.rawBadSignatures;
    results.accounting = {
      scenarios: run.accounted.map(({ scenario, tally }) => ({ scenario, ...tally.counts() })),
      missing,
      duplicates,
      badSignatures: bad,
      unexpected: ledger.unexpected,
    };
    const expectedTotal = run.accounted.reduce((s, a) => s + a.tally.expected, 0);
    row('all', 'deliveries expected / received', `${fmt(expectedTotal)} / ${fmt(expectedTotal - missing)}`, '');
    row('all', 'missing', fmt(missing), '0', missing === 0);
    row('all', 'bad signatures', fmt(bad), '0', bad === 0);
    row('all', 'duplicates (redelivered, deduped on X-Humiris-Delivery)', fmt(duplicates), '');

    process.stdout.write(`\n${printTable(report.rows)}\n`);
    const finished = new Date();
    const json = {
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
      table: report.rows,
      logs: runDir,
    };
    const out = opts.out ?? path.join(ROOT, 'bench', 'results', `${stamp}.json`);
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(json, null, 2)}\n`);
    process.stdout.write(`\nJSON: ${path.relative(process.cwd(), out) || out}\nservice logs${opts.profile ? ' and CPU profiles' : ''}: ${runDir}\n`);
    return missing === 0 && bad === 0 ? 0 : 1;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    const cleaning = performance.now();
    await Promise.all(run.services.map((service) => service.stop(40_000).catch(() => {})));
    for (const fn of run.cleanup.reverse()) await fn().catch(() => {});
    say(`cleaned up in ${((performance.now() - cleaning) / 1000).toFixed(1)} s`);
    await receiver.stop();
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
    await mongo.close().catch(() => {});
  }
}

/** Scenario 7: peak RSS of the services of 2-5 and CPU per delivery, from the figures 2 and 3 gathered. */
function resources(run: BenchRun): void {
  const { row, results } = run.report;
  const { resources } = run;
  const peakRssMB = run.peakRss / 1024 / 1024;
  resources.peakRssMB = peakRssMB;
  results.resources = resources;
  // No service of 2-5 ran: no figure rather than 0.
  if (run.peakRss > 0) row('7 resources', 'peak RSS MB (service processes of 2-5)', fmt(peakRssMB), '≤ 300', peakRssMB <= 300);
  row('7 resources', 'CPU s per 1,000 deliveries (scenario 2)', fmt(resources.throughputCpuSecondsPer1000, 3), '');
  if (resources.latencyCpuSecondsPer1000 !== undefined) {
    row('7 resources', 'CPU s per 1,000 deliveries (scenario 3)', fmt(resources.latencyCpuSecondsPer1000, 3), '');
  }
}

/** `--fill N`: read latencies of a store filled to N deliveries (bench/scenarios/store-reads.ts), in a database of its own. */
async function storeReads(run: BenchRun, fill: number): Promise<void> {
  // Named at run time: the scenario is its own module, built with the rest of bench/.
  const module = './scenarios/store-reads.js';
  const { runStoreReads } = (await import(module)) as { runStoreReads: StoreReads };
  run.say(`store reads: filling ${fmt(fill)} deliveries`);
  // It drops its database afterwards unless --keep.
  const rows = await runStoreReads({ mongoUri: run.mongodbUri, database: `bench_${run.runId}_store`, fill, keep: run.opts.keep, say: run.say });
  run.report.results.storeReads = { fill, rows };
  for (const r of rows) run.report.row(`store reads (${fmt(fill)})`, r.metric, fmt(r.value, Number.isInteger(r.value) ? 0 : 1), r.target ?? '', r.ok);
}
