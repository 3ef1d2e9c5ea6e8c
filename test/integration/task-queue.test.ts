import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { KafkaTaskQueue } from '../../src/bus/task-queue.js';
import { topicNames } from '../../src/bus/topics.js';
import { validateEvent } from '../../src/domain/event.js';
import { cleanUp } from '../helpers/cleanup.js';
import { deliveryTask } from '../helpers/doubles.js';
import { useKafka } from '../helpers/servers.js';
import { until } from '../helpers/wait.js';

const kafka = await useKafka('taskqueue');
const topics = topicNames(kafka.prefix, [{ label: '30s', delayMs: 30_000 }]);
await kafka.createTopics([
  { topic: topics.deliveries, numPartitions: 4 },
  { topic: topics.event('email.received'), numPartitions: 1 },
]);
const queue = new KafkaTaskQueue(kafka.kafka, topics);
await queue.connect();
cleanUp(() => queue.close());

describe('KafkaTaskQueue', () => {
  it('puts a task where deliveryPartition says, so the in-hand check and the produce agree', async () => {
    const tasks = Array.from({ length: 200 }, (_, i) => deliveryTask(`whk_${i.toString(36)}_${'x'.repeat(i % 9)}`));
    await queue.enqueue(tasks);
    const consumer = await kafka.consumer();
    await consumer.subscribe({ topic: topics.deliveries, fromBeginning: true });
    const landed = new Map<string, number>();
    await consumer.run({ eachMessage: async ({ partition, message }) => void landed.set(String(message.key), partition) });
    await until('every task consumed', () => (landed.size >= tasks.length ? true : undefined));
    const partitions = new Set(landed.values());
    expect(partitions.size).toBe(4);
    for (const task of tasks) expect(landed.get(task.webhookId), task.webhookId).toBe(queue.deliveryPartition(task.webhookId, 4));
  });

  it('writes an event published meanwhile before a backlog of tasks queued ahead of it', async () => {
    const resolved: string[] = [];
    const fanOut = Array.from({ length: 60 }, (_, call) =>
      queue.enqueue(Array.from({ length: 250 }, (_, i) => deliveryTask(`whk_fair_${i}`, call))).then(() => void resolved.push(`tasks ${call}`)),
    );
    const event = validateEvent({ id: 'evt_fair', type: 'email.received', workspace: 'acme', data: {} }, { createdAt: new Date(), id: 'evt_fair' });
    const published = queue.publishEvent(event).then(() => void resolved.push('event'));
    await Promise.all([...fanOut, published]);
    // In arrival order it would be written after all 60 calls (15,000 tasks); topics take turns instead.
    expect(resolved.indexOf('event')).toBeLessThan(30);
  });

  it('logs a write Kafka has not acknowledged within the threshold, and its end', async () => {
    const lines: Array<{ msg: string; records: number; topics: string[]; waitingMs: number }> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    // 1 ms: shorter than any acknowledged write of 5,000 records, so this one is "slow".
    const slow = new KafkaTaskQueue(kafka.kafka, topics, logger, 1);
    await slow.connect();
    cleanUp(() => slow.close());
    await slow.enqueue(Array.from({ length: 5_000 }, (_, i) => deliveryTask(`whk_slow_${i % 50}`, i)));
    const warned = lines.find((l) => l.msg === 'Kafka has not acknowledged a write yet');
    const ended = lines.find((l) => l.msg === 'slow Kafka write ended');
    expect(warned).toMatchObject({ topics: [topics.deliveries] });
    expect(warned!.records).toBeGreaterThan(0);
    expect(ended!.waitingMs).toBeGreaterThanOrEqual(warned!.waitingMs);
    // A write acknowledged in time says nothing.
    const before = lines.length;
    const quick = new KafkaTaskQueue(kafka.kafka, topics, logger, 60_000);
    await quick.connect();
    cleanUp(() => quick.close());
    await quick.enqueue(Array.from({ length: 10 }, (_, i) => deliveryTask(`whk_quick_${i}`)));
    expect(lines.length).toBe(before);
  });
});
