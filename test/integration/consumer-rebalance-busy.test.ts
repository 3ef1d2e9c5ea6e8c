import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { Semaphore } from '../../src/pipeline/semaphore.js';
import { startWorkerConsumer } from '../../src/bus/worker-consumer.js';
import { useKafkaTopic } from '../helpers/servers.js';
import { until } from '../helpers/wait.js';

describe('A member whose every slot is taken when its group rebalances', () => {
  it('rejoins at once instead of holding the whole group back until the rebalance times out', async () => {
    const { k, topic, groupId } = await useKafkaTopic('busy-rebalance', 2);
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    const handled: string[] = [];
    // One slot, held by its first record: the next record of the batch waits for it.
    const busy = await startWorkerConsumer({
      kafka: k.kafka,
      groupId,
      topics: [topic],
      logger: createLogger({ level: 'silent' }),
      semaphore: new Semaphore(1),
      drainTimeoutMs: 1_000,
      async handle(message) {
        handled.push(String(message.value));
        if (handled.length === 1) await blocked;
      },
    });
    const producer = await k.producer();
    await producer.send({ topic, messages: [0, 1, 2, 3].map((i) => ({ value: String(i), partition: 0 })) });
    await until('the slot taken', () => (handled.length === 1 ? true : undefined));

    // A second member: the group rebalances, and its join completes only once every member rejoined.
    const other = await k.consumer({ groupId });
    await other.subscribe({ topics: [topic] });
    let joinedAt: number | undefined;
    other.on(other.events.GROUP_JOIN, () => void (joinedAt ??= Date.now()));
    const asked = Date.now();
    await other.run({ eachMessage: async () => {} });
    try {
      await until('the second member in the group', () => joinedAt, 70_000);
      // kafkajs's rebalance timeout is 60 s: a member that waits out its slot keeps the join that long.
      expect(joinedAt! - asked).toBeLessThan(15_000);
    } finally {
      release();
      await other.disconnect();
      await busy.stop();
    }
  }, 120_000);
});
