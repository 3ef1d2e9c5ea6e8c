import type { Config, Role } from './config/config.js';
import { createKafka } from './bus/kafka.js';
import type { Logger } from './log/logger.js';
import { Progress } from './log/progress.js';
import { connectMongo } from './store/mongo.js';
import { ApiKeyStore } from './store/api-key-store.js';
import { WebhookStore } from './store/webhook-store.js';
import { startApiServer } from './api/server.js';
import { ensureDevKey } from './api/dev-key.js';
import { readFileSync } from 'node:fs';
import { ensureTopics, partitionCount } from './bus/topic-setup.js';
import { topicNames } from './bus/topics.js';
import { KafkaTaskQueue } from './bus/task-queue.js';
import { Semaphore } from './pipeline/semaphore.js';
import { startDispatchConsumer, startMatcherConsumer } from './bus/pipeline-consumers.js';
import { InHandDispatch } from './pipeline/in-hand.js';
import { HttpSender } from './dispatch/http-sender.js';
import { CachedWebhookLookup } from './pipeline/webhook-cache.js';
import { PipelineActions } from './pipeline/delivery-actions.js';
import { Dispatcher } from './pipeline/dispatcher.js';
import { CachedEventBodies } from './pipeline/event-bodies.js';
import { Matcher } from './pipeline/matcher.js';
import { DeliveryStore } from './store/delivery-store.js';
import { startRetention } from './store/retention.js';
import { ReplayClaimStore } from './store/replay-claims.js';
import { RecoveryStore } from './store/recovery-store.js';
import { Recoveries } from './pipeline/recovery.js';
import { EndpointLanes, inHandReserve, laneLimits, outcomeBatching, tasksInHand } from './pipeline/endpoint-lanes.js';
import { EndpointHealth } from './pipeline/endpoint-health.js';
import { OperationalNotifier } from './pipeline/operational-notifier.js';
import { WebhookHealthStore } from './store/webhook-health-store.js';
import { startTracing } from './tracing/tracing.js';
import { ServiceMonitoring, startMetricsServer } from './metrics/index.js';

const SERVICE_VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

export interface Service {
  /** The API port when the `api` role runs (useful with PORT=0). */
  apiPort?: number;
  /** The port of GET /metrics when METRICS_PORT moves it off the API port. */
  metricsPort?: number;
  stop(): Promise<void>;
  /** The parts whose stop has not finished yet, in stopping order (for a shutdown that runs out of time). */
  unfinished(): string[];
}

