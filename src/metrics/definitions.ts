import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every metric the service exports, in one place. Names follow Prometheus conventions
 * (`humiris_webhooks_…`, `_total` for counters, base units); labels come from bounded sets
 * (event type, outcome, status class, reason, group, topic, partition, step, rpc, code) and
 * never carry an id. A new metric is declared here; see src/pipeline/metrics.ts for the rest.
 */

/** Attempts last from a millisecond to the 10 s request deadline (WEBHOOKS_REQUEST_TIMEOUT can raise it). */
const ATTEMPT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** From a fast pipeline (tens of ms) to a first attempt held back for minutes or hours. */
const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600];
const STORE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const API_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const PREFIX = 'humiris_webhooks_';

export type MetricSet = ReturnType<typeof defineMetrics>;

/** A registry of its own per service (several services can run in one process, as tests do). */
export function defineMetrics(registry = new Registry()) {
  const registers = [registry];
  // Process and Node.js runtime metrics under their standard names (process_…, nodejs_…), so stock dashboards read them.
  collectDefaultMetrics({ register: registry });
  // Summed over the workers of `serve --workers` this would be dropped: the oldest worker's start stands for the service.
  const startTime = registry.getSingleMetric('process_start_time_seconds') as { aggregator: string } | undefined;
  if (startTime) startTime.aggregator = 'min';
  return {
    registry,
    deliveries: new Counter({
      name: `${PREFIX}deliveries_total`,
      help: 'Delivery outcomes: each attempt (or end without one) by the state it left the delivery in: succeeded, retrying, failed.',
      labelNames: ['event_type', 'outcome'] as const,
      registers,
    }),
    attemptDuration: new Histogram({
      name: `${PREFIX}attempt_duration_seconds`,
      help: 'Duration of webhook POSTs by response status class (2xx, 3xx, 4xx, 5xx, or error when no response came).',
      labelNames: ['status_class'] as const,
      buckets: ATTEMPT_BUCKETS,
      registers,
    }),
    firstAttemptLatency: new Histogram({
      name: `${PREFIX}first_attempt_latency_seconds`,
      help: 'From an event\'s Kafka record being written (its delivery\'s creation time; when it was matched if that was over an hour later) to the start of the delivery\'s first attempt.',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    sendsInFlight: new Gauge({
      name: `${PREFIX}sends_in_flight`,
      help: 'Webhook POSTs in progress in this process.',
      registers,
    }),
    deferredTasks: new Counter({
      name: `${PREFIX}deferred_tasks_total`,
      help: 'Tasks held back without an attempt, by reason: slow-endpoint, workspace-limit, webhook-disabled.',
      labelNames: ['reason'] as const,
      registers,
    }),
    consumerLag: new Gauge({
      name: `${PREFIX}consumer_lag`,
      help: 'Records not yet committed by a consumer group, per topic and partition (Kafka offsets, read at most every few seconds on scrape).',
      labelNames: ['group', 'topic', 'partition'] as const,
      // Every worker of `serve --workers` reads the same offsets: one reading, not their sum.
      aggregator: 'max',
      registers,
    }),
    retryDepth: new Gauge({
      name: `${PREFIX}retry_topic_depth`,
      help: 'Tasks waiting in each retry topic (the retry group\'s lag summed over partitions), by schedule step delay.',
      labelNames: ['step', 'topic'] as const,
      aggregator: 'max',
      registers,
    }),
    dlqRecords: new Counter({
      name: `${PREFIX}dlq_records_total`,
      help: 'Records written to the dead-letter topic.',
      registers,
    }),
    invalidEvents: new Counter({
      name: `${PREFIX}invalid_events_total`,
      help: 'Records written to the invalid-events topic (events that could not be accepted).',
      registers,
    }),
    retentionRemoved: new Counter({
      name: `${PREFIX}retention_removed_records_total`,
      help: 'Delivery records (deliveries, outcomes, event bodies and hourly counts documents) removed by the retention sweep as past WEBHOOKS_RETENTION, by kind of record.',
      labelNames: ['kind'] as const,
      registers,
    }),
    retentionLastSweep: new Gauge({
      name: `${PREFIX}retention_last_sweep_timestamp_seconds`,
      help: 'When the retention sweep of this process last finished (Unix time).',
      aggregator: 'max',
      registers,
    }),
    storeWriteDuration: new Histogram({
      name: `${PREFIX}store_write_duration_seconds`,
      help: 'Delivery store writes as the pipeline waits for them (batched writes included), by operation.',
      labelNames: ['operation'] as const,
      buckets: STORE_BUCKETS,
      registers,
    }),
    apiRequests: new Counter({
      name: `${PREFIX}api_requests_total`,
      help: 'API calls (Connect, gRPC, gRPC-Web and REST) by RPC and result code.',
      labelNames: ['rpc', 'code'] as const,
      registers,
    }),
    apiRequestDuration: new Histogram({
      name: `${PREFIX}api_request_duration_seconds`,
      help: 'API call duration by RPC.',
      labelNames: ['rpc'] as const,
      buckets: API_BUCKETS,
      registers,
    }),
  };
}
