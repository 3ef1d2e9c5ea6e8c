import { ALL_ROLES, ConfigError, type Config, type Role } from '../config/config.js';
import { createLogger } from '../log/logger.js';
import { startService } from '../main.js';
import { withServers } from './servers.js';

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
  const effective = await withServers(config, (line) => logger.info(line));
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
