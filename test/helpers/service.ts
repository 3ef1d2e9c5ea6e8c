import type { Db } from 'mongodb';
import { cleanUp } from './cleanup.js';
import { loadConfig, ALL_ROLES, type Config, type Role } from '../../src/config/config.js';
import { createLogger } from '../../src/log/logger.js';
import { startService, type Service } from '../../src/main.js';
import { kafkaBrokers, mongodbUri, useKafka, useMongo } from './servers.js';

export interface TestService {
  service: Service;
  config: Config;
  /** http://127.0.0.1:<port> when the api role runs. */
  baseUrl: string;
}

/**
 * Runs the whole service in this process on the test servers, with a topic prefix and
 * database of its own; stopped, and its topics and database removed, after the test that started it
 * (or after the file's tests, when started outside one).
 */
export async function startTestService(
  label: string,
  env: Record<string, string> = {},
  roles: Role[] = [...ALL_ROLES],
): Promise<TestService> {
  // Its cleanup (topics deleted, database dropped) runs after the service's stop below: hooks unwind in reverse.
  const config = await testServiceConfig(label, env);
  const logger = createLogger({ level: config.logLevel, name: label });
  const service = await startService(config, roles, logger);

  cleanUp(() => service.stop());

  return { service, config, baseUrl: `http://127.0.0.1:${service.apiPort ?? 0}` };
}

/**
 * Where a test's service runs: the test servers, with a topic prefix and database of its own
 * (removed after the test that asked, cleanup.ts); `db` is that database.
 */
export async function ownServers(label: string): Promise<{ env: Record<string, string>; db: Db }> {
  const [{ prefix }, { database, db }] = await Promise.all([useKafka(label), useMongo(label)]);
  const env = { KAFKA_BROKERS: kafkaBrokers().join(','), MONGODB_URI: mongodbUri(), MONGODB_DATABASE: database, WEBHOOKS_TOPIC_PREFIX: prefix };
  return { env, db };
}

/** The configuration of a service in this process, on its own servers (ownServers). */
export async function testServiceConfig(label: string, env: Record<string, string> = {}): Promise<Config> {
  return loadConfig({
    PORT: '0',
    ...(await ownServers(label)).env,
    WEBHOOKS_EVENT_PARTITIONS: '2',
    WEBHOOKS_ALLOW_PRIVATE_URLS: 'true',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...env,
  });
}

/**
 * The environment of a service run as its own process on the test servers, with a topic prefix
 * and database of its own (removed after the test that asked, cleanup.ts), its API on a free port, logging JSON.
 */
export async function serviceProcessEnv(label: string, env: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> {
  return {
    ...process.env,
    ...(await ownServers(label)).env,
    WEBHOOKS_EVENT_PARTITIONS: '1',
    PORT: '0',
    LOG_LEVEL: 'info',
    LOG_PRETTY: 'false',
    ...env,
  };
}
