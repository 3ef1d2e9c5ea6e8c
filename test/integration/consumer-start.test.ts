import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../src/pipeline/semaphore.js';
import { ensureTopics } from '../../src/bus/topic-setup.js';
import { topicNames } from '../../src/bus/topics.js';
import { startWorkerConsumer } from '../../src/bus/worker-consumer.js';
import { useKafka } from '../helpers/servers.js';
import { settle } from '../helpers/wait.js';

describe('A consumer started on topics the service has just created', () => {
  it('joins its group once: the topics answer as led before it subscribes', async () => {
    const k = await useKafka('consumer-start');
    const topics = topicNames(k.prefix, []);
    // As the service starts: its topics created, then its consumers started at once.
    await ensureTopics(k.admin, topics, { eventPartitions: 6, workPartitions: 6, schedule: [] });
    const joins: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void (line.includes('"joined group"') && joins.push(line)) });
    const consumer = await startWorkerConsumer({
      kafka: k.kafka,
      groupId: `${k.prefix}-group`,
      topics: topics.allEvents,
      logger,
      semaphore: new Semaphore(10),
      drainTimeoutMs: 5_000,
      async handle() {},
    });
    try {
      await settle(3_000);
      // Each rejoin of a group stops every member's work until the group settles again.
      expect(joins).toHaveLength(1);
    } finally {
      await consumer.stop();
    }
  });
});
