import { describe, expect, it } from 'vitest';
import { ALL_ROLES } from '../../src/config/config.js';
import { newDeliveryId } from '../../src/domain/ids.js';
import { matchedDelivery } from '../../src/pipeline/delivery-state.js';
import { DeliveryStore } from '../../src/store/delivery-store.js';
import { startTestApi } from '../helpers/api.js';
import { startReceiver } from '../helpers/receiver.js';

// Every role in one process, as the service runs by default: the API's reads and the pipeline's
// writes share its store connections and the store's cores.
const api = await startTestApi('read-isolation', {}, [...ALL_ROLES]);

const FILL = 20_000;
const READERS = 60;

describe('delivery reads of one workspace', () => {
  it("do not hold up another workspace's deliveries, and the reader gets answers or a clear 429", { timeout: 180_000 }, async () => {
    const workspace = `busy-${Date.now().toString(36)}`;
    const busy = await api.newKey(workspace);
    const webhook = await api.rest('POST', '/v1/webhooks', busy, { url: 'http://127.0.0.1:9/never', events: ['*'] });
    expect(webhook.status).toBe(201);
    // A busy hour for one webhook, written straight to the store: every page of it scans this many
    // deliveries on FerretDB (seconds each).
    const store = new DeliveryStore(api.db);
    const createdAt = new Date();
    await Promise.all(
      Array.from({ length: FILL }, (_, n) => {
        const record = matchedDelivery({ id: newDeliveryId(createdAt.getTime()), workspace, webhookId: webhook.json.id, eventId: `evt_busy_${n}`, eventType: 'sms.sent', agent: '', payload: '{}', createdAt });
        return store.insertPending([record], `fill:0:${n}`, 'digest');
      }),
    );
    await store.close();

    const other = await api.newKey();
    const otherReceiver = await startReceiver();
    expect((await api.rest('POST', '/v1/webhooks', other, { url: otherReceiver.url, events: ['*'] })).status).toBe(201);

    // The busy workspace keeps READERS pages of that webhook asked for at once.
    let stopping = false;
    const stop = new AbortController();
    const statuses: number[] = [];
    const refusals = new Set<string>();
    const readers = Array.from({ length: READERS }, async () => {
      while (!stopping) {
        try {
          const res = await fetch(`${api.baseUrl}/v1/webhooks/${webhook.json.id}/deliveries?limit=50`, { headers: { authorization: `Bearer ${busy}` }, signal: stop.signal });
          const body = (await res.json()) as { error?: { message: string } };
          statuses.push(res.status);
          if (res.status === 429) refusals.add(`${body.error?.message} (Retry-After: ${res.headers.get('retry-after')})`);
        } catch (error) {
          if (!stop.signal.aborted) throw error;
        }
      }
    });
    let delivered = false;
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const started = Date.now();
      for (let n = 0; n < 10; n++) expect((await api.rest('POST', '/v1/events', other, { type: 'sms.sent', data: { n } })).status).toBe(200);
      await otherReceiver.waitFor(10, 20_000);
      // 1.1 s with the bound; without it none had arrived after 20 s: the busy workspace's pages
      // held every store connection (60 readers, 50 connections) and the store's cores.
      expect(Date.now() - started).toBeLessThan(15_000);
      delivered = true;
    } finally {
      // The pages asked for so far are answered (or refused); without the bound they would take minutes.
      stopping = true;
      if (!delivered) stop.abort();
      await Promise.all(readers);
    }
    // Pages were served, and what was refused said why.
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    expect(refusals.size).toBeGreaterThan(0);
    for (const message of refusals) expect(message).toMatch(/^(too many reads at once for this workspace.*\(Retry-After: 1\)|the store is busy with other reads.*\(Retry-After: 10\))$/);
  });
});
