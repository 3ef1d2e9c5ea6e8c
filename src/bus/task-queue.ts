import { CompressionTypes, type IHeaders, type Kafka, type Message, type Producer } from 'kafkajs';
import { keyPartitioner, partitionOfKey } from './key-partitioner.js';
import { stringify } from 'lossless-json';
import { DomainError } from '../domain/errors.js';
import { parseExactJson } from '../domain/event.js';
import { traceHeaders } from '../domain/trace-context.js';
import { Batcher } from '../pipeline/batcher.js';
import type { AttemptRecord, DeadLetter, DeliveryTask, DomainEvent, OperationalTopic, TaskQueue } from '../pipeline/ports.js';
import { operationalRecord, type OperationalEvent } from '../domain/operational-events.js';
import type { Logger } from '../log/logger.js';
import type { Topics } from './topics.js';
import type { WorkerMessage } from './worker-consumer.js';

interface Outgoing {
  topic: string;
  message: Message;
}

/** Lets the retry consumer read a task's due time without parsing it. */
export const DUE_AT_HEADER = 'x-humiris-due-at';
/** On an event record: its workspace's webhooks changed moments before it was accepted (DomainEvent.webhooksChanged). */
export const WEBHOOKS_CHANGED_HEADER = 'x-humiris-webhooks-changed';

export function encodeTask(task: DeliveryTask): Buffer {
  return Buffer.from(JSON.stringify(task));
}

export function decodeTask(value: Buffer | null): DeliveryTask {
  const task = JSON.parse(value?.toString('utf8') ?? 'null') as DeliveryTask | null;
  if (!task || typeof task.deliveryId !== 'string' || (task.payload !== null && typeof task.payload !== 'string') || !Number.isInteger(task.attempt)) {
    throw new Error('not a delivery task');
  }
  for (const attempt of task.attempts) attempt.startedAt = new Date(attempt.startedAt);
  return task;
}

const attemptJson = (a: AttemptRecord) => ({
  number: a.number,
  started_at: a.startedAt.toISOString(),
  duration_ms: a.durationMs,
  response_status: a.responseStatus,
  response_body_excerpt: a.responseBodyExcerpt,
  error: a.error,
  manual: a.manual,
});

/** What operators read on the dead-letter topic: understandable without our code. */
export function deadLetterRecord(letter: DeadLetter, originalTopic: string): Message {
  const { task, attempts } = letter;
  const value = {
    delivery: {
      id: task.deliveryId,
      webhook_id: task.webhookId,
      event_id: task.eventId,
      event_type: task.eventType,
      agent: task.agent,
      status: 'failed',
      attempt_count: attempts.length,
      created_at: new Date(task.createdAt).toISOString(),
      attempts: attempts.map(attemptJson),
    },
    event: parseExactJson(task.payload),
    webhook_id: task.webhookId,
    workspace: task.workspace,
    failed_at: letter.failedAt.toISOString(),
    last_error: letter.lastError,
  };
  const headers: IHeaders = {
    'x-humiris-error': letter.lastError,
    'x-humiris-attempts': String(attempts.length),
    'x-humiris-original-topic': originalTopic,
    'x-humiris-delivery': task.deliveryId,
    'x-humiris-webhook': task.webhookId,
  };
  return { key: task.webhookId, value: stringify(value)!, headers };
}

/** Errors of a record the broker will never take, however often it is sent. */
const REFUSED_FOR_GOOD = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE', 'INVALID_TIMESTAMP']);

/** The Kafka error code when `error` (or what it wraps) says the records can never be written; else null. */
export function refusedForGood(error: unknown): string | null {
  for (let e = error as { type?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.type && REFUSED_FOR_GOOD.has(e.type)) return e.type;
  }
  return null;
}

/**
 * A produce goes to each partition as one record batch, which the broker refuses whole when it
 * passes the topic's `max.message.bytes` (2 MiB, topic-setup.ts). Chunks of at most this many
 * value bytes keep every batch under it; a single larger record goes alone.
 */
