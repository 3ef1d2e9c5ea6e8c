import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config/config.js';
import { createLogger, type Logger } from '../log/logger.js';
import { answerWorkerScrapes } from '../metrics/index.js';
import type { RunHooks } from './serve-command.js';
import type { ServersConfig } from './servers.js';

/*
 * `serve --workers N`: the primary resolves the configuration and the local stack once, then
 * forks N workers that each run the whole service. They share the listening socket (node:cluster
 * hands connections round-robin) and join the same consumer groups (Kafka splits the partitions
 * between them). The primary runs no part of the service: it starts, restarts and stops workers
 * and sums their metrics.
 */

/** The resolved configuration, handed to each worker as it is forked. */
const WORKER_CONFIG = 'HUMIRIS_SERVE_WORKER_CONFIG';
const READY = 'humiris:worker-ready';
const ABANDONED = 'humiris:worker-abandoned';
/** A worker that died is started again after this, doubled on each death that follows quickly, up to the cap. */
const RESTART_FIRST_MS = 1_000;
const RESTART_MAX_MS = 30_000;
/** A worker that ran this long before dying starts the backoff afresh. */
const RESTART_RESET_MS = 60_000;
/** Past the workers' own shutdown bound, the primary waits this long before killing them. */
const KILL_MARGIN_MS = 5_000;

interface WorkerMessage {
  type?: string;
  apiPort?: number;
  metricsPort?: number;
  parts?: string[];
}

/** In a worker: the service as one process runs it, reporting to the primary. */
export async function serveWorker(run: (config: Config, logger: Logger, hooks: RunHooks) => Promise<number>): Promise<number> {
  // The channel to the primary must not keep a stopped worker alive (it exits as a lone service would);
  // if the primary dies, node:cluster ends the worker.
  process.channel?.unref();
  const config = Object.freeze(JSON.parse(process.env[WORKER_CONFIG] ?? '{}')) as ServersConfig;
  const logger = createLogger({ level: config.logLevel, pretty: config.logPretty || undefined });
  return run(config, logger, {
    started: (service) => process.send?.({ type: READY, apiPort: service.apiPort, metricsPort: service.metricsPort }),
    abandoned: (parts) => new Promise<void>((resolve) => (process.send ? process.send({ type: ABANDONED, parts }, undefined, {}, () => resolve()) : resolve())),
  });
}

interface Slot {
  index: number;
  worker?: Worker;
  ready: boolean;
  startedAt: number;
  quickDeaths: number;
  restart?: NodeJS.Timeout;
}

/** In the primary: starts the first worker alone (topics, collections, the dev key), then the others; returns the exit code. */
export async function servePrimary(
  config: ServersConfig,
  count: number,
  logger: Logger,
  bounds: { shutdownMs: number; exitAbandoned: number },
): Promise<number> {
  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({ index, ready: false, startedAt: 0, quickDeaths: 0 }));
  const abandoned: string[] = [];
  let stopping: NodeJS.Signals | undefined;
  let failedStart: { pid?: number; code: number | null; signal: string | null } | undefined;
  let ports: { apiPort?: number; metricsPort?: number } = {};
  const live = () => slots.filter((s) => s.worker !== undefined);
  // Settled when a slot's worker is ready or gone (start-up), and when all are gone (shutdown).
  let changed: () => void = () => {};
  const change = () => changed();
  const next = () => new Promise<void>((resolve) => (changed = resolve));

  answerWorkerScrapes(
    () => slots.filter((s) => s.ready && s.worker).map((s) => s.worker!),
    (worker, error) => logger.warn({ workerPid: worker.process.pid, err: error }, 'a worker left out of /metrics: it did not answer'),
  );

  const fork = (slot: Slot) => {
    const worker = cluster.fork({ [WORKER_CONFIG]: JSON.stringify(config) });
    slot.worker = worker;
    slot.ready = false;
    slot.startedAt = Date.now();
    const pid = worker.process.pid;
    worker.on('message', (message: WorkerMessage) => {
      if (message?.type === READY) {
        slot.ready = true;
        ports = { apiPort: message.apiPort, metricsPort: message.metricsPort };
        logger.info({ worker: slot.index + 1, workerPid: pid }, 'worker started');
        change();
      } else if (message?.type === ABANDONED) {
        abandoned.push(`worker ${pid}: ${(message.parts ?? []).join('; ')}`);
      }
    });
    worker.on('exit', (code, signal) => {
      const wasReady = slot.ready;
      slot.worker = undefined;
      slot.ready = false;
      if (stopping) {
        // One stopped before it started had nothing in hand.
        if (wasReady && code !== 0 && !abandoned.some((a) => a.startsWith(`worker ${pid}:`))) abandoned.push(`worker ${pid}: exited with ${signal ?? `code ${code}`}`);
      } else if (wasReady || slot.quickDeaths > 0) {
        // Died while serving (or again while restarting): its uncommitted work is redelivered to the others meanwhile.
        slot.quickDeaths = Date.now() - slot.startedAt >= RESTART_RESET_MS ? 0 : slot.quickDeaths;
        const delayMs = Math.min(RESTART_MAX_MS, RESTART_FIRST_MS * 2 ** slot.quickDeaths);
        slot.quickDeaths++;
        logger.error({ worker: slot.index + 1, workerPid: pid, code, signal, restartInMs: delayMs }, `worker ${pid} exited unexpectedly (${signal ?? `code ${code}`}); starting another in ${delayMs} ms`);
        slot.restart = setTimeout(() => {
          slot.restart = undefined;
          if (!stopping) fork(slot);
        }, delayMs);
      } else {
        failedStart ??= { pid, code, signal };
      }
      change();
    });
  };

  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, stopping ? 'already shutting down' : 'shutting down the workers');
    stopping ??= signal;
    for (const slot of slots) {
      clearTimeout(slot.restart);
      // One still starting has no handler yet and ends at once: it had nothing in hand.
      slot.worker?.process.kill(signal);
    }
    change();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // The first worker alone: it creates the topics, migrates the collections and prints the dev key once.
  const started = async (wanted: Slot[]) => {
    for (;;) {
      if (stopping || failedStart) return false;
      if (wanted.every((s) => s.ready)) return true;
      await next();
    }
  };
  fork(slots[0]!);
  if (await started([slots[0]!])) {
    for (const slot of slots.slice(1)) fork(slot);
    if (await started(slots)) {
      logger.info({ workers: count, pids: slots.map((s) => s.worker?.process.pid), ...ports }, 'workers started');
    }
  }
  if (failedStart && !stopping) {
    // A worker that cannot start (port taken, servers unreachable) said why; the others are stopped.
    logger.error({ workerPid: failedStart.pid, code: failedStart.code, signal: failedStart.signal }, 'a worker failed to start; stopping the others');
    onSignal('SIGTERM');
  }

  while (!stopping) await next();
  const deadline = setTimeout(() => {
    for (const slot of live()) {
      abandoned.push(`worker ${slot.worker!.process.pid}: did not stop within ${bounds.shutdownMs + KILL_MARGIN_MS} ms, killed`);
      slot.worker!.process.kill('SIGKILL');
    }
  }, bounds.shutdownMs + KILL_MARGIN_MS);
  while (live().length > 0) await next();
  clearTimeout(deadline);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);

  if (failedStart) return failedStart.code || 1;
  if (abandoned.length > 0) {
    logger.error({ abandoned }, `workers did not stop cleanly; abandoned: ${abandoned.join(' | ')}`);
    logger.flush();
    return bounds.exitAbandoned;
  }
  logger.info('stopped');
  logger.flush();
  return 0;
}
