import type { Config, Role } from './config/config.js';
import { createKafka } from './bus/kafka.js';
import type { Logger } from './log/logger.js';
import { connectMongo } from './store/mongo.js';
import { ApiKeyStore } from './store/api-key-store.js';
import { WebhookStore } from './store/webhook-store.js';
import { startApiServer } from './api/server.js';
import { ensureDevKey } from './api/dev-key.js';
import { DomainError } from './domain/errors.js';

export interface Service {
  /** The API port when the `api` role runs (useful with PORT=0). */
  apiPort?: number;
  stop(): Promise<void>;
}

/** The composition root: the one place that constructs the parts and wires them together. */
export async function startService(config: Config, roles: Role[], logger: Logger): Promise<Service> {
  if (!config.kafkaBrokers || !config.mongodbUri) throw new Error('startService needs KAFKA_BROKERS and MONGODB_URI');
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch((error) => logger.error({ err: error }, 'error while stopping'));
  };

  try {
    const mongo = await connectMongo(config.mongodbUri, config.mongodbDatabase);
    stops.push(() => mongo.client.close());
    logger.info({ server: mongo.serverVersion, database: config.mongodbDatabase }, 'connected to MongoDB');

    const kafka = createKafka(config.kafkaBrokers, logger);
    const admin = kafka.admin();
    await admin.connect();
    stops.push(() => admin.disconnect());
    const cluster = await admin.describeCluster();
    logger.info({ brokers: cluster.brokers.map((b) => `${b.host}:${b.port}`) }, 'connected to Kafka');

    // --- stores ---
    const webhookStore = new WebhookStore(mongo.db);
    const apiKeyStore = new ApiKeyStore(mongo.db);
    await Promise.all([webhookStore.init(), apiKeyStore.init()]);

    // --- pipeline (matcher, dispatcher, retry) ---

    // --- api ---
    let apiPort: number | undefined;
    if (roles.includes('api')) {
      if (config.localStack) await ensureDevKey(apiKeyStore, (text) => process.stdout.write(`${text}\n`));
      // PLACEHOLDER until the pipeline provides DeliveryReader/DeliveryActions: replace both.
      const pipelineNotRunning = async (): Promise<never> => {
        throw new DomainError('unavailable', 'delivery pipeline not running');
      };
      const api = await startApiServer({
        config,
        logger,
        deps: {
          webhooks: webhookStore,
          apiKeys: apiKeyStore,
          deliveries: { list: pipelineNotRunning, get: pipelineNotRunning },
          actions: { publishEvent: pipelineNotRunning, retry: pipelineNotRunning, sendTestEvent: pipelineNotRunning },
          ready: async () => {
            await mongo.db.command({ ping: 1 });
            await admin.describeCluster();
          },
        },
      });
      stops.push(() => api.close());
      apiPort = api.port;
    }

    logger.info({ roles, apiPort }, 'service started');
    return { apiPort, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
