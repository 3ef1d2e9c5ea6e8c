import cluster from 'node:cluster';
import { ALL_ROLES, ConfigError, shutdownDeadlineMs, workerCount, type Config, type Role } from '../config/config.js';
import { createLogger, type Logger } from '../log/logger.js';
import { startService, type Service } from '../main.js';
import { servePrimary, serveWorker } from './serve-cluster.js';
import { setHeapGrowth } from './heap-growth.js';
import { withServers } from './servers.js';

/** Exit code of a shutdown that ran out of time. */
const EXIT_ABANDONED = 1;

function parseRoles(raw: string | undefined): Role[] {
  if (raw === undefined) return [...ALL_ROLES];
  const roles = raw.split(',').map((r) => r.trim()).filter(Boolean);
  const unknown = roles.filter((r) => !ALL_ROLES.includes(r as Role));
  if (roles.length === 0 || unknown.length > 0) {
    throw new ConfigError('--roles', `got "${raw}", expected a comma-separated subset of ${ALL_ROLES.join(',')}`);
  }
  return [...new Set(roles)] as Role[];
}

export async function serveCommand(config: Config, flags: { roles?: string; workers?: string }): Promise<number> {
  const roles = parseRoles(flags.roles);
  if (cluster.isWorker) return serveWorker((effective, logger, hooks) => runService(effective, roles, logger, hooks));
  const workers = flags.workers === undefined ? config.workers : parseWorkers(flags.workers);
  const logger = createLogger({ level: config.logLevel, pretty: config.logPretty || undefined });
  const effective = await withServers(config, (line) => logger.info(line));
  if (workers > 1) return servePrimary(effective, workers, logger, { shutdownMs: shutdownDeadlineMs(effective.requestTimeoutMs), exitAbandoned: EXIT_ABANDONED });
  return runService(effective, roles, logger);
}

function parseWorkers(raw: string): number {
  try {
    return workerCount(raw.trim());
  } catch (error) {
    throw new ConfigError('--workers', `got "${raw}", ${(error as Error).message} or auto`);
  }
}

/** What a worker of `serve --workers` tells its primary. */
export interface RunHooks {
  started?(service: Service): void;
  /** Before exiting on a shutdown that ran out of time. */
  abandoned?(parts: string[]): Promise<void>;
}

/** Runs the service until SIGINT or SIGTERM, then stops it within bounds; returns the exit code. */
export async function runService(effective: Config, roles: Role[], logger: Logger, hooks: RunHooks = {}): Promise<number> {
  setHeapGrowth();
  const service = await startService(effective, roles, logger).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new ConfigError('PORT', `port ${effective.port} is already in use`);
    throw error;
  });
  const signalled = new Promise<void>((resolve) => {
    // Ctrl-C under `npm start` arrives twice (from the terminal, and relayed by npm): later
    // signals must not kill the process while it stops, which is bounded below anyway.
    let stopping = false;
    const shutdown = (signal: string) => {
      logger.info({ signal }, stopping ? 'already shutting down' : 'shutting down');
      stopping = true;
      resolve();
    };
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);
  });
  // Only now: whoever waits for this line or message may signal at once, and the process can be
  // preempted between saying it and any code after it.
  logger.info({ roles, apiPort: service.apiPort, metricsPort: service.metricsPort }, 'service started');
  hooks.started?.(service);
  await signalled;
  // Bounded: a hanging Kafka or MongoDB call must not keep the process alive. Work not finished
  // is not acknowledged (offsets uncommitted, API requests unanswered), so it is redelivered or retried.
  const deadlineMs = shutdownDeadlineMs(effective.requestTimeoutMs);
  let timer: NodeJS.Timeout | undefined;
  const stopped = await Promise.race([service.stop().then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(resolve, deadlineMs, false)))]);
  clearTimeout(timer);
  if (!stopped) {
    const abandoned = service.unfinished();
    logger.error({ deadlineMs, abandoned }, `shutdown did not finish within ${deadlineMs} ms; exiting and abandoning: ${abandoned.join('; ')}`);
    logger.flush();
    await hooks.abandoned?.(abandoned);
    process.exit(EXIT_ABANDONED);
  }
  logger.info('stopped');
  logger.flush();
  return 0;
}
