import { describe, expect, it } from 'vitest';
import { WebhookHealthStore } from '../../src/store/webhook-health-store.js';
import { WebhookStore } from '../../src/store/webhook-store.js';
import { hasBuiltFerretdb, usePrivateFerretdb } from '../helpers/private-ferretdb.js';
import { seedWebhooks } from '../helpers/seed-webhooks.js';

/** Resolves to what `work` gave, or to `stopped` once `ms` passed without an answer. */
function withinOr<T>(work: Promise<T>, ms: number, stopped: () => string): Promise<T | string> {
  return Promise.race([work, new Promise<string>((resolve) => setTimeout(() => resolve(stopped()), ms).unref())]);
}

// FerretDB 1.x on SQLite has 100 connections per database, and every query and write waits for
// one. Each test runs on a FerretDB of its own: before its fix, it stopped the server it ran on for
// good, every database and client with it.
describe.runIf(hasBuiltFerretdb)('FerretDB connections', () => {
  it('answers 300 reads at once of a workspace of 150 webhooks, and other clients meanwhile', async () => {
    const { db, client } = await usePrivateFerretdb('webhooks');
    await seedWebhooks(db, 'acme', 150);
    const store = new WebhookStore(db);
    let done = 0;
    const reads = Array.from({ length: 300 }, () => store.listActive('acme').then((found) => (done++, found.length)));
    const finished = Promise.all(reads);
    expect(await withinOr(finished.then(() => 'all 300 reads done'), 60_000, () => `${done} of 300 reads done after 60 s`)).toBe('all 300 reads done');
    expect(await finished).toEqual(reads.map(() => 150));
    expect(await client.db('other').command({ ping: 1 })).toMatchObject({ ok: 1 });
  }, 120_000);

  it('saves the failure streaks of 150 webhooks at once, and answers other clients meanwhile', async () => {
    // FerretDB keeps each statement's read of an update command open until the whole command ends,
    // and each statement's write waits for a connection of its own: one command replacing 100 or
    // more stored streaks took every connection.
    const { db, client } = await usePrivateFerretdb('webhooks');
    const store = new WebhookHealthStore(db);
    const at = Date.now();
    const failing = Array.from({ length: 150 }, (_, n) => ({
      webhookId: `whk_failing${n}`,
      workspace: 'acme',
      state: { resetAt: at - 60_000, failures: [{ id: `dlv_${n}`, at }], lastFailureAt: at, lastResponseStatus: 503, lastError: 'HTTP 503' },
    }));
    for (let n = 0; n < failing.length; n += 20) await store.save(failing.slice(n, n + 20));
    // Every streak is stored: each of these statements finds its webhook's document, and replaces it.
    const later = failing.map((f) => ({ ...f, state: { ...f.state, lastFailureAt: at + 1_000, lastResponseStatus: 500 } }));
    expect(await withinOr(store.save(later).then(() => 'saved'), 30_000, () => 'no answer after 30 s')).toBe('saved');
    const saved = await store.load(failing.map((f) => f.webhookId));
    expect([...saved.values()].map((s) => s.lastResponseStatus)).toEqual(failing.map(() => 500));
    expect(await client.db('other').command({ ping: 1 })).toMatchObject({ ok: 1 });
  }, 60_000);
});
