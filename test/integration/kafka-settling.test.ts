import { Writable } from 'node:stream';
import { Partitioners } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createKafka } from '../../src/bus/kafka.js';
import { kafkaBrokers, useKafka } from '../helpers/servers.js';

const kafka = await useKafka('settling');

describe('Kafka client logging', () => {
  it('keeps the errors of a topic that is still being created at debug', async () => {
    const lines: Array<{ level: number; msg: string; error?: string }> = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const client = createKafka(kafkaBrokers(), pino({ level: 'debug' }, sink), { clientId: kafka.prefix });
    const producer = client.producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      // Each new topic is created by the first send to it; the broker answers "does not host" until then.
      await Promise.all(Array.from({ length: 5 }, (_, i) => producer.send({ topic: `${kafka.prefix}.new-${i}`, messages: [{ value: 'x' }] })));
    } finally {
      await producer.disconnect();
    }
    const settling = lines.filter((l) => `${l.msg} ${l.error ?? ''}`.includes('This server does not host this topic-partition'));
    expect(settling.length).toBeGreaterThan(0);
    expect(settling.filter((l) => l.level >= 40)).toEqual([]);
  });
});
