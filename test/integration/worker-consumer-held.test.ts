import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { Semaphore } from '../../src/pipeline/semaphore.js';
import { startWorkerConsumer, type WorkerConsumerOptions } from '../../src/bus/worker-consumer.js';
import { useKafkaTopic } from '../helpers/servers.js';
import { settle, until } from '../helpers/wait.js';

/** A one-partition topic of its own holding `values`, a worker consumer of it, and its committed offset. */
async function heldWork(label: string, values: string[], slots: number, handle: WorkerConsumerOptions['handle']) {
  const { k, topic, groupId } = await useKafkaTopic(label, 1);
  const producer = await k.producer();
  await producer.send({ topic, messages: values.map((value) => ({ value })) });
  const consumer = await startWorkerConsumer({
    kafka: k.kafka,
    groupId,
    topics: [topic],
    logger: createLogger({ level: 'silent' }),
    semaphore: new Semaphore(slots),
    drainTimeoutMs: 5_000,
    handle,
  });
  const committed = async () => (await k.admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions[0]!.offset;
  return { topic, consumer, committed };
}

describe('Worker consumer, work held past its handler', () => {
  it('goes on reading while a message\'s held work runs, and commits past it only once that work ends', async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const handled: string[] = [];
    // One slot: the second and third are read only if the first gave its slot back.
    const { topic, consumer, committed } = await heldWork('held', ['first', 'second', 'third'], 1, async (message) => {
      handled.push(message.value!.toString());
      return message.offset === '0' ? { held } : undefined;
    });
    try {
      expect(consumer.owns(topic, 0)).toBe(true);
      expect(consumer.owns(topic, 1)).toBe(false);
      await until('the later messages are handled', () => (handled.length === 3 ? true : undefined), 20_000);
      // Several commit rounds (every 500 ms) pass while the first message's work is held.
      await settle(1_500);
      // Offset 0 is the next to read: nothing past the held message.
      expect(await committed()).toBe('0');
      release();
      await until('committed past all three', async () => ((await committed()) === '3' ? true : undefined), 10_000);
    } finally {
      await consumer.stop();
    }
  });

  it('handles a message again when its held work fails, instead of leaving its partition uncommitted for good', async () => {
    const handled: string[] = [];
    const { consumer, committed } = await heldWork('held-failed', ['first', 'second'], 2, async (message) => {
      handled.push(message.value!.toString());
      // The first handling's held work fails (a send in hand neither concluded nor queued).
      return handled.length === 1 ? { held: Promise.reject(new Error('not concluded, not queued')) } : undefined;
    });
    try {
      await until('committed past both', async () => ((await committed()) === '2' ? true : undefined), 20_000);
      expect(handled.filter((v) => v === 'first')).toHaveLength(2);
    } finally {
      await consumer.stop();
    }
  });
});
