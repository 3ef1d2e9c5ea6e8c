import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { afterAll } from 'vitest';
import { loadConfig, ALL_ROLES, type Config, type Role } from '../../src/config/config.js';
import { createLogger } from '../../src/log/logger.js';
import { startService, type Service } from '../../src/main.js';
import { kafkaBrokers, mongodbUri, uniqueName } from './servers.js';

export interface TestService {
  service: Service;
  config: Config;
  /** http://127.0.0.1:<port> when the api role runs. */
  baseUrl: string;
}

/**
 * Runs the whole service in this process on the test servers, with a topic prefix and
 * database of its own; stopped, and its topics and database removed, after the file's tests.
 */
export async function startTestService(
  label: string,
  env: Record<string, string> = {},
  roles: Role[] = [...ALL_ROLES],
): Promise<TestService> {
  const name = uniqueName(label);
  const config = loadConfig({
    PORT: '0',
    KAFKA_BROKERS: kafkaBrokers().join(','),
    MONGODB_URI: mongodbUri(),
    MONGODB_DATABASE: name,
    WEBHOOKS_TOPIC_PREFIX: name,
    WEBHOOKS_EVENT_PARTITIONS: '2',
    WEBHOOKS_ALLOW_PRIVATE_URLS: 'true',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...env,
  });
  const logger = createLogger({ level: config.logLevel, name: label });
  const service = await startService(config, roles, logger);

  afterAll(async () => {
    await service.stop();
    const kafka = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(name));
    if (topics.length) await admin.deleteTopics({ topics }).catch(() => {});
    await admin.disconnect();
    const client = await MongoClient.connect(mongodbUri());
    await client.db(name).dropDatabase().catch(() => {});
    await client.close();
  });

  return { service, config, baseUrl: `http://127.0.0.1:${service.apiPort ?? 0}` };
}
