import { ALL_ROLES, ConfigError, type Config, type Role } from '../config/config.js';
import { createLogger } from '../log/logger.js';
import { startService } from '../main.js';
import { stackUp } from '../stack/stack.js';

function parseRoles(raw: string | undefined): Role[] {
  if (raw === undefined) return [...ALL_ROLES];
  const roles = raw.split(',').map((r) => r.trim()).filter(Boolean);
  const unknown = roles.filter((r) => !ALL_ROLES.includes(r as Role));
  if (roles.length === 0 || unknown.length > 0) {
    throw new ConfigError('--roles', `got "${raw}", expected a comma-separated subset of ${ALL_ROLES.join(',')}`);
  }
  return [...new Set(roles)] as Role[];
}

export async function serveCommand(config: Config, flags: { roles?: string }): Promise<number> {
  const roles = parseRoles(flags.roles);
  const logger = createLogger({ level: config.logLevel, pretty: config.logPretty || undefined });
  let effective = config;
  if (!config.kafkaBrokers || !config.mongodbUri) {
    logger.info('KAFKA_BROKERS or MONGODB_URI not set: starting the local stack (humiris-webhooks stack up)');
    const stack = await stackUp(config.stack, (line) => logger.info(line));
    logger.info({ kafka: stack.kafkaVersion, mongo: stack.mongoVersion }, 'local stack ready');
    // The local stack is a developer's machine: receivers on localhost are the point.
    effective = Object.freeze({
      ...config,
      kafkaBrokers: config.kafkaBrokers ?? stack.kafkaBrokers,
      mongodbUri: config.mongodbUri ?? stack.mongodbUri,
      allowPrivateUrls: true,
      localStack: true,
    });
  }
  const service = await startService(effective, roles, logger);

  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      process.off('SIGINT', shutdown);
      process.off('SIGTERM', shutdown);
      resolve();
    };
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);
  });
  await service.stop();
  logger.info('stopped');
  logger.flush();
  return 0;
}
