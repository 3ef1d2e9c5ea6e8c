import { beforeAll, describe, expect, it } from 'vitest';
import type { ValidEvent } from '../../src/domain/event.js';
import { Matcher } from '../../src/pipeline/matcher.js';
import type { DeliveryTask } from '../../src/pipeline/ports.js';
import { DeliveryStore } from '../../src/store/delivery-store.js';
import { enqueueInto, webhookRecord } from '../helpers/doubles.js';
import { useMongo } from '../helpers/servers.js';

let store: DeliveryStore;
beforeAll(async () => {
  store = new DeliveryStore((await useMongo('redelivery-hours')).db);
  await store.ensureIndexes();
});

const webhook = webhookRecord('whk_redelivered', 'ws_redelivery');

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

    await new Matcher({ findMatching }, store, enqueueInto(first), undefined, () => writtenAt + 100).match(event, source, writtenAt);
    await new Matcher({ findMatching }, store, enqueueInto(second), undefined, () => writtenAt + 20_000).match(event, source, writtenAt);

    expect(first).toHaveLength(1);
    expect(second.map((t) => t.deliveryId)).toEqual(first.map((t) => t.deliveryId));
    const page = await store.list(webhook.workspace, webhook.id, {}, 10, '');
    expect(page.items.map((d) => d.id)).toEqual([first[0]!.deliveryId]);
    expect(page.items[0]!.createdAt.getTime()).toBe(writtenAt);
  });
});
