import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateStack, type PrivateStack } from '../../chaos/harness.js';
import { DeliveryStore } from '../../src/store/delivery-store.js';

// A private stack: were the bug back, it would wedge the shared server for every other test file.
let stack: PrivateStack;
beforeAll(async () => {
  stack = await startPrivateStack();
}, 180_000);
afterAll(async () => {
  await stack?.down();
});

describe('on FerretDB, the local default database', () => {
  it('records bursts of delivery updates from two instances without wedging the server (it deadlocks at 100 open statements)', async () => {
    const client = await MongoClient.connect(stack.info.mongodbUri, { serverSelectionTimeoutMS: 5_000 });
    try {
      // Two stores, as two service instances on one database would write at once.
      const store = new DeliveryStore(client.db('burst'));
      const ids = Array.from({ length: 250 }, (_, i) => `dlv_burst${i}`);
      await client.db('burst').collection('deliveries').insertMany(ids.map((_id) => ({ _id, status: 'pending' }) as any));
      const updates = ids.map((deliveryId) => ({ deliveryId, status: 'succeeded' as const, nextAttemptAt: null }));
      const other = new DeliveryStore(client.db('burst'));
      const both = Promise.all([store.applyUpdates(updates.slice(0, 125)), other.applyUpdates(updates.slice(125))]);
      const written = await Promise.race([both.then(() => 'written'), sleep(15_000).then(() => 'hung')]);
      expect(written).toBe('written');
      expect(await client.db('burst').collection('deliveries').countDocuments({ status: 'succeeded' })).toBe(250);
    } finally {
      await client.close(true);
    }
  });
});

