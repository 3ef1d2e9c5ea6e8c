import type { Config } from '../config/config.js';
import { stackUp, type StackInfo } from '../stack/stack.js';

/** A configuration whose Kafka and MongoDB are known. */
export type ServersConfig = Config & { kafkaBrokers: string[]; mongodbUri: string };

/**
 * The configured Kafka and MongoDB, or the local stack (started if needed) for what is not
 * configured. On the local stack, webhook URLs on this machine are allowed: that is its point.
 * `stack` is the local stack when it was used.
 */
export async function resolveServers(config: Config, say: (line: string) => void): Promise<{ config: ServersConfig; stack?: StackInfo }> {
  if (config.kafkaBrokers && config.mongodbUri) return { config: config as ServersConfig };
  say('KAFKA_BROKERS or MONGODB_URI not set: starting the local stack (humiris-webhooks stack up)');
  const stack = await stackUp(config.stack, say);
  say(`local stack ready: ${stack.kafkaVersion} at ${stack.kafkaBrokers.join(',')}, ${stack.mongoVersion} at ${stack.mongodbUri}`);
  const servers = Object.freeze({
    ...config,
    kafkaBrokers: config.kafkaBrokers ?? stack.kafkaBrokers,
    mongodbUri: config.mongodbUri ?? stack.mongodbUri,
    allowPrivateUrls: true,
    localStack: true,
  });
  return { config: servers, stack };
}

/** resolveServers without the stack's details. */
export async function withServers(config: Config, say: (line: string) => void): Promise<ServersConfig> {
  return (await resolveServers(config, say)).config;
}
