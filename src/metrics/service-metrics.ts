import type { Kafka, Producer } from 'kafkajs';
import { EVENT_TYPES, TEST_EVENT_TYPE } from '../domain/event-types.js';
import { DEFERRED_SLOW_ENDPOINT, DEFERRED_WORKSPACE_BUSY } from '../pipeline/endpoint-lanes.js';
import type { Metrics } from '../pipeline/metrics.js';
import type { DeliveryWriter, Sender } from '../pipeline/ports.js';
import type { MetricSet } from './definitions.js';

const KNOWN_EVENT_TYPES = new Set<string>([...EVENT_TYPES, TEST_EVENT_TYPE]);

/** Response status → a label of five values; 0 (no response) is `error`. */
export function statusClass(status: number): '2xx' | '3xx' | '4xx' | '5xx' | 'error' {
  if (status >= 200 && status < 300) return '2xx';
  if (status >= 300 && status < 400) return '3xx';
  if (status >= 400 && status < 500) return '4xx';
  if (status >= 500 && status < 600) return '5xx';
  return 'error';
}

/** The dispatcher's hold-back reasons (free text) → a bounded label. */
export function holdBackLabel(reason: string): string {
  if (reason === DEFERRED_SLOW_ENDPOINT) return 'slow-endpoint';
  if (reason === DEFERRED_WORKSPACE_BUSY) return 'workspace-limit';
  if (reason.includes('disabled')) return 'webhook-disabled';
  return 'other';
}

/** The metrics port on prom-client. */
export class ServiceMetrics implements Metrics {
  constructor(private readonly m: MetricSet) {}

  deliveryOutcome(eventType: string, status: string): void {
    this.m.deliveries.inc({ event_type: KNOWN_EVENT_TYPES.has(eventType) ? eventType : 'other', outcome: status });
  }

  firstAttemptDelay(seconds: number): void {
    this.m.firstAttemptLatency.observe(Math.max(0, seconds));
  }

  heldBack(reason: string): void {
    this.m.deferredTasks.inc({ reason: holdBackLabel(reason) });
  }

  apiRequest(rpc: string, code: string, seconds: number): void {
    this.m.apiRequests.inc({ rpc, code });
    this.m.apiRequestDuration.observe({ rpc }, seconds);
  }
}

/** Times every send by its status class and counts the sends in flight. */
export function instrumentSender(sender: Sender, m: MetricSet): Sender {
  return {
    async send(request) {
      m.sendsInFlight.inc();
      try {
        const result = await sender.send(request);
        m.attemptDuration.observe({ status_class: statusClass(result.status) }, result.durationMs / 1000);
        return result;
      } finally {
        m.sendsInFlight.dec();
      }
    },
  };
}

/** Times the delivery writes the matcher and dispatcher wait for. */
export function instrumentWriter(writer: DeliveryWriter, m: MetricSet): DeliveryWriter {
  const timed = async <T>(operation: string, write: () => Promise<T>): Promise<T> => {
    const end = m.storeWriteDuration.startTimer({ operation });
    try {
      return await write();
    } finally {
      end();
    }
  };
  return {
    insertPending: (records, source, digest, onStored) => timed('insert_pending', () => writer.insertPending(records, source, digest, onStored)),
    recordOutcomes: (outcomes) => timed('record_outcomes', () => writer.recordOutcomes(outcomes)),
  };
}

/**
 * The same Kafka client, whose producers count the records the broker acknowledged on the
 * dead-letter and invalid-events topics (counted where they are written, whoever writes them).
 */
export function countProducedRecords(kafka: Kafka, topics: { dlq: string; invalidEvents: string }, m: MetricSet): Kafka {
  const counted = Object.create(kafka) as Kafka;
  const count = (topic: string, records: number) => {
    if (topic === topics.dlq) m.dlqRecords.inc(records);
    else if (topic === topics.invalidEvents) m.invalidEvents.inc(records);
  };
  counted.producer = (config) => {
    const producer = kafka.producer(config);
    const wrapped: Producer = {
      ...producer,
      async send(record) {
        const result = await producer.send(record);
        count(record.topic, record.messages.length);
        return result;
      },
      async sendBatch(batch) {
        const result = await producer.sendBatch(batch);
        for (const { topic, messages } of batch.topicMessages ?? []) count(topic, messages.length);
        return result;
      },
    };
    return wrapped;
  };
  return counted;
}
