import type { Config } from '../config/config.js';
import { stackUp } from '../stack/stack.js';

/**
 * The configured Kafka and MongoDB, or the local stack (started if needed) for what is not
 * configured. On the local stack, webhook URLs on this machine are allowed: that is its point.
 */
export async function withServers(config: Config, say: (line: string) => void): Promise<Config> {
  if (config.kafkaBrokers && config.mongodbUri) return config;
  say('KAFKA_BROKERS or MONGODB_URI not set: starting the local stack (humiris-webhooks stack up)');
  const stack = await stackUp(config.stack, say);
  say(`local stack ready: ${stack.kafkaVersion} at ${stack.kafkaBrokers.join(',')}, ${stack.mongoVersion} at ${stack.mongodbUri}`);
  return Object.freeze({
    ...config,
    kafkaBrokers: config.kafkaBrokers ?? stack.kafkaBrokers,
    mongodbUri: config.mongodbUri ?? stack.mongodbUri,
    allowPrivateUrls: true,
    localStack: true,
  });
}
