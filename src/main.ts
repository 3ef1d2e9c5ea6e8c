import type { Config, Role } from './config/config.js';
import { createKafka } from './bus/kafka.js';
import type { Logger } from './log/logger.js';
import { connectMongo } from './store/mongo.js';

export interface Service {
  stop(): Promise<void>;
}

/** The composition root: the one place that constructs the parts and wires them together. */
export async function startService(config: Config, roles: Role[], logger: Logger): Promise<Service> {
  if (!config.kafkaBrokers || !config.mongodbUri) throw new Error('startService needs KAFKA_BROKERS and MONGODB_URI');
  const mongo = await connectMongo(config.mongodbUri, config.mongodbDatabase);
  logger.info({ server: mongo.serverVersion, database: config.mongodbDatabase }, 'connected to MongoDB');

  const kafka = createKafka(config.kafkaBrokers, logger);
  const admin = kafka.admin();
  await admin.connect();
  const cluster = await admin.describeCluster();
  logger.info({ brokers: cluster.brokers.map((b) => `${b.host}:${b.port}`), clusterId: cluster.clusterId }, 'connected to Kafka');

  logger.info({ roles }, 'service started');
  return {
    async stop() {
      await admin.disconnect();
      await mongo.client.close();
    },
  };
}
