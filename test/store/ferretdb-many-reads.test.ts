import { describe, expect, it } from 'vitest';
import { WebhookStore } from '../../src/store/webhook-store.js';
import { hasBuiltFerretdb, usePrivateFerretdb } from '../helpers/private-ferretdb.js';
import { seedWebhooks } from '../helpers/seed-webhooks.js';

// On FerretDB of its own: before every read came back in one reply, this test stopped the server
// it ran on for good, every database and client with it.
describe.runIf(hasBuiltFerretdb)('many reads at once on FerretDB', () => {
  it('answers 300 reads at once of a workspace of 150 webhooks, and other clients meanwhile', async () => {
    const { db, client } = await usePrivateFerretdb('webhooks');
    await seedWebhooks(db, 'acme', 150);
    const store = new WebhookStore(db);
    let done = 0;
    const reads = Array.from({ length: 300 }, () => store.listActive('acme').then((found) => (done++, found.length)));
    const finished = Promise.all(reads);
    const timedOut = new Promise<string>((resolve) => setTimeout(() => resolve(`${done} of 300 reads done after 60 s`), 60_000).unref());
    expect(await Promise.race([finished.then(() => 'all 300 reads done'), timedOut])).toBe('all 300 reads done');
    expect(await finished).toEqual(reads.map(() => 150));
    expect(await client.db('other').command({ ping: 1 })).toMatchObject({ ok: 1 });
  }, 120_000);
});
