import { describe, expect, it } from 'vitest';
import { ALL_ROLES } from '../../src/config/config.js';
import { DeliveryStore } from '../../src/store/delivery-store.js';
import { startTestApi } from '../helpers/api.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { uniqueName, useKafka } from '../helpers/servers.js';
import { settle, until } from '../helpers/wait.js';

// One retry a second after the first attempt: a delivery to a failing endpoint is `failed` within seconds.
const api = await startTestApi('recovery', { WEBHOOKS_RETRY_SCHEDULE: '1s', WEBHOOKS_REQUEST_TIMEOUT: '2s' }, [...ALL_ROLES]);
const kafka = await useKafka('recovery-clients');
const producer = await kafka.producer();
const store = new DeliveryStore(api.db);

/** A workspace with one webhook of `email.received` to a receiver that answers 500 until told otherwise. */
async function failingWebhook() {
  const workspace = uniqueName('rcv').toLowerCase().replace(/_/g, '-').slice(0, 60);
  const key = await api.newKey(workspace);
  const receiver = await startReceiver(() => ({ status: 500 }));
  const created = await api.rest('POST', '/v1/webhooks', key, { url: receiver.url, events: ['email.received'] });
  expect(created.status).toBe(201);
  return { workspace, key, receiver, webhookId: created.json.id as string };
}

/** Produces `count` events whose ids start with `idPrefix`, and waits until every delivery of them is `failed`. */
async function failedDeliveries(workspace: string, idPrefix: string, count: number) {
  const messages = Array.from({ length: count }, (_, i) => ({
    key: workspace,
    value: JSON.stringify({ id: `${idPrefix}${i}`, type: 'email.received', workspace, data: { n: i } }),
  }));
  for (let i = 0; i < messages.length; i += 250) {
    await producer.send({ topic: `${api.config.topicPrefix}.events.email.received`, messages: messages.slice(i, i + 250) });
  }
  await until(
    `${count} failed deliveries of ${idPrefix}`,
    async () => ((await store.settlement(idPrefix)).byStatus.failed === count ? true : undefined),
    180_000,
  );
}

const succeed = (receiver: Receiver) => (receiver.reply = () => ({ status: 200 }));
/** Requests that came after the first `from`, by delivery id. */
const deliveryIdsSince = (receiver: Receiver, from: number) => receiver.requests.slice(from).map((r) => String(r.headers['x-humiris-delivery']));

async function recover(key: string, webhookId: string, window: { since: Date; until?: Date }) {
  const body = { since: window.since.toISOString(), ...(window.until ? { until: window.until.toISOString() } : {}) };
  return api.rest('POST', `/v1/webhooks/${webhookId}/recover`, key, body);
}

async function finished(key: string, webhookId: string, id: string) {
  return until(
    `recovery ${id} done`,
    async () => {
      const res = await api.rest('GET', `/v1/webhooks/${webhookId}/recoveries/${id}`, key);
      expect(res.status).toBe(200);
      return res.json.status === 'done' ? res.json : undefined;
    },
    120_000,
  );
}

