import type { EachBatchPayload } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { describeServer } from '../../src/store/mongo.js';
import { useKafka, useMongo } from '../helpers/servers.js';

const kafka = await useKafka('smoke');
const mongo = await useMongo('smoke');

describe('Kafka broker', () => {
  it('round-trips 1,000 messages through a consumer group with nothing lost', async () => {
    const topic = `${kafka.prefix}.roundtrip`;
    await kafka.createTopics([{ topic, numPartitions: 3 }]);
    const producer = await kafka.producer();
    const sent = Array.from({ length: 1_000 }, (_, i) => ({ key: `k${i % 17}`, value: `message-${i}` }));
    await producer.send({ topic, messages: sent });

    const consumer = await kafka.consumer();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = new Set<string>();
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachBatch: async ({ batch, resolveOffset, heartbeat }: EachBatchPayload) => {
          for (const message of batch.messages) {
            received.add(message.value!.toString());
            resolveOffset(message.offset);
          }
          await heartbeat();
          if (received.size === sent.length) resolve();
        },
      });
    });
    await done;
    expect(received.size).toBe(1_000);
    expect([...received].sort()).toEqual(sent.map((m) => m.value).sort());

    const { brokers } = await kafka.admin.describeCluster();
    console.info(`Kafka: ${brokers.length} broker(s) at ${brokers.map((b) => `${b.host}:${b.port}`).join(',')}`);
  });
});

describe('MongoDB wire server', () => {
  it('reports what it is', async () => {
    const version = await describeServer(mongo.client);
    console.info(`MongoDB server: ${version}`);
    expect(version).toMatch(/^(FerretDB v1\.\d+\.\d+ \(MongoDB \d+\.\d+\.\d+ wire\)|MongoDB \d+\.\d+\.\d+)$/);
  });

  it('inserts, finds, rejects a duplicate on a unique index, updates and bulk-writes', async () => {
    const items = mongo.db.collection<{ _id?: unknown; key: string; n: number }>('items');
    await items.createIndex({ key: 1 }, { unique: true });
    await items.insertMany([{ key: 'a', n: 1 }, { key: 'b', n: 2 }]);
    expect(await items.findOne({ key: 'b' }, { projection: { _id: 0 } })).toEqual({ key: 'b', n: 2 });

    await expect(items.insertOne({ key: 'a', n: 3 })).rejects.toMatchObject({ code: 11000 });

    const updated = await items.findOneAndUpdate({ key: 'a' }, { $inc: { n: 10 } }, { returnDocument: 'after' });
    expect(updated?.n).toBe(11);

    const result = await items.bulkWrite([
      { updateOne: { filter: { key: 'b' }, update: { $set: { n: 20 } } } },
      { insertOne: { document: { key: 'c', n: 30 } } },
      { updateOne: { filter: { key: 'd' }, update: { $setOnInsert: { n: 40 } }, upsert: true } },
    ]);
    expect([result.modifiedCount, result.insertedCount, result.upsertedCount]).toEqual([1, 1, 1]);
    const all = await items.find({}, { projection: { _id: 0 } }).sort({ key: 1 }).toArray();
    expect(all).toEqual([
      { key: 'a', n: 11 },
      { key: 'b', n: 20 },
      { key: 'c', n: 30 },
      { key: 'd', n: 40 },
    ]);
  });
});
