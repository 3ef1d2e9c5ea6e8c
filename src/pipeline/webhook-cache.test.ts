import { describe, expect, it } from 'vitest';
import type { WebhookLookup, WebhookRecord } from './ports.js';
import { CachedWebhookLookup } from './webhook-cache.js';

function webhook(id: string, events: string[], agent: string | null = null): WebhookRecord {
  const at = new Date(0);
  return { id, workspace: 'acme', url: 'https://example.com', events, agent, description: '', status: 'active', secrets: [], signatureScheme: 'humiris', createdAt: at, updatedAt: at };
}

/** An in-memory lookup that counts its reads. */
function lookup(webhooks: WebhookRecord[]) {
  const state = { webhooks, version: 1, settleMs: 0, listReads: 0, versionReads: 0, idReads: 0, changedAt: undefined as number | undefined };
  const inner: WebhookLookup = {
    getById: async (_workspace, id) => (state.idReads++, state.webhooks.find((w) => w.id === id) ?? null),
    listActive: async () => (state.listReads++, state.webhooks.filter((w) => w.status === 'active')),
    changeMark: async () => (state.versionReads++, { version: state.version, settleMs: state.settleMs }),
    changedAt: () => state.changedAt,
  };
  return { state, inner };
}

describe('CachedWebhookLookup', () => {
  it('matches in memory and reloads only when the version moved', async () => {
    let now = 0;
    const { state, inner } = lookup([webhook('a', ['email.received']), webhook('b', ['*'], 'bot')]);
    const cache = new CachedWebhookLookup(inner, 500, () => now);

    expect((await cache.findMatching('acme', 'email.received', 'bot')).map((w) => w.id)).toEqual(['a', 'b']);
    expect((await cache.findMatching('acme', 'sms.sent', 'other')).map((w) => w.id)).toEqual([]);
    expect([state.listReads, state.versionReads]).toEqual([1, 1]);

    now = 600; // stale: the version is checked, unchanged, so no reload
    await cache.findMatching('acme', 'sms.sent', 'bot');
    expect([state.listReads, state.versionReads]).toEqual([1, 2]);

    state.webhooks.push(webhook('c', ['sms.sent']));
    state.version = 2;
    expect((await cache.findMatching('acme', 'sms.sent', null)).map((w) => w.id)).toEqual([]); // still fresh
    now = 1_200;
    expect((await cache.findMatching('acme', 'sms.sent', null)).map((w) => w.id)).toEqual(['c']);
    expect(state.listReads).toBe(2);
  });

  it('does not remember a failed read', async () => {
    const { inner } = lookup([webhook('a', ['*'])]);
    let fail = true;
    const cache = new CachedWebhookLookup({ ...inner, changeMark: async () => (fail ? Promise.reject(new Error('down')) : { version: 1, settleMs: 0 }) });
    await expect(cache.findMatching('acme', 'sms.sent', null)).rejects.toThrow('down');
    fail = false;
    expect(await cache.findMatching('acme', 'sms.sent', null)).toHaveLength(1);
  });

  it('finds a task\'s webhook in memory while active, and reads it once it is not', async () => {
    let now = 0;
    const { state, inner } = lookup([webhook('a', ['*']), webhook('b', ['*'])]);
    const cache = new CachedWebhookLookup(inner, 500, () => now);
    expect((await cache.webhookFor('acme', 'a'))?.id).toBe('a');
    expect((await cache.webhookFor('acme', 'b'))?.id).toBe('b');
    expect([state.listReads, state.idReads]).toEqual([1, 0]);

    state.webhooks[0] = { ...state.webhooks[0]!, status: 'disabled' };
    state.webhooks.pop();
    state.version = 2;
    now = 600;
    expect((await cache.webhookFor('acme', 'a'))?.status).toBe('disabled');
    expect(await cache.webhookFor('acme', 'b')).toBeNull();
    expect(state.idReads).toBe(2);
  });

  it('sees changes made under one settling mark: reloads at each check until it stood its time, then once more', async () => {
    let now = 0;
    const { state, inner } = lookup([webhook('a', ['*'])]);
    state.settleMs = 1_000;
    const cache = new CachedWebhookLookup(inner, 500, () => now);
    const ids = async () => (await cache.findMatching('acme', 'sms.sent', null)).map((w) => w.id);
    expect(await ids()).toEqual(['a']);
    // The writer adds webhooks under the same mark: no version moves.
    state.webhooks.push(webhook('b', ['*']));
    now = 500;
    expect(await ids()).toEqual(['a', 'b']);
    state.webhooks.push(webhook('c', ['*']));
    now = 1_000;
    expect(await ids()).toEqual(['a', 'b', 'c']);
    expect(state.listReads).toBe(3);
    now = 1_500;
    await ids();
    now = 9_000;
    await ids();
    expect(state.listReads).toBe(3);
  });

  it('makes the read a settling mark still needs once it has stood its time, not on the next event\'s path', async () => {
    let now = 0;
    const { state, inner } = lookup([webhook('a', ['*'])]);
    state.settleMs = 1_000;
    const planned: Array<{ run: () => void; ms: number }> = [];
    const cache = new CachedWebhookLookup(inner, 500, () => now, (run, ms) => void planned.push({ run, ms }));
    const ids = async () => (await cache.findMatching('acme', 'sms.sent', null)).map((w) => w.id);
    expect(await ids()).toEqual(['a']);
    state.webhooks.push(webhook('b', ['*'])); // written under the same mark, landing late
    now = 300;
    await ids();
    expect(planned.map((p) => p.ms)).toEqual([1_001]); // one plan, however many events meanwhile

    now = 1_001;
    planned[0]!.run();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(state.listReads).toBe(2);
    now = 1_400; // within the check interval of that read: served from memory, and it holds b
    expect(await ids()).toEqual(['a', 'b']);
    now = 1_600; // checked again: settled, so no read of the webhooks
    expect(await ids()).toEqual(['a', 'b']);
    expect(state.listReads).toBe(2);
    expect(planned).toHaveLength(1);
  });

  it('reads a change this instance made at once, even within the check interval and under an unmoved mark', async () => {
    let now = 0;
    const { state, inner } = lookup([webhook('a', ['*'])]);
    const cache = new CachedWebhookLookup(inner, 500, () => now);
    const ids = async () => (await cache.findMatching('acme', 'sms.sent', null)).map((w) => w.id);
    expect(await ids()).toEqual(['a']);
    state.webhooks.push(webhook('b', ['*']));
    now = 10;
    // This instance's own change, as its store tells.
    state.changedAt = now;
    now = 11;
    expect(await ids()).toEqual(['a', 'b']);
    expect(state.listReads).toBe(2);
    // Then fresh again until the next check.
    now = 20;
    await ids();
    expect([state.listReads, state.versionReads]).toEqual([2, 2]);
  });

  it('does not take a read begun before the change as holding it', async () => {
    let now = 0;
    const { state, inner } = lookup([webhook('a', ['*'])]);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // The first read sees the store as it was when it began, and ends only once released.
    const slow: WebhookLookup = {
      ...inner,
      listActive: async (workspace) => {
        const seen = await inner.listActive(workspace);
        if (state.listReads === 1) await held;
        return seen;
      },
    };
    const cache = new CachedWebhookLookup(slow, 500, () => now);
    const before = cache.findMatching('acme', 'sms.sent', null).then((found) => found.map((w) => w.id));
    while (state.listReads === 0) await new Promise((resolve) => setImmediate(resolve));
    state.webhooks.push(webhook('b', ['*']));
    now = 1;
    state.changedAt = now;
    now = 2;
    const after = cache.findMatching('acme', 'sms.sent', null).then((found) => found.map((w) => w.id));
    release();
    expect(await before).toEqual(['a']);
    expect(await after).toEqual(['a', 'b']);
    expect(state.listReads).toBe(2);
  });

  it('reads again for a record received after its copy was read, once for all the records received together', async () => {
    let now = 0;
    const { state, inner } = lookup([webhook('a', ['*'])]);
    const cache = new CachedWebhookLookup(inner, 500, () => now);
    const ids = async (readAfter?: number) => (await cache.findMatching('acme', 'sms.sent', null, readAfter)).map((w) => w.id);
    expect(await ids()).toEqual(['a']);
    // Another instance adds a webhook under the same mark, then a record that says so arrives at 10.
    state.webhooks.push(webhook('b', ['*']));
    now = 20;
    expect(await ids(10)).toEqual(['a', 'b']);
    expect(await ids(10)).toEqual(['a', 'b']);
    expect(state.listReads).toBe(2);
    // Without the record's word, the copy stands until the next check.
    state.webhooks.push(webhook('c', ['*']));
    now = 30;
    expect(await ids()).toEqual(['a', 'b']);
  });
});