/** The composition root: the one place that constructs the parts and wires them together. */
export async function startService(config: Config, roles: Role[], logger: Logger): Promise<Service> {
  if (!config.kafkaBrokers || !config.mongodbUri) throw new Error('startService needs KAFKA_BROKERS and MONGODB_URI');
  const stops: Array<{ what: string; fn: () => Promise<void> }> = [];
  const onStop = (what: string, fn: () => Promise<void>) => void stops.push({ what, fn });
  let unfinished: string[] = [];
  const stop = async () => {
    const order = stops.reverse();
    unfinished = order.map((s) => s.what);
    for (const { fn } of order) {
      await fn().catch((error) => logger.error({ err: error }, 'error while stopping'));
      unfinished.shift();
    }
  };

  try {
    // Stopped last: the spans of the work that drains while stopping are exported too.
    const { tracing, shutdown: stopTracing } = await startTracing(config.tracing, SERVICE_VERSION, (message) => logger.warn(message));
    onStop('traces not yet exported', stopTracing);

    const mongo = await connectMongo(config.mongodbUri, config.mongodbDatabase);
    onStop('MongoDB connections', () => mongo.client.close());
    logger.info({ server: mongo.serverVersion, database: config.mongodbDatabase }, 'connected to MongoDB');

    const kafka = createKafka(config.kafkaBrokers, logger);
    const admin = kafka.admin();
    await admin.connect();
    onStop('Kafka admin client', () => admin.disconnect());
    const cluster = await admin.describeCluster();
    logger.info({ brokers: cluster.brokers.map((b) => `${b.host}:${b.port}`) }, 'connected to Kafka');

    // A new broker or database can take a while to settle: say so rather than go quiet.
    const slow = new Progress((line) => logger.info(line));

    // --- stores ---
    const webhookStore = new WebhookStore(mongo.db);
    onStop('webhook changes not yet marked for other instances', () => webhookStore.settled());
    const apiKeyStore = new ApiKeyStore(mongo.db);
    await slow.watch('preparing the MongoDB collections', () => Promise.all([webhookStore.init(), apiKeyStore.init()]));

    // --- pipeline (matcher, dispatcher, retry) ---
    const topics = topicNames(config.topicPrefix, config.retrySchedule);
    const monitoring = new ServiceMonitoring();
    monitoring.watchLag(admin, topics, config.retrySchedule, (error) => logger.warn({ err: error }, 'consumer lag not read for /metrics'));
    await slow.watch('creating the Kafka topics', () =>
      ensureTopics(admin, topics, {
        eventPartitions: config.eventPartitions,
        workPartitions: config.eventPartitions,
        schedule: config.retrySchedule,
      }),
    );
    const deliveryStore = new DeliveryStore(mongo.db, { retentionMs: config.retentionMs, logger, outcomeBatch: outcomeBatching(config.maxInFlight) });
    await slow.watch('preparing the delivery records', () => deliveryStore.ensureIndexes());
    onStop('delivery records not yet written to MongoDB', () => deliveryStore.close());
    const retention = startRetention(deliveryStore, { retentionMs: config.retentionMs, logger, onSweep: (result, at) => monitoring.retentionSwept(result, at) });
    onStop('retention sweep', () => retention.stop());
    const queue = new KafkaTaskQueue(monitoring.kafka(kafka, topics), topics, logger.child({ component: 'producer' }));
    await queue.connect();
    onStop('tasks not yet produced to Kafka', () => queue.close());
    const actions = new PipelineActions(deliveryStore, queue, new ReplayClaimStore(mongo.db));
    const recoveries = new Recoveries(new RecoveryStore(mongo.db), deliveryStore, actions, { logger });
    onStop('recoveries: the chunk in hand (each job is resumed from its cursor)', () => recoveries.stop());
    const webhookLookup = new CachedWebhookLookup(webhookStore);
    const timedDeliveries = monitoring.writer(deliveryStore);
    // A client of their own, whose consumers keep their place in their groups however long Kafka is away.
    const consumerDeps = { kafka: createKafka(config.kafkaBrokers, logger, { for: 'consumers' }), topics, logger, drainTimeoutMs: config.requestTimeoutMs + 2_000 };

    const dispatchRoles = (['dispatcher', 'retry'] as const).filter((role) => roles.includes(role));
    let inHand: InHandDispatch | undefined;
    if (dispatchRoles.length > 0) {
      const userAgent = `Humiris-Webhooks/${SERVICE_VERSION}`;
      const sender = new HttpSender({ timeoutMs: config.requestTimeoutMs, allowPrivateUrls: config.allowPrivateUrls, userAgent });
      onStop('HTTP sender', () => sender.close());
      // Failure streaks, auto-disable and operational events (README: Operational events).
      const notifier = new OperationalNotifier(queue, webhookLookup, deliveryStore, queue, logger);
      const observer = new EndpointHealth(new WebhookHealthStore(mongo.db), webhookStore, notifier, { disableAfterMs: config.disableAfterMs, logger });
      onStop('failure streaks not yet written to MongoDB, operational events not yet sent', () => observer.close());
      // Send slots per webhook, workspace and process, from the first request (README: Send slots, per webhook and per workspace).
      const lanes = new EndpointLanes(laneLimits(config.maxInFlight));
      const dispatcher = new Dispatcher(webhookLookup, monitoring.sender(sender), timedDeliveries, queue, new CachedEventBodies(deliveryStore), {
        schedule: config.retrySchedule,
        userAgent,
        logger,
        lanes,
        observer,
        metrics: monitoring.metrics,
        tracing,
      });
      // One bound for all tasks in hand, first attempts and retries alike: the sends, and those waiting their turn.
      const semaphore = new Semaphore(tasksInHand(config.maxInFlight));
      for (const role of dispatchRoles) {
        const consumer = await slow.watch(`joining the ${role} consumer group`, () => startDispatchConsumer({ ...consumerDeps, semaphore, dispatcher, role, schedule: config.retrySchedule }));
        onStop(`${role}: tasks in hand (offsets not committed, redelivered)`, async () => {
          dispatcher.stop();
          lanes.close();
          await consumer.stop();
        });
        if (role === 'dispatcher' && roles.includes('matcher')) {
          // First attempts of this process's partitions skip the deliveries topic (pipeline/in-hand.ts).
          const partitions = await partitionCount(admin, topics.deliveries);
          inHand = new InHandDispatch(dispatcher, queue, {
            owns: (task) => consumer.owns(topics.deliveries, queue.deliveryPartition(task.webhookId, partitions)),
            lanes,
            slots: semaphore,
            reserve: inHandReserve(config.maxInFlight),
            logger,
          });
        }
      }
    }

    // After the dispatcher, so it stops first: its tasks in hand end before the dispatcher stops.
    if (roles.includes('matcher')) {
      const matcher = new Matcher(webhookLookup, timedDeliveries, queue, tracing, Date.now, inHand);
      const consumer = await slow.watch('joining the matcher consumer group', () =>
        startMatcherConsumer({ ...consumerDeps, semaphore: new Semaphore(Math.min(config.maxInFlight, 100)), matcher, queue }),
      );
      onStop('matcher: events in hand (offsets not committed, redelivered)', () => consumer.stop());
    }

    // --- api ---
    let apiPort: number | undefined;
    if (roles.includes('api')) {
      const api = await startApiServer({
        config,
        logger,
        metrics: config.metricsPort === undefined ? monitoring.respond : undefined,
        deps: {
          webhooks: webhookStore,
          apiKeys: apiKeyStore,
          deliveries: deliveryStore,
          actions,
          metrics: monitoring.metrics,
          recoveries,
          ready: async () => {
            await mongo.db.command({ ping: 1 });
            await admin.describeCluster();
          },
        },
      });
      onStop('API requests in progress', () => api.close());
      apiPort = api.port;
      // Only once the port is ours: a key printed by a start-up that then fails would be lost.
      if (config.localStack) await ensureDevKey(apiKeyStore, (text) => process.stdout.write(`${text}\n`));
    }

    let metricsPort: number | undefined;
    if (config.metricsPort !== undefined) {
      const server = await startMetricsServer(config.metricsPort, monitoring.respond);
      onStop('metrics port', () => server.close());
      metricsPort = server.port;
    }

    return { apiPort, metricsPort, stop, unfinished: () => [...unfinished] };
  } catch (error) {
    await stop();
    throw error;
  }
}
