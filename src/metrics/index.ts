import cluster from 'node:cluster';
import type { Admin, Kafka } from 'kafkajs';
import type { Topics } from '../bus/topics.js';
import type { RetryStep } from '../domain/retry-policy.js';
import type { Metrics } from '../pipeline/metrics.js';
import type { DeliveryWriter, Sender } from '../pipeline/ports.js';
import { defineMetrics, type MetricSet } from './definitions.js';
import { workerMetrics } from './cluster.js';
import { metricsResponder } from './endpoint.js';
import { watchConsumerLag } from './kafka-lag.js';
import { countProducedRecords, instrumentSender, instrumentWriter, ServiceMetrics } from './service-metrics.js';

export { startMetricsServer, type MetricsServer } from './endpoint.js';
export { answerWorkerScrapes } from './cluster.js';

/**
 * One service's metrics: the port the pipeline and API call, and the wrappers main.ts puts
 * around the sender, the delivery writer and the Kafka client, all on one registry.
 */
export class ServiceMonitoring {
  readonly set: MetricSet = defineMetrics();
  readonly metrics: Metrics = new ServiceMetrics(this.set);
  /** Writes the current metrics as GET /metrics answers: in a worker of `serve --workers`, those of all workers. */
  readonly respond = metricsResponder(cluster.isWorker ? workerMetrics(this.set.registry) : this.set.registry);

  sender(sender: Sender): Sender {
    return instrumentSender(sender, this.set);
  }

  writer(writer: DeliveryWriter): DeliveryWriter {
    return instrumentWriter(writer, this.set);
  }

  /** The Kafka client whose producers count dead-letter and invalid-event records. */
  kafka(kafka: Kafka, topics: Topics): Kafka {
    return countProducedRecords(kafka, topics, this.set);
  }

  /** One retention sweep's removed records (store/retention.ts). */
  retentionSwept(result: { removed: Record<string, number> }, at: Date): void {
    for (const [kind, records] of Object.entries(result.removed)) this.set.retentionRemoved.inc({ kind }, records);
    this.set.retentionLastSweep.set(at.getTime() / 1000);
  }

  /** Consumer lag and retry-topic depth, read from Kafka offsets on scrape. */
  watchLag(admin: Admin, topics: Topics, schedule: readonly RetryStep[], onError: (error: unknown) => void): void {
    watchConsumerLag(admin, topics, schedule, this.set, onError);
  }
}
