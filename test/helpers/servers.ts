import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Admin, type Consumer, type ConsumerConfig, type ITopicConfig, type Producer } from 'kafkajs';
import { MongoClient, type Db } from 'mongodb';
import { inject } from 'vitest';
import { createTopics } from '../../src/bus/topic-setup.js';
import { cleanUp } from './cleanup.js';

export const kafkaBrokers = (): string[] => inject('kafkaBrokers').split(',');
export const mongodbUri = (): string => inject('mongodbUri');

/** A name no other test file (or earlier run) uses: topics and databases stay apart without cleanup between runs. */
export function uniqueName(label: string): string {
  return `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}_${label.replace(/[^a-z0-9]/gi, '').slice(0, 20)}`;
}

export interface TestKafka {
  kafka: Kafka;
  admin: Admin;
  /** Topic prefix owned by this test file. */
  prefix: string;
  /** Creates topics and returns once each partition has a leader. */
  createTopics(topics: ITopicConfig[]): Promise<void>;
  producer(): Promise<Producer>;
  consumer(config?: Partial<ConsumerConfig>): Promise<Consumer>;
}

/** A Kafka client whose producers, consumers and topics are removed after the test that asked for it, or after the file's tests (cleanup.ts). */
export async function useKafka(label: string): Promise<TestKafka> {
  const prefix = uniqueName(label);
  const kafka = new Kafka({ brokers: kafkaBrokers(), clientId: prefix, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const clients: Array<Producer | Consumer> = [];

  cleanUp(async () => {
    await Promise.allSettled(clients.map((c) => c.disconnect()));
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length) await admin.deleteTopics({ topics }).catch(() => {});
    await admin.disconnect();
  });

  return {
    kafka,
    admin,
    prefix,
    createTopics: (topics) => createTopics(admin, topics),
    async producer() {
      const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
      clients.push(producer);
      await producer.connect();
      return producer;
    },
    async consumer(config = {}) {
      const consumer = kafka.consumer({ groupId: `${prefix}-${clients.length}`, ...config });
      clients.push(consumer);
      await consumer.connect();
      return consumer;
    },
  };
}

/** useKafka with one topic of the test's own (`<prefix>.work`) and the name of a group to read it with. */
export async function useKafkaTopic(label: string, numPartitions: number): Promise<{ k: TestKafka; topic: string; groupId: string }> {
  const k = await useKafka(label);
  const topic = `${k.prefix}.work`;
  await k.createTopics([{ topic, numPartitions }]);
  return { k, topic, groupId: `${k.prefix}-group` };
}

export interface TestMongo {
  client: MongoClient;
  db: Db;
  database: string;
}

/** A database of its own, dropped after the test that asked for it, or after the file's tests (cleanup.ts). */
export async function useMongo(label: string): Promise<TestMongo> {
  const database = uniqueName(label);
  const client = new MongoClient(mongodbUri(), { serverSelectionTimeoutMS: 10_000 });
  await client.connect();
  cleanUp(async () => {
    await client.db(database).dropDatabase().catch(() => {});
    await client.close();
  });
  return { client, db: client.db(database), database };
}

export interface WatchedMongo {
  db: Db;
  /** Every read the client sent (find or aggregate), in order, with the collection it read. */
  reads: Array<{ command: string; collection: string }>;
  /** The collection of every read whose reply left its cursor open on the server (more to fetch). */
  leftOpen: string[];
}

/** A client of its own on `database` that notes every read it sends; closed after the test that asked for it, or after the file's tests. */
export async function watchReads(database: string): Promise<WatchedMongo> {
  const client = await MongoClient.connect(mongodbUri(), { monitorCommands: true });
  cleanUp(() => client.close());
  const reads: WatchedMongo['reads'] = [];
  const leftOpen: string[] = [];
  const collectionOf = new Map<number, string>();
  client.on('commandStarted', (event) => {
    if (event.commandName === 'find' || event.commandName === 'aggregate') reads.push({ command: event.commandName, collection: String(event.command[event.commandName]) });
    if (event.commandName === 'find' || event.commandName === 'aggregate' || event.commandName === 'getMore') {
      collectionOf.set(event.requestId, String(event.command[event.commandName === 'getMore' ? 'collection' : event.commandName]));
    }
  });
  client.on('commandSucceeded', (event) => {
    const collection = collectionOf.get(event.requestId);
    collectionOf.delete(event.requestId);
    const cursorId = (event.reply as { cursor?: { id?: unknown } }).cursor?.id;
    if (collection !== undefined && cursorId !== undefined && String(cursorId) !== '0') leftOpen.push(collection);
  });
  return { db: client.db(database), reads, leftOpen };
}
