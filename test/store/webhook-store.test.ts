import { describe, expect, it } from 'vitest';
import { newSigningSecret, newWebhookId } from '../../src/domain/ids.js';
import { webhookCollectionName, WebhookStore } from '../../src/store/webhook-store.js';
import { useMongo } from '../helpers/servers.js';

const { db } = await useMongo('webhook-store');
const hook = { url: 'https://example.com/h', events: ['*'], agent: null, description: '' };

/** A webhook as versions before one collection per workspace stored it, in the one `webhooks` collection. */
function legacyDoc(workspace: string, n: number) {
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, n));
  return { _id: newWebhookId(), workspace, ...hook, status: 'active', secrets: [{ secret: newSigningSecret(), expiresAt: null }], createdAt: at, updatedAt: at };
}

describe('WebhookStore', () => {
  it('moves webhooks from the single collection of earlier versions into their workspaces, once, however often it starts', async () => {
    const legacy = db.collection<any>('webhooks');
    const docs = [...[0, 1, 2].map((n) => legacyDoc('acme', n)), legacyDoc('globex', 3)];
    await legacy.insertMany(docs);
    const store = new WebhookStore(db);
    // An interrupted earlier start had moved one already.
    await db.collection<any>(webhookCollectionName('acme')).insertOne({ ...docs[0], slot: 0 });

    await store.init();
    await new WebhookStore(db).init();

    expect(await legacy.countDocuments()).toBe(0);
    const acme = await store.list('acme', 10, '');
    expect(acme.items.map((w) => w.id)).toEqual([docs[2]!._id, docs[1]!._id, docs[0]!._id]);
    expect(acme.items[0]).not.toHaveProperty('slot');
    expect((await store.list('globex', 10, '')).items.map((w) => w.id)).toEqual([docs[3]!._id]);
    expect(await store.getById('acme', docs[3]!._id)).toBeNull(); // globex's, not acme's
    expect((await store.get('globex', docs[3]!._id)).workspace).toBe('globex');
    const slots = (await db.collection<any>(webhookCollectionName('acme')).find({}).toArray()).map((d) => d.slot);
    expect(new Set(slots).size).toBe(3);

    // Moved webhooks hold their places under the cap.
    await store.create('acme', hook, 4);
    await expect(store.create('acme', hook, 4)).rejects.toMatchObject({ code: 'failed_precondition' });
  });

  it('lists a change made through another store at once: pages follow the version, not a timer', async () => {
    const [one, two] = [new WebhookStore(db), new WebhookStore(db)];
    const first = await one.create('initech', hook, 100);
    expect((await two.list('initech', 10, '')).items.map((w) => w.id)).toEqual([first.id]);
    const second = await one.create('initech', hook, 100);
    expect((await two.list('initech', 10, '')).items.map((w) => w.id)).toEqual([second.id, first.id]);
    await one.update('initech', first.id, { description: 'renamed' });
    expect((await two.list('initech', 10, '')).items[1]!.description).toBe('renamed');
    await one.delete('initech', second.id);
    expect((await two.list('initech', 10, '')).items.map((w) => w.id)).toEqual([first.id]);
    // The deleted one's place is free again.
    await two.create('initech', hook, 2);
  });
});
