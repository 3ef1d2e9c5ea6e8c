import { describe, expect, it } from 'vitest';
import { ALL_ROLES } from '../../src/config/config.js';
import { startTestApi } from '../helpers/api.js';
import { startReceiver } from '../helpers/receiver.js';
import { settle } from '../helpers/wait.js';

const api = await startTestApi('replay', { WEBHOOKS_REQUEST_TIMEOUT: '3s' }, [...ALL_ROLES]);

/** A webhook to `url` and one delivered test event. */
async function deliveredTestEvent(key: string, url: string) {
  const webhook = await api.rest('POST', '/v1/webhooks', key, { url, events: ['*'] });
  expect(webhook.status).toBe(201);
  const test = await api.rest('POST', `/v1/webhooks/${webhook.json.id}/test`, key, {});
  expect(test.status).toBe(200);
  const delivery = await recorded(key, webhook.json.id, test.json.id, (d) => d.status === 'succeeded');
  return { webhookId: webhook.json.id as string, deliveryId: delivery.id as string };
}

/** The delivery once `predicate` holds for it as the API shows it. */
async function recorded(key: string, webhookId: string, deliveryId: string, predicate: (d: any) => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await api.rest('GET', `/v1/webhooks/${webhookId}/deliveries/${deliveryId}`, key);
    if (res.status === 200 && predicate(res.json)) return res.json;
    if (Date.now() > deadline) throw new Error(`delivery never matched: ${JSON.stringify(res.json)}`);
    await settle(100);
  }
}

describe('RetryDelivery', () => {
  it('makes one send for 20 concurrent replays, and each later replay gets the next attempt number', async () => {
    // The first replay's request hangs until it times out (3 s): the others all come while it is in progress.
    const receiver = await startReceiver((_request, index) => (index === 1 ? 'hang' : { status: 200 }));
    const key = await api.newKey();
    const { webhookId, deliveryId } = await deliveredTestEvent(key, receiver.url);
    expect(receiver.requests).toHaveLength(1);

    const retry = () => api.rest('POST', `/v1/webhooks/${webhookId}/deliveries/${deliveryId}/retry`, key, {});
    const answers = await Promise.all(Array.from({ length: 20 }, retry));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    for (const refused of answers.filter((a) => a.status !== 200)) {
      expect(refused.json.error).toEqual({ code: 'failed_precondition', message: 'a replay of this delivery is already in progress' });
    }
    await receiver.waitFor(2);
    expect(receiver.requests[1]!.headers['x-humiris-attempt']).toBe('2');

    // Once the replay is recorded (timed out), the next one is attempt 3; there was no other send.
    await recorded(key, webhookId, deliveryId, (d) => d.attempt_count === 2, 30_000);
    expect(receiver.requests).toHaveLength(2);
    expect((await retry()).status).toBe(200);
    await receiver.waitFor(3);
    expect(receiver.requests[2]!.headers['x-humiris-attempt']).toBe('3');
    const delivery = await recorded(key, webhookId, deliveryId, (d) => d.attempt_count === 3);
    expect(delivery.attempts.map((a: { number: number }) => a.number)).toEqual([1, 2, 3]);
  });
});

describe('deliveries of a deleted webhook', () => {
  it('stay readable in its workspace, only there, and are not sent again', async () => {
    const receiver = await startReceiver();
    const [key, intruder] = [await api.newKey(), await api.newKey()];
    const { webhookId, deliveryId } = await deliveredTestEvent(key, receiver.url);
    expect((await api.rest('DELETE', `/v1/webhooks/${webhookId}`, key)).status).toBe(200);
    expect((await api.rest('GET', `/v1/webhooks/${webhookId}`, key)).status).toBe(404);

    const got = await api.rest('GET', `/v1/webhooks/${webhookId}/deliveries/${deliveryId}`, key);
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({ id: deliveryId, webhook_id: webhookId, status: 'succeeded', attempt_count: 1 });
    const list = await api.rest('GET', `/v1/webhooks/${webhookId}/deliveries`, key);
    expect(list.status).toBe(200);
    expect(list.json.data.map((d: { id: string }) => d.id)).toEqual([deliveryId]);
    expect((await api.rest('GET', `/v1/webhooks/${webhookId}/deliveries?status=failed`, key)).json.data).toEqual([]);

    const retried = await api.rest('POST', `/v1/webhooks/${webhookId}/deliveries/${deliveryId}/retry`, key, {});
    expect(retried.status).toBe(404);
    expect(retried.json.error.code).toBe('not_found');

    // Another workspace sees nothing of them, and an id that never existed is not_found.
    expect((await api.rest('GET', `/v1/webhooks/${webhookId}/deliveries/${deliveryId}`, intruder)).status).toBe(404);
    expect((await api.rest('GET', `/v1/webhooks/${webhookId}/deliveries`, intruder)).status).toBe(404);
    expect((await api.rest('GET', `/v1/webhooks/whk_${'0'.repeat(24)}/deliveries`, key)).status).toBe(404);
    await settle(500);
    expect(receiver.requests).toHaveLength(1);
  });
});

describe('webhook URLs', () => {
  it('are stored as the sender reads them, so what is shown is where requests go', async () => {
    const receiver = await startReceiver();
    const key = await api.newKey();
    const { origin } = new URL(receiver.url);
    // The WHATWG parser, which the sender uses, reads a backslash as a slash: the host is 127.0.0.1, not 10.0.0.1.
    const created = await api.rest('POST', '/v1/webhooks', key, { url: `${origin}\\@10.0.0.1/hook`, events: ['*'] });
    expect(created.status).toBe(201);
    expect(created.json.url).toBe(`${origin}/@10.0.0.1/hook`);
    expect((await api.rest('GET', `/v1/webhooks/${created.json.id}`, key)).json.url).toBe(`${origin}/@10.0.0.1/hook`);
    const patched = await api.rest('PATCH', `/v1/webhooks/${created.json.id}`, key, { url: 'HTTPS://Example.COM:443/a/./b/../c' });
    expect(patched.json.url).toBe('https://example.com/a/c');
  });
});
