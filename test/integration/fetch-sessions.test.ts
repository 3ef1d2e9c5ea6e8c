import { describe, expect, it } from 'vitest';
import { createKafka } from '../../src/bus/kafka.js';
import { createLogger } from '../../src/log/logger.js';
import { cleanUp } from '../helpers/cleanup.js';
import { kafkaBrokers, useKafka } from '../helpers/servers.js';
import { settle, until } from '../helpers/wait.js';

describe('Kafka consumers fetch in sessions', () => {
  it('name only the partitions that moved, and still read every record once, across a pause', async () => {
    const k = await useKafka('sessions');
    const topics = [0, 1, 2].map((i) => `${k.prefix}.t${i}`);
    await k.createTopics(topics.map((topic) => ({ topic, numPartitions: 4 })));
    const consumer = createKafka(kafkaBrokers(), createLogger({ level: 'silent' }), { clientId: `${k.prefix}-client` }).consumer({ groupId: `${k.prefix}-group`, maxWaitTimeInMs: 100 });
    cleanUp(() => consumer.disconnect());
    const fetchSizes: number[] = [];
    consumer.on(consumer.events.REQUEST, ({ payload }) => {
      if (payload.apiName === 'Fetch') fetchSizes.push(payload.size);
    });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    const seen: string[] = [];
    await consumer.run({ eachMessage: async ({ topic, partition, message }) => void seen.push(`${topic}/${partition}/${message.value}`) });

    const producer = await k.producer();
    const sent: string[] = [];
    const put = async (topic: string, partition: number, value: string) => {
      await producer.send({ topic, messages: [{ partition, value }] });
      sent.push(`${topic}/${partition}/${value}`);
      return `${topic}/${partition}/${value}`;
    };
    const arrives = (record: string) => until(record, () => (seen.includes(record) ? true : undefined), 20_000);
    for (let round = 0; round < 12; round++) await arrives(await put(topics[round % 3]!, round % 4, `r${round}`));

    // A paused partition leaves the session, and comes back with its offset once resumed.
    consumer.pause([{ topic: topics[0]!, partitions: [1] }]);
    const whilePaused = await put(topics[0]!, 1, 'while-paused');
    await arrives(await put(topics[2]!, 3, 'beside'));
    await settle(500);
    expect(seen).not.toContain(whilePaused);
    consumer.resume([{ topic: topics[0]!, partitions: [1] }]);
    await arrives(whilePaused);
    await arrives(await put(topics[0]!, 1, 'after'));

    expect([...seen].sort()).toEqual([...sent].sort());
    // A full fetch names all 12 partitions; in a session, most name only those whose offset moved.
    const sizes = [...fetchSizes].sort((a, b) => a - b);
    expect(sizes.length).toBeGreaterThan(10);
    expect(sizes[sizes.length >> 1]!).toBeLessThan(sizes[sizes.length - 1]! / 2);
  });
});
