import { PartitionAssigners, type PartitionAssigner } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../src/pipeline/semaphore.js';
import { startWorkerConsumer } from '../../src/bus/worker-consumer.js';
import { useKafkaTopic } from '../helpers/servers.js';
import { until } from '../helpers/wait.js';

/** Round robin under another name: a group whose members speak only it refuses a member that does not. */
const otherProtocol: PartitionAssigner = (config) => {
  const roundRobin = PartitionAssigners.roundRobin(config);
  return { ...roundRobin, name: 'OtherAssigner', protocol: ({ topics }) => ({ ...roundRobin.protocol({ topics }), name: 'OtherAssigner' }) };
};

describe('A consumer its Kafka client gives up on', () => {
  it('is started again by the service, and reads once the group lets it in', async () => {
    const { k, topic, groupId } = await useKafkaTopic('given-up', 1);
    // A member of the group that speaks no protocol ours does: our join is refused with
    // INCONSISTENT_GROUP_PROTOCOL, an error kafkajs does not restart a consumer after.
    const other = await k.consumer({ groupId, partitionAssigners: [otherProtocol] });
    await other.subscribe({ topics: [topic] });
    let otherJoined = false;
    other.on(other.events.GROUP_JOIN, () => void (otherJoined = true));
    await other.run({ eachMessage: async () => {} });
    await until('the other member in the group', () => (otherJoined ? true : undefined));

    const lines: Array<{ msg: string; restart?: boolean }> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const handled: string[] = [];
    const consumer = await startWorkerConsumer({
      kafka: k.kafka,
      groupId,
      topics: [topic],
      logger,
      semaphore: new Semaphore(10),
      drainTimeoutMs: 5_000,
      async handle(message) {
        handled.push(String(message.value));
      },
    });
    try {
      const crash = await until('the refused join', () => lines.find((l) => l.msg === 'consumer crashed'));
      expect(crash.restart).toBe(false);
      await other.disconnect();
      const producer = await k.producer();
      await producer.send({ topic, messages: [{ value: 'after' }] });
      await until('the record read', () => (handled.includes('after') ? true : undefined), 45_000);
      expect(lines.filter((l) => l.msg === 'consumer stopped by its Kafka client; starting a new one').length).toBeGreaterThanOrEqual(1);
      expect(lines.some((l) => l.msg === 'joined group')).toBe(true);
      expect(consumer.owns(topic, 0)).toBe(true);
    } finally {
      await consumer.stop();
    }
  }, 90_000);
});
