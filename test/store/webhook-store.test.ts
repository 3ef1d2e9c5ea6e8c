import { describe, expect, it } from 'vitest';
import { newSigningSecret, newWebhookId } from '../../src/domain/ids.js';
import { webhookCollectionName, WebhookStore } from '../../src/store/webhook-store.js';
import type { WebhookRecord } from '../../src/pipeline/ports.js';
import { useMongo, watchReads } from '../helpers/servers.js';
import { until } from '../helpers/wait.js';
import { wrapCollectionMethod } from '../helpers/wrapped-db.js';

const { db } = await useMongo('webhook-store');
const hook = { url: 'https://example.com/h', events: ['*'], agent: null, description: '' };

/** A webhook as versions before one collection per workspace stored it, in the one `webhooks` collection. */
function legacyDoc(workspace: string, n: number) {
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, n));
  return { _id: newWebhookId(), workspace, ...hook, status: 'active', secrets: [{ secret: newSigningSecret(), expiresAt: null }], createdAt: at, updatedAt: at };
}

/** A store whose change-mark writes are counted. */
function countingMarks() {
  let versionWrites = 0;
  const counting = wrapCollectionMethod(db, (name) => name === 'webhook_versions', 'updateOne', (updateOne) => (...args) => (versionWrites++, updateOne(...args)));
  return { store: new WebhookStore(counting), writes: () => versionWrites };
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

  it('lists a change at once on the store that made it, and within a second on another', async () => {
    const [one, two] = [new WebhookStore(db), new WebhookStore(db)];
    const ids = async (store: WebhookStore) => (await store.list('initech', 10, '')).items.map((w) => w.id);
    // Seen by the other store once its version write lands: polled, as other instances poll.
    const seenByTwo = (what: string, expected: (items: WebhookRecord[]) => boolean) =>
      until(what, async () => (expected((await two.list('initech', 10, '')).items) ? true : undefined), 1_000);

    const first = await one.create('initech', hook, 100);
    expect(await ids(one)).toEqual([first.id]);
    await seenByTwo('the first create', (items) => items.length === 1 && items[0]!.id === first.id);
    const second = await one.create('initech', hook, 100);
    expect(await ids(one)).toEqual([second.id, first.id]);
    await seenByTwo('the second create', (items) => items.map((w) => w.id).join() === [second.id, first.id].join());
    await one.update('initech', first.id, { description: 'renamed' });
    expect((await one.list('initech', 10, '')).items[1]!.description).toBe('renamed');
    await seenByTwo('the update', (items) => items[1]?.description === 'renamed');
    await one.delete('initech', second.id);
    expect(await ids(one)).toEqual([first.id]);
    await seenByTwo('the delete', (items) => items.length === 1);
    // The deleted one's place is free again.
    await two.create('initech', hook, 2);
    await one.settled();
    await two.settled();
  });

  it('answers a change only once a change mark that covers it has landed, so a crash after the answer still announces it', async () => {
    const store = new WebhookStore(db);
    const versions = db.collection<{ _id: string; version: number; settleMs?: number }>('webhook_versions');
    const before = (await versions.findOne({ _id: 'umbrella' }))?.version;
    const created = await store.create('umbrella', hook, 100);
    // Read straight from the store, not through this instance, which would wait for its own marks.
    const after = await versions.findOne({ _id: 'umbrella' });
    expect(after?.version).toBeDefined();
    expect(after?.version).not.toBe(before);
    expect(after?.settleMs).toBe(1_000);
    expect((await store.listActive('umbrella')).map((w) => w.id)).toContain(created.id);
  });

  it('covers webhooks created one by one with one change mark while it stands, and another instance still lists each within a second', async () => {
    const { store: one, writes } = countingMarks();
    const two = new WebhookStore(db);
    await two.list('wayne', 50, ''); // the other instance has read the workspace before
    const created = [];
    for (let i = 0; i < 30; i++) created.push((await one.create('wayne', hook, 100)).id);
    // One mark per create before (30); a new mark now goes out only once the current one has stood half its time.
    expect(writes()).toBeGreaterThanOrEqual(1);
    expect(writes()).toBeLessThanOrEqual(4);
    await until('the other store lists all 30', async () => ((await two.list('wayne', 50, '')).items.length === 30 ? true : undefined), 1_000);
    expect((await two.list('wayne', 50, '')).items.map((w) => w.id).sort()).toEqual(created.sort());
  });

  it('reads a workspace of more webhooks than a first reply holds by default in one reply each, leaving no cursor open on the server', async () => {
    // FerretDB holds a SQLite connection for each cursor left open between replies, 100 per
    // database, and its reads wait for one: enough reads waiting to send their getMore stop it.
    const watched = await watchReads(db.databaseName);
    const store = new WebhookStore(watched.db);
    await Promise.all(Array.from({ length: 150 }, () => store.create('acme-many', hook, 1_000)));
    expect(await store.listActive('acme-many')).toHaveLength(150);
    expect((await store.list('acme-many', 100, '')).items).toHaveLength(100);
    await store.create('acme-many', hook, 1_000);
    expect(watched.leftOpen).toEqual([]);
  });

  it('covers a burst of changes with a few version writes, not one each, and still lists every change at once and elsewhere within a second', async () => {
    const { store: one, writes } = countingMarks();
    const two = new WebhookStore(db);
    const created = await Promise.all(Array.from({ length: 20 }, () => one.create('hooli', hook, 100)));
    const listed = (await one.list('hooli', 50, '')).items;
    expect(listed.map((w) => w.id).sort()).toEqual(created.map((w) => w.id).sort());
    await one.settled();
    expect(writes()).toBeGreaterThanOrEqual(1);
    // One per create once (21 with the first mark).
    expect(writes()).toBeLessThanOrEqual(10);
    await until('the other store lists all 20', async () => ((await two.list('hooli', 50, '')).items.length === 20 ? true : undefined), 1_000);
  });
});
