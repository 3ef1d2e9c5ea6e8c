import { beforeAll, describe, expect, it } from 'vitest';
import type { ValidEvent } from '../../src/domain/event.js';
import { Matcher } from '../../src/pipeline/matcher.js';
import type { DeliveryTask, TaskQueue, WebhookRecord } from '../../src/pipeline/ports.js';
import { DeliveryStore } from '../../src/store/delivery-store.js';
import { useMongo } from '../helpers/servers.js';

let store: DeliveryStore;
beforeAll(async () => {
  store = new DeliveryStore((await useMongo('redelivery-hours')).db);
  await store.ensureIndexes();
});

const webhook: WebhookRecord = {
  id: 'whk_redelivered',
  workspace: 'ws_redelivery',
  url: 'https://example.com/hook',
  events: ['*'],
  agent: null,
  description: '',
  status: 'active',
  secrets: [{ secret: 'whsec_test', expiresAt: null }],
  signatureScheme: 'humiris',
  createdAt: new Date(0),
  updatedAt: new Date(0),
};

function capturingQueue(tasks: DeliveryTask[]): TaskQueue {
  return {
    enqueue: async (t) => void tasks.push(...t),
    scheduleRetry: async () => {},
    deadLetter: async () => {},
    publishEvent: async () => {},
    publishEvents: async () => [],
  };
}

describe('a Kafka record matched again in a later hour', () => {
  it('keeps its deliveries and their ids: the hour comes from the record, not from when it was matched', async () => {
    // Written to Kafka half a second before an hour ends; matched then, and again 20 s later (after
    // a process died before committing its offset), in the next hour.
    const hourEnd = Math.ceil(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
    const writtenAt = hourEnd - 500;
    const event: ValidEvent = { id: `evt_redelivered${Date.now()}`, type: 'email.received', workspace: webhook.workspace, agent: null, createdAt: new Date(writtenAt), data: { n: 1 } };
    const source = 'humiris.events.email.received:0:42';
    const first: DeliveryTask[] = [];
    const second: DeliveryTask[] = [];
    const findMatching = async () => [webhook];

    await new Matcher({ findMatching }, store, capturingQueue(first), undefined, () => writtenAt + 100).match(event, source, writtenAt);
    await new Matcher({ findMatching }, store, capturingQueue(second), undefined, () => writtenAt + 20_000).match(event, source, writtenAt);

    expect(first).toHaveLength(1);
    expect(second.map((t) => t.deliveryId)).toEqual(first.map((t) => t.deliveryId));
    const page = await store.list(webhook.workspace, webhook.id, {}, 10, '');
    expect(page.items.map((d) => d.id)).toEqual([first[0]!.deliveryId]);
    expect(page.items[0]!.createdAt.getTime()).toBe(writtenAt);
  });
});