export const MAX_PRODUCE_BYTES = 1024 * 1024;

export function splitBySize<T extends { message: Message }>(items: T[], maxBytes = MAX_PRODUCE_BYTES): T[][] {
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(item.message.value ?? '') + 64;
    if (chunk.length > 0 && bytes + size > maxBytes) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(item);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

export type QuarantinedRecord = Omit<WorkerMessage, 'headers'>;

/**
 * A write Kafka has not acknowledged for this long is logged (and again each time as long again),
 * then once more when it is: the work behind it waits meanwhile, and an operator should see why.
 */
export const SLOW_PRODUCE_WARN_MS = 60_000;

interface Write {
  items: Outgoing[];
  startedAt: number;
  /** When it was last logged as slow. */
  warnedAt?: number;
}

const describeWrite = (write: Write, now: number) => ({
  records: write.items.length,
  topics: [...new Set(write.items.map((i) => i.topic))],
  waitingMs: Math.round(now - write.startedAt),
});

/** The Kafka side of the pipeline: produces are batched, and each caller waits for its own ack. */
export class KafkaTaskQueue implements TaskQueue, OperationalTopic {
  private readonly producer: Producer;
  private readonly batcher: Batcher<Outgoing, DomainError | null>;
  /** Writes Kafka has not answered yet. */
  private readonly writing = new Set<Write>();
  private readonly watch: NodeJS.Timeout;

  constructor(
    kafka: Kafka,
    private readonly topics: Topics,
    private readonly logger?: Logger,
    private readonly slowProduceWarnMs = SLOW_PRODUCE_WARN_MS,
  ) {
    this.producer = kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: keyPartitioner,
      retry: { retries: 8, maxRetryTime: 5_000 },
    });
    // Topics in turn: an event published through the API goes in the next write, not behind a
    // fan-out's thousands of tasks queued for the deliveries topic before it.
    this.batcher = new Batcher((items) => this.send(items), { maxItems: 500, maxDelayMs: 0, maxWrites: 4, fairBy: (item) => item.topic });
    // One timer for all writes under way, not one per write.
    this.watch = setInterval(() => this.warnOfSlowWrites(), Math.min(10_000, slowProduceWarnMs));
    this.watch.unref();
  }

  async connect(): Promise<void> {
    await this.producer.connect();
  }

  async close(): Promise<void> {
    await this.batcher.flush().catch(() => {});
    clearInterval(this.watch);
    await this.producer.disconnect();
  }

  private warnOfSlowWrites(): void {
    const now = performance.now();
    for (const write of this.writing) {
      if (now - (write.warnedAt ?? write.startedAt) < this.slowProduceWarnMs) continue;
      write.warnedAt = now;
      this.logger?.warn(describeWrite(write, now), 'Kafka has not acknowledged a write yet');
    }
  }

  /** Per item: null once written, or why Kafka refused it for good. */
  private async send(items: Outgoing[]): Promise<Array<DomainError | null>> {
    const write: Write = { items, startedAt: performance.now() };
    this.writing.add(write);
    try {
      return await this.sendNow(items);
    } finally {
      this.writing.delete(write);
      if (write.warnedAt !== undefined) this.logger?.info(describeWrite(write, performance.now()), 'slow Kafka write ended');
    }
  }

  private async sendNow(items: Outgoing[]): Promise<Array<DomainError | null>> {
    const results: Array<DomainError | null> = items.map(() => null);
    const indexed = items.map((item, i) => ({ ...item, i }));
    await Promise.all(
      splitBySize(indexed).map(async (chunk) => {
        try {
          await this.produce(chunk);
        } catch (error) {
          if (!refusedForGood(error)) throw error;
          // One record the broker will never take must not take the others down with it.
          for (const item of chunk) {
            try {
              await this.produce([item]);
            } catch (single) {
              const reason = refusedForGood(single);
              if (!reason) throw single;
              results[item.i] = new DomainError('internal', `Kafka refused the record for ${item.topic}: ${reason}`, { retryable: false, cause: single });
            }
          }
        }
      }),
    );
    return results;
  }

  private async produce(items: Outgoing[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const { topic, message } of items) {
      const messages = byTopic.get(topic) ?? [];
      messages.push(message);
      byTopic.set(topic, messages);
    }
    await this.producer.sendBatch({
      acks: -1,
      compression: CompressionTypes.None,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  }

  /** Resolves once every item is written; rejects with a non-retryable DomainError when Kafka refused one for good. */
  private async put(...items: Outgoing[]): Promise<void> {
    const refused = (await this.batcher.submit(...items)).find((result) => result !== null);
    if (refused) throw refused;
  }

  /** The partition of the deliveries topic (of `partitions`) that a task for this webhook is produced to. */
  deliveryPartition(webhookId: string, partitions: number): number {
    return partitions > 0 ? partitionOfKey(webhookId, partitions) : -1;
  }

  enqueue(tasks: DeliveryTask[]): Promise<void> {
    if (tasks.length === 0) return Promise.resolve();
    return this.put(
      ...tasks.map((task) => ({ topic: this.topics.deliveries, message: { key: task.webhookId, value: encodeTask(task) } })),
    );
  }

  scheduleRetry(step: number, task: DeliveryTask): Promise<void> {
    const topic = this.topics.retryTopic(step);
    const headers = { [DUE_AT_HEADER]: String(task.dueAt) };
    return this.put({ topic, message: { key: task.webhookId, value: encodeTask(task), headers } });
  }

  deadLetter(letter: DeadLetter): Promise<void> {
    return this.put({ topic: this.topics.dlq, message: deadLetterRecord(letter, this.topics.event(letter.task.eventType)) });
  }

  private eventRecord(event: DomainEvent): Outgoing {
    const value = JSON.stringify({
      id: event.id,
      type: event.type,
      workspace: event.workspace,
      agent: event.agent,
      created_at: event.createdAt.toISOString(),
      data: event.data,
    });
    const headers: IHeaders = traceHeaders(event.trace);
    if (event.webhooksChanged) headers[WEBHOOKS_CHANGED_HEADER] = '1';
    return { topic: this.topics.event(event.type), message: { key: event.agent ?? event.workspace, value, headers } };
  }

  publishEvent(event: DomainEvent): Promise<void> {
    return this.put(this.eventRecord(event));
  }

  /** One write for all of them (a caller's items are never split across writes), with the same acks. */
  async publishEvents(events: DomainEvent[]): Promise<Array<DomainError | null>> {
    if (events.length === 0) return [];
    try {
      return await this.batcher.submit(...events.map((event) => this.eventRecord(event)));
    } catch (error) {
      const failed = new DomainError('unavailable', 'Kafka did not take the event in time: send it again shortly', { retryable: true, cause: error });
      return events.map(() => failed);
    }
  }

  /** Keyed by the webhook it is about, so one webhook's notices stay in order. */
  publishOperational(event: OperationalEvent): Promise<void> {
    return this.put({
      topic: this.topics.operational,
      message: { key: event.webhookId, value: operationalRecord(event), headers: { 'x-humiris-event': event.type, 'x-humiris-workspace': event.workspace } },
    });
  }

  /** An event that cannot be accepted, kept with the reason and where it came from. */
  quarantine(record: QuarantinedRecord, reason: string): Promise<void> {
    return this.put({
      topic: this.topics.invalidEvents,
      message: {
        key: record.key,
        value: record.value,
        headers: {
          'x-humiris-error': reason,
          'x-humiris-original-topic': record.topic,
          'x-humiris-original-partition': String(record.partition),
          'x-humiris-original-offset': record.offset,
          'x-humiris-original-timestamp': record.timestamp,
        },
      },
    });
  }
}
