import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../src/bus/kafka.js';
import { createLogger } from '../../src/log/logger.js';
import { kafkaBrokers } from '../helpers/servers.js';

/** kafkajs's own cluster, the one each of its consumers holds (2.2.4's layout). */
interface ClusterInternals {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  getNodeIds(): string[];
  findBroker(args: { nodeId: string }): Promise<{ connectionPool: { host: string; port: number } }>;
  removeBroker(address: { host: string; port: number }): void;
}
const require = createRequire(import.meta.url);
const Cluster = require('kafkajs/src/cluster/index.js') as new (options: object) => ClusterInternals;
const socketFactory = require('kafkajs/src/network/socketFactory.js') as () => unknown;
const { createLogger: kafkajsLogger, LEVELS } = require('kafkajs/src/loggers/index.js') as {
  createLogger(options: { level: number; logCreator: () => () => void }): unknown;
  LEVELS: { NOTHING: number };
};

describe("a Kafka client's pool of brokers", () => {
  // Only for what it does to kafkajs: every client of the service is made through it.
  createKafka(kafkaBrokers(), createLogger({ level: 'silent' }), { clientId: 'last-broker-test' });
  const cluster = new Cluster({
    logger: kafkajsLogger({ level: LEVELS.NOTHING, logCreator: () => () => {} }),
    brokers: kafkaBrokers(),
    clientId: 'last-broker-test',
    retry: { retries: 3 },
    offsets: new Map(),
    socketFactory: socketFactory(),
  });
  afterAll(() => cluster.disconnect());

  it('keeps its last broker when that broker closes the connection, so a consumer goes on trying it', async () => {
    await cluster.connect();
    await cluster.refreshMetadata();
    const nodeIds = cluster.getNodeIds();
    expect(nodeIds).toHaveLength(1);
    const { host, port } = (await cluster.findBroker({ nodeId: nodeIds[0]! })).connectionPool;
    // What kafkajs's consumer does on `KafkaJSConnectionClosedError` (a broker that stops closes them
    // all): with the pool left empty, its next fetch gave up for good with `No broker available`.
    cluster.removeBroker({ host, port });
    expect(cluster.getNodeIds()).toEqual(nodeIds);
    // Marked for a refresh as a removal is, and still usable.
    await cluster.refreshMetadata();
    expect(cluster.getNodeIds()).toEqual(nodeIds);
  });
});
