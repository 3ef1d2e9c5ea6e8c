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
  it('records bursts of delivery outcomes from two instances without wedging the server', async () => {
    const client = await MongoClient.connect(stack.info.mongodbUri, { serverSelectionTimeoutMS: 5_000 });
    try {
      // Two stores, as two service instances on one database would write at once.
      const db = client.db('burst');
      const store = new DeliveryStore(db);
      const other = new DeliveryStore(db);
      await store.ensureIndexes();
      const now = new Date();
      const records = Array.from({ length: 2_000 }, (_, i) => ({
        id: `dlv_burst${i}`,
        workspace: 'ws',
        webhookId: 'whk_burst',
        eventId: `evt_burst${i}`,
        eventType: 'message.received',
        agent: null,
        status: 'pending' as const,
        attemptCount: 0,
        nextAttemptAt: now,
        lastResponseStatus: 0,
        lastError: '',
        payload: '{}',
        attempts: [],
        createdAt: now,
        updatedAt: now,
      }));
      await store.insertPending(records, 'burst:0:0', 'burst');
      const outcomes = records.map((r) => ({
        id: `out_${r.id}`,
        deliveryId: r.id,
        workspace: r.workspace,
        webhookId: r.webhookId,
        eventId: r.eventId,
        number: 1,
        status: 'succeeded' as const,
        nextAttemptAt: null,
        recordedAt: now,
      }));
      // One at a time, as many dispatches finishing together hand them in.
      const both = Promise.all(outcomes.map((o, i) => (i % 2 ? store : other).recordOutcomes([o])));
      const written = await Promise.race([both.then(() => 'written'), sleep(30_000).then(() => 'hung')]);
      expect(written).toBe('written');
      const settled = await store.settlement('evt_burst');
      expect(settled.total).toBe(2_000);
      expect(settled.byStatus.succeeded).toBe(2_000);
    } finally {
      await client.close(true);
    }
  });
});
