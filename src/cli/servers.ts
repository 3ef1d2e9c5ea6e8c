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
  return { config: onLocalStack(config, stack), stack };
}

/** The configuration on the local stack: what is not configured comes from it, and webhook URLs on this machine are allowed unless the setting says otherwise. */
export function onLocalStack(config: Config, stack: Pick<StackInfo, 'kafkaBrokers' | 'mongodbUri'>): ServersConfig {
  return Object.freeze({
    ...config,
    kafkaBrokers: config.kafkaBrokers ?? stack.kafkaBrokers,
    mongodbUri: config.mongodbUri ?? stack.mongodbUri,
    allowPrivateUrls: config.allowPrivateUrlsSet ? config.allowPrivateUrls : true,
    localStack: true,
  });
}

/** resolveServers without the stack's details. */
export async function withServers(config: Config, say: (line: string) => void): Promise<ServersConfig> {
  return (await resolveServers(config, say)).config;
}
