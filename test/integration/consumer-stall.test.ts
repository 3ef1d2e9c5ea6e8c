import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../src/pipeline/semaphore.js';
import { startWorkerConsumer } from '../../src/bus/worker-consumer.js';
import { useKafkaTopic } from '../helpers/servers.js';
import { until } from '../helpers/wait.js';

describe('A consumer that cannot fetch', () => {
  it('says where it is stuck once past the threshold, and when it fetches again', async () => {
    const { k, topic, groupId } = await useKafkaTopic('consumer-stall', 1);
    const lines: Array<{ msg: string; stuckIn?: string; sinceFetchMs?: number; inFlight?: number }> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    // One slot, held by a handler until released: the next record waits for it, and no fetch starts.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const handled: string[] = [];
    const consumer = await startWorkerConsumer({
      kafka: k.kafka,
      groupId,
      topics: [topic],
      logger,
      semaphore: new Semaphore(1),
      drainTimeoutMs: 5_000,
      stallWarnMs: 1_500,
      async handle(message) {
        handled.push(String(message.value));
        if (message.value?.toString() === 'first') await held;
      },
    });
    try {
      const producer = await k.producer();
      await producer.send({ topic, messages: [{ value: 'first' }, { value: 'second' }] });
      const stall = await until('the stall reported', () => lines.find((l) => l.msg === 'consumer has not fetched for a while'));
      expect(stall).toMatchObject({ stuckIn: 'waiting for a free slot', inFlight: 1 });
      expect(stall.sinceFetchMs).toBeGreaterThanOrEqual(1_500);
      expect(handled).toEqual(['first']);
      release();
      const again = await until('fetching again', () => lines.find((l) => l.msg === 'consumer fetching again'));
      expect(again.sinceFetchMs).toBeGreaterThanOrEqual(stall.sinceFetchMs!);
      expect(handled).toEqual(['first', 'second']);
    } finally {
      await consumer.stop();
    }
  });
});