describe('RecoverDeliveries', () => {
  it('sends every one of 1,000 failed deliveries once more, with counts, and the same window again is the same job', async () => {
    const { workspace, key, receiver, webhookId } = await failingWebhook();
    const since = new Date();
    await failedDeliveries(workspace, 'evt_bulk.', 1_000);
    // The first attempt and its one retry each.
    expect(receiver.requests).toHaveLength(2_000);

    succeed(receiver);
    const before = receiver.requests.length;
    const started = Date.now();
    const answer = await recover(key, webhookId, { since });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ webhook_id: webhookId, since: since.toISOString() });
    expect(answer.json.id).toMatch(/^rcv_[0-9A-Za-z]{24}$/);
    expect(['running', 'done']).toContain(answer.json.status);
    // Answered at once: the job runs in the background.
    expect(Date.parse(answer.json.until)).toBeGreaterThanOrEqual(since.getTime());

    const job = await finished(key, webhookId, answer.json.id);
    expect(job).toMatchObject({ found: 1_000, queued: 1_000, skipped: 0, status: 'done' });
    expect(job.finished_at).toBeTruthy();
    await receiver.waitFor(before + 1_000, 120_000);
    const recoveredMs = Date.now() - started;
    const sent = deliveryIdsSince(receiver, before);
    expect(new Set(sent).size).toBe(1_000);
    expect(receiver.requests.slice(before).every((r) => r.headers['x-humiris-attempt'] === '3')).toBe(true);
    await until('1,000 deliveries succeeded', async () => ((await store.settlement('evt_bulk.')).byStatus.succeeded === 1_000 ? true : undefined), 60_000);
    console.log(`recovered 1,000 failed deliveries in ${recoveredMs} ms (request to last receipt)`);

    // The same window again: the same job, nothing sent a second time.
    const again = await recover(key, webhookId, { since });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ id: answer.json.id, status: 'done', found: 1_000, queued: 1_000, skipped: 0, until: answer.json.until });
    await settle(3_000);
    expect(receiver.requests).toHaveLength(before + 1_000);
  }, 600_000);

  it('recovers only deliveries created in [since, until), and a different window is a different job', async () => {
    const { workspace, key, receiver, webhookId } = await failingWebhook();
    await failedDeliveries(workspace, 'evt_early.', 5);
    const since = new Date();
    await failedDeliveries(workspace, 'evt_inside.', 5);
    const end = new Date();
    // Deliveries are dated by their records' write time: the late ones must be written after the
    // millisecond the wider window below (end + 1 ms) still takes in.
    await settle(10);
    await failedDeliveries(workspace, 'evt_late.', 5);
    const inside = new Set(((await store.settlement('evt_inside.')).unsettled).map((d) => d.id));
    expect(inside.size).toBe(5);

    succeed(receiver);
    const before = receiver.requests.length;
    const answer = await recover(key, webhookId, { since, until: end });
    expect(answer.status).toBe(200);
    expect(answer.json.until).toBe(end.toISOString());
    const job = await finished(key, webhookId, answer.json.id);
    expect(job).toMatchObject({ found: 5, queued: 5, skipped: 0 });
    await receiver.waitFor(before + 5);
    // A receipt comes before its outcome is stored (outcome writes are batched): the next job must see them succeeded.
    await until('the recovered deliveries shown succeeded', async () => ((await store.settlement('evt_inside.')).byStatus.succeeded === 5 ? true : undefined), 60_000);
    expect(new Set(deliveryIdsSince(receiver, before))).toEqual(inside);

    // The same window is the same job; another end is another job (which finds no failed delivery inside it any more).
    expect((await recover(key, webhookId, { since, until: end })).json.id).toBe(answer.json.id);
    const wider = await recover(key, webhookId, { since, until: new Date(end.getTime() + 1) });
    expect(wider.json.id).not.toBe(answer.json.id);
    expect(await finished(key, webhookId, wider.json.id)).toMatchObject({ found: 0, queued: 0 });
    await settle(1_000);
    expect(receiver.requests).toHaveLength(before + 5);
  }, 300_000);

  it('refuses a window without a start or with its end first, and shows a job to its own workspace only', async () => {
    const { key, webhookId } = await failingWebhook();
    const other = await api.newKey();
    const noSince = await api.rest('POST', `/v1/webhooks/${webhookId}/recover`, key, {});
    expect(noSince.status).toBe(400);
    expect(noSince.json.error).toMatchObject({ code: 'invalid_argument', field: 'since' });
    const backwards = await recover(key, webhookId, { since: new Date(), until: new Date(Date.now() - 60_000) });
    expect(backwards.status).toBe(400);
    expect(backwards.json.error).toMatchObject({ code: 'invalid_argument', field: 'until' });

    const job = await recover(key, webhookId, { since: new Date(Date.now() - 60_000) });
    expect(job.status).toBe(200);
    expect((await recover(other, webhookId, { since: new Date(Date.now() - 60_000) })).status).toBe(404);
    expect((await api.rest('GET', `/v1/webhooks/${webhookId}/recoveries/${job.json.id}`, other)).status).toBe(404);
    expect((await api.rest('GET', `/v1/webhooks/${webhookId}/recoveries/rcv_${'0'.repeat(24)}`, key)).status).toBe(404);
    // Over gRPC as well: the same handlers.
    const rpc = api.webhooks('grpc-h2', key);
    const got = await rpc.getRecovery({ webhookId, id: job.json.id });
    expect(got.id).toBe(job.json.id);
  });
});
