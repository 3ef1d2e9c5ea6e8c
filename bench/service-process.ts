/*
 * The service under test as users run it: `node bin/humiris-webhooks.js serve` of the built dist,
 * a process of its own, measured through /proc. Shared by the benchmark and the fault scenarios
 * (chaos/, test/reliability/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The package root, from this file's place in bench/ or in its compiled copy (dist-bench/bench/). */
export const ROOT = ((): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'bin', 'humiris-webhooks.js'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('bin/humiris-webhooks.js not found above bench/');
    dir = parent;
  }
  return dir;
})();
const BIN = path.join(ROOT, 'bin', 'humiris-webhooks.js');
export const VERSION: string = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
const CLOCK_TICKS = 100; // USER_HZ on Linux

export interface ProcSample {
  rssBytes: number;
  peakRssBytes: number;
  cpuSeconds: number;
}

/** The process and its children (the workers of `serve --workers`), each once. */
async function processTree(pid: number): Promise<number[]> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  const below = await Promise.all(children.split(' ').filter(Boolean).map((child) => processTree(Number(child))));
  return [pid, ...below.flat()];
}

/** The service's figures: with workers, those of the primary and every worker added up. */
async function readProc(pid: number): Promise<ProcSample | undefined> {
  const own = await readOneProc(pid);
  if (!own) return undefined;
  const pids = await processTree(pid);
  if (pids.length === 1) return own;
  const others = (await Promise.all(pids.slice(1).map(readOneProc))).filter((s) => s !== undefined);
  return others.reduce(
    (sum, s) => ({ rssBytes: sum.rssBytes + s.rssBytes, peakRssBytes: sum.peakRssBytes + s.peakRssBytes, cpuSeconds: sum.cpuSeconds + s.cpuSeconds }),
    own,
  );
}

async function readOneProc(pid: number): Promise<ProcSample | undefined> {
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

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  apiPort: number;
  baseUrl: string;
  /** Everything it wrote to stdout and stderr (read back from the log file when it has one). */
  output(): string;
  /** Resolves with the exit code/signal once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  kill(signal: NodeJS.Signals): void;
  /** Peak RSS seen by sampling every 250 ms and the kernel's high-water mark. */
  peakRssBytes(): number;
  sample(): Promise<ProcSample>;
  /** SIGTERM, then SIGKILL if it lingers past graceMs; resolves when gone. Stopping again is the same promise. */
  stop(graceMs?: number): Promise<void>;
}

export interface ServiceEnv {
  KAFKA_BROKERS: string;
  MONGODB_URI: string;
  MONGODB_DATABASE: string;
  WEBHOOKS_TOPIC_PREFIX: string;
  [name: string]: string;
}

export interface SpawnOptions {
  startTimeoutMs?: number;
  /** Output goes to this file instead of memory (long runs). */
  logFile?: string;
  /** Before the script, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /** `serve --workers N`: ready once every worker started. */
  workers?: number;
}

/** Every service process spawned here, so none outlives a run that was cut short. */
const spawned = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of spawned) child.kill('SIGKILL');
});

/** SIGKILLs any service process still running (end of a run, or after a timed-out scenario). */
export function killLeftoverServices(): void {
  for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Spawns the service and resolves once it logged `service started` (with its API port). */
export async function spawnService(name: string, env: ServiceEnv, options: SpawnOptions = {}): Promise<ServiceProcess> {
  const { startTimeoutMs = 90_000, logFile, nodeArgs = [], workers = 1 } = options;
  const readyLine = workers > 1 ? '"workers started"' : '"service started"';
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'serve', ...(workers > 1 ? ['--workers', String(workers)] : [])], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: '0',
      WEBHOOKS_ALLOW_PRIVATE_URLS: 'true',
      // The start-up line awaited below is an info line (debug shows it too), in JSON. CHAOS_LOG_LEVEL=debug
      // for a closer look at a fault run (with CHAOS_LOG_DIR, chaos/scenarios.ts).
      LOG_LEVEL: process.env.CHAOS_LOG_LEVEL === 'debug' ? 'debug' : 'info',
      ...env,
      LOG_PRETTY: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.add(child);
  child.once('exit', () => spawned.delete(child));
  const chunks: string[] = [];
  const log = logFile ? createWriteStream(logFile) : undefined;
  const keep = (chunk: string) => (log ? log.write(chunk) : chunks.push(chunk));
  let apiPort = -1;
  let started: () => void;
  const ready = new Promise<void>((resolve) => (started = resolve));
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    keep(chunk);
    if (apiPort >= 0) return;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      if (!line.includes(readyLine)) continue;
      try {
        apiPort = JSON.parse(line).apiPort ?? 0;
        started();
      } catch {
        // not a JSON log line
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const output = () => (logFile ? readFileSync(logFile, 'utf8') : chunks.join(''));
  const pid = child.pid!;
  let peak = 0;
  const sampler = setInterval(() => {
    void readProc(pid).then((s) => {
      if (s) peak = Math.max(peak, s.rssBytes, s.peakRssBytes);
    });
  }, 250).unref();
  void exited.then(() => {
    clearInterval(sampler);
    log?.end();
  });

  const outcome = await Promise.race([
    ready.then(() => 'ready' as const),
    exited.then(() => 'exited' as const),
    sleep(startTimeoutMs, undefined, { ref: false }).then(() => 'timeout' as const),
  ]);
  if (outcome !== 'ready') {
    child.kill('SIGKILL');
    throw new Error(`service ${name} did not start (${outcome})${logFile ? ` (log ${logFile})` : ''}:\n${output().split('\n').slice(-30).join('\n')}`);
  }
  const isGone = () => child.exitCode !== null || child.signalCode !== null;
  let stopping: Promise<void> | undefined;
  return {
    name,
    child,
    pid,
    apiPort,
    baseUrl: `http://127.0.0.1:${apiPort}`,
    output,
    exited,
    kill: (signal) => void child.kill(signal),
    peakRssBytes: () => peak,
    async sample() {
      const s = await readProc(pid);
      if (!s) throw new Error(`the service process ${name} is gone`);
      peak = Math.max(peak, s.rssBytes, s.peakRssBytes);
      return s;
    },
    stop(graceMs = 20_000) {
      stopping ??= (async () => {
        const last = await readProc(pid);
        if (last) peak = Math.max(peak, last.peakRssBytes);
        if (isGone()) return;
        child.kill('SIGTERM');
        const gone = await Promise.race([exited.then(() => true), sleep(graceMs, undefined, { ref: false }).then(() => false)]);
        if (!gone) {
          child.kill('SIGKILL');
          await exited;
        }
      })();
      return stopping;
    },
  };
}
